"""Is the broken 1/N law at Ñ = 1 with random masses real? An independent check.

The exact residue sum gives, for random masses (δ = 0.1, k = 0.1, γ = 1) without the Kac
factor, an N·J that keeps growing with N (fitted α ≈ 0.87 over N ≥ 400, not 1). This script
recomputes J for the same realizations with scipy's dense Lyapunov solver on the 2N state
space (O(N³), a different method: no poles, no frequency integral) and prints both, the
disorder mean of N·J per size, and the local slope −d ln J / d ln N. The Kac curve (Ñ = N − 1)
is printed alongside as the control (there α → 1).

Usage: python scripts/check_ntilde1_disorder.py [--sizes 10,35,123,433,811] [--realizations 4]
       [--lyapunov-max 811]   (scipy's solver takes ~15 s at N = 811 on 2 cores)
"""

import argparse
import time

import numpy as np

import meanfield_jax as mf
from meanfield_jax import masses as mass_configs
from _scipy_lyapunov import scipy_flux


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,35,123,433,811,1520,2848")
    ap.add_argument("--realizations", type=int, default=4)
    ap.add_argument("--lyapunov-max", type=int, default=811,
                    help="largest N also solved with scipy's Lyapunov solver")
    ap.add_argument("--k0", type=float, default=0.02)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    k, gamma, delta = 0.1, 1.0, 0.1
    print(f"random masses δ = {delta}, k = {k}, k0 = {a.k0}, γ = {gamma}, T_L − T_R = 1, "
          f"{a.realizations} realizations (masses.realization_key(0, N, r))")
    print(f"{'Ñ':>5} {'N':>6} {'mean N·J':>10} {'± stderr':>9} {'local α':>8} "
          f"{'max |J_res − J_lyap|/J':>24} {'t_lyap/chain':>13}")
    for label, n_tilde in (("N−1", "kac"), ("1", 1.0)):
        prev = None
        for n in sizes:
            nj, worst, t_lyap = [], 0.0, 0.0
            for r in range(a.realizations):
                m = np.asarray(mass_configs.uniform(mass_configs.realization_key(0, n, r), n,
                                                    1.0, delta))
                res = mf.heat_flux_with_error(mf.MeanFieldChain(
                    m, k=k, k0=a.k0, n_tilde=n_tilde, gamma=gamma))
                if not bool(res.converged):
                    raise RuntimeError(f"residue sum not converged at N = {n}, r = {r}")
                j = float(res.flux)
                nj.append(n * j)
                if n <= a.lyapunov_max:
                    nt = float(n - 1) if n_tilde == "kac" else n_tilde
                    t0 = time.perf_counter()
                    j_lyap = scipy_flux(m, k, a.k0, nt, gamma)
                    t_lyap = time.perf_counter() - t0
                    worst = max(worst, abs(j - j_lyap) / j)
            mean = float(np.mean(nj))
            err = float(np.std(nj, ddof=1) / np.sqrt(len(nj))) if len(nj) > 1 else 0.0
            slope = "" if prev is None else f"{1 - np.log(mean / prev[1]) / np.log(n / prev[0]):8.3f}"
            check = f"{worst:24.1e}" if n <= a.lyapunov_max else f"{'(not run)':>24}"
            timing = f"{t_lyap:12.1f}s" if n <= a.lyapunov_max else ""
            print(f"{label:>5} {n:>6} {mean:10.4f} {err:9.4f} {slope:>8} {check} {timing}",
                  flush=True)
            prev = (n, mean)


if __name__ == "__main__":
    main()
