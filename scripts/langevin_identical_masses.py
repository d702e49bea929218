"""Identical masses: the bulk keeps its initial energy (paper, Sec. III B), and the dt² bias.

Runs ``meanfield_jax.simulate`` for a mean-field chain of identical masses
(k = 0.1, k0 = 0.02, γ = m = 1, Kac factor, T_L = 1, T_R = 0):

1. from rest: reproduces the paper's particular solution (bulk T_n = 1/(2(N − 2)) ~ 1/N here,
   far below (T_L + T_R)/2), because N − 3 bulk modes never couple to the baths;
2. from a Gibbs state at T0 = (T_L + T_R)/2: those modes keep their energy, bulk
   T_n ≈ particular + T0 (1 − 1/(N − 2)) ≈ the mean bath temperature;
3. the flux at dt, dt/2, dt/4 and its Richardson extrapolation (4 J(h/2) − J(h))/3 (O(dt²) bias).

Exact values: the stationary covariance on the damped invariant subspace (SciPy), as in
tests/test_langevin.py. Usage: python scripts/langevin_identical_masses.py [--quick]
"""

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import meanfield_jax as mf  # noqa: E402
from test_langevin import exact_discrete, particular_solution  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--quick", action="store_true", help="fewer trajectories")
    a = ap.parse_args()
    n, t0 = a.n, 0.5
    chain = mf.MeanFieldChain(np.ones(n), k=0.1, k0=0.02, t_left=1.0, t_right=0.0)
    dt = 0.1
    tau = mf.relaxation_time(chain)
    burn = int(8 * tau / dt)
    n_traj = 256 if a.quick else 1024
    temps, jl, _ = particular_solution(chain)
    print(f"N = {n}, relaxation time of the coupled modes τ = {tau:.1f}, burn-in {burn * dt:.0f}")
    print(f"particular solution: T_1 = {temps[0]:.4f}, bulk T_n = {temps[1]:.5f} "
          f"(1/(2(N-2)) = {1 / (2 * (n - 2)):.5f}), T_N = {temps[-1]:.4f}, J = {jl:.5f}")
    for initial in ("rest", "thermal"):
        res = mf.simulate(chain, jax.random.PRNGKey(0), n_traj, dt, burn + 20_000, burn,
                       initial=initial, t_initial=t0)
        expect = temps.copy()
        if initial == "thermal":
            expect[1:-1] += t0 * (1 - 1 / (n - 2))
        bulk = res.temperatures[1:-1].mean()
        bulk_err = np.sqrt(np.mean(res.temperatures_stderr[1:-1] ** 2) / (n - 2))  # indicative
        print(f"from {initial:7s}: bulk <T_n> = {bulk:.4f}~{bulk_err:.4f} (exact {expect[1]:.4f}), "
              f"T_1 = {res.temperatures[0]:.4f}±{res.temperatures_stderr[0]:.4f} "
              f"(exact {expect[0]:.4f}), J_L = {res.flux_left:.5f}±{res.flux_left_stderr:.5f}, "
              f"J_R = {res.flux_right:.5f}±{res.flux_right_stderr:.5f} (exact {jl:.5f})")
    print("time-step error of BAOAB (exact discrete stationary state vs exact continuous):")
    prev = None
    for h in (0.4, 0.2, 0.1):
        t_d, j_d, _ = exact_discrete(chain, h, singular=True)
        line = f"  dt = {h:4}: J(dt) - J = {j_d - jl:+.3e}, max|T(dt) - T| = {np.max(np.abs(t_d - temps)):.3e}"
        if prev is not None:
            line += f", Richardson (4 J(dt) - J(2dt))/3 - J = {(4 * j_d - prev) / 3 - jl:+.1e}"
        print(line)
        prev = j_d


if __name__ == "__main__":
    main()
