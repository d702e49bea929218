"""Benchmark: exact local temperatures (Eq. 31, issue 6) against scipy's Lyapunov solver.

Random masses (δ = 0.1), k = 0.1, k0 = 0.02, Kac, T_L = 1.5, T_R = 0.5. For each N:
``mf.local_temperatures`` (residues, O(N²); first call with compilation and a warm call)
and, where it runs (default N ≤ 400), scipy.linalg.solve_continuous_lyapunov on the 2N
state space (O(N³)) — whose error at this N is itself large, see the equilibrium column:
with T_L = T_R = 1 every T_n is exactly 1.

Usage: python scripts/bench_temperatures.py [--sizes 400 1000 10000] [--scipy-max 400]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

import meanfield_jax as mf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _scipy_lyapunov import scipy_temperatures  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[400, 1000, 10000])
    p.add_argument("--scipy-max", type=int, default=400)
    args = p.parse_args()
    k, k0, gamma = 0.1, 0.02, 1.0
    print(f"local temperatures, random masses δ = 0.1 ({jax.devices()[0].platform}, "
          f"{os.cpu_count()} cores)")
    for n in args.sizes:
        masses = np.asarray(jax.random.uniform(jax.random.PRNGKey(n), (n,), minval=0.9, maxval=1.1))
        chain = mf.MeanFieldChain(masses, k=k, k0=k0, gamma=gamma, t_left=1.5, t_right=0.5)
        t = time.perf_counter()
        res = jax.block_until_ready(mf.local_temperatures_with_error(chain))
        first = time.perf_counter() - t
        eq_chain = chain.replace(t_left=1.0, t_right=1.0)
        warm = np.inf  # best of 3 warm calls (same shapes: no recompilation)
        for _ in range(3 if n <= 1000 else 1):
            t = time.perf_counter()
            eq = jax.block_until_ready(mf.local_temperatures(eq_chain))
            warm = min(warm, time.perf_counter() - t)
        temps = np.asarray(res.temperatures)
        j = float(mf.heat_flux(chain))
        print(f"N = {n:6d}: first call {first:6.2f} s, warm {warm:6.2f} s; equilibrium max|T_n − 1| "
              f"= {np.max(np.abs(np.asarray(eq) - 1)):.1e}; {temps.min():.4f} ≤ T_n ≤ "
              f"{temps.max():.4f}; bulk mean {temps[1:-1].mean():.4f}; "
              f"|γ(T_L−T_1)/m_1 − J|/J = {abs(gamma * (1.5 - temps[0]) / masses[0] - j) / j:.1e}",
              flush=True)
        if n <= args.scipy_max:
            t = time.perf_counter()
            t_scipy = scipy_temperatures(masses, k, k0, n - 1, gamma, 1.5, 0.5)
            ts = time.perf_counter() - t
            eq_scipy = scipy_temperatures(masses, k, k0, n - 1, gamma, 1.0, 1.0)
            print(f"    scipy Lyapunov {ts:7.2f} s: ratio vs warm {ts / warm:6.0f}×, vs first "
                  f"{ts / first:5.1f}×; max|ΔT_n| = {np.max(np.abs(t_scipy - temps)):.1e}; scipy "
                  f"equilibrium error {np.max(np.abs(eq_scipy - 1)):.1e}; min T_n(scipy) = "
                  f"{t_scipy.min():.4f}", flush=True)


if __name__ == "__main__":
    main()
