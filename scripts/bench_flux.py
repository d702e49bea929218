"""Benchmark: exact heat flux (issue 2) against scipy's Lyapunov solver, same run.

Random masses (δ = 0.1, k = 0.1, k0 = 0.02, Kac) at N = 100, 1000, 10000:
  * ``mf.heat_flux`` (residue sum, O(N²)): first call (compile included) and warm call;
  * scipy.linalg.solve_continuous_lyapunov on the 2N state space (O(N³)), where it runs
    (default up to N = 1000), J = γ(T_L − T_1)/m_1;
  * at N ≤ 300 also the refined Lyapunov oracle of tests/reference_numpy.py (long-double
    iterative refinement), the accuracy reference: plain scipy loses digits as N grows.

Usage: python scripts/bench_flux.py [--sizes 100 1000 10000] [--scipy-max 1000]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

import meanfield_jax as mf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _scipy_lyapunov import scipy_flux  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import reference_numpy as ref  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--scipy-max", type=int, default=1000)
    p.add_argument("--refined-max", type=int, default=300)
    args = p.parse_args()
    k, k0, gamma = 0.1, 0.02, 1.0
    print(f"heat flux, random masses δ = 0.1, k = {k}, k0 = {k0}, Kac, γ = {gamma} "
          f"({jax.devices()[0].platform}, {os.cpu_count()} cores)")
    for n in args.sizes:
        masses = np.asarray(jax.random.uniform(jax.random.PRNGKey(n), (n,), minval=0.9, maxval=1.1))
        chain = mf.MeanFieldChain(masses, k=k, k0=k0, n_tilde="kac", gamma=gamma)
        t = time.perf_counter()
        res = mf.heat_flux_with_error(chain)
        jax.block_until_ready(res)
        first = time.perf_counter() - t
        other = chain.replace(masses=masses[::-1].copy())
        warm = np.inf  # best of 3 warm calls (new values, same shapes: no recompilation)
        for _ in range(3 if n <= 1000 else 1):
            t = time.perf_counter()
            jax.block_until_ready(mf.heat_flux_with_error(other))
            warm = min(warm, time.perf_counter() - t)
        j = float(res.flux)
        line = (f"N = {n:6d}: J = {j:.15e} ± {float(res.error_estimate):.0e}  "
                f"first call {first:6.2f} s, warm {warm:7.3f} s")
        print(line, flush=True)
        if n <= args.scipy_max:
            t = time.perf_counter()
            j_scipy = scipy_flux(masses, k, k0, n - 1, gamma)
            t_scipy = time.perf_counter() - t
            print(f"    scipy Lyapunov {t_scipy:8.2f} s  ratio vs warm {t_scipy / warm:8.0f}×, "
                  f"vs first call {t_scipy / first:6.1f}×;  |ΔJ|/J = {abs(j_scipy - j) / j:.1e}",
                  flush=True)
        if n <= args.refined_max:
            kmat = ref.chain_stiffness(masses, k, k0, "kac")
            t = time.perf_counter()
            j_ref = ref.lyapunov_steady_state(masses, kmat, gamma, 1.0, 0.0)["flux"]
            t_ref = time.perf_counter() - t
            print(f"    refined Lyapunov oracle {t_ref:6.2f} s;  |ΔJ|/J = {abs(j_ref - j) / j:.1e}",
                  flush=True)


if __name__ == "__main__":
    main()
