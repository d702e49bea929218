"""Issue 27 item 2: T_n of networks with modes float64 cannot resolve, as a user calls it.

Ordered power-law chains (identical masses; reflection-symmetric): T_n converged and
T_n + T_{N+1−n} = T_L + T_R within the estimates. Disordered nearest-neighbour chains
(masses uniform in [1 − δ, 1 + δ]): T_n of ``method="auto"`` (the secular solver below
N = 1024, ``"transfer"`` from there on), its status, and the two conventions
``decoupled="steady" | "rest"`` with the ``unresolved`` share. Prints one line per case;
the extended-precision references are in tests/test_ill_resolved_modes.py (slow tests).

    PYTHONPATH=$PWD python scripts/check_ill_resolved_modes.py [--sizes 100,300,1000]
        [--nn-sizes 300,3000]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import meanfield_jax as mf  # noqa: E402
from meanfield_jax import networks  # noqa: E402
from meanfield_jax._transport import TRANSFER_FROM, resolve_method  # noqa: E402


def _ints(text):
    return [int(x) for x in text.split(",") if x]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_ints, default=[100, 300, 1000])
    parser.add_argument("--alphas", type=lambda s: [float(x) for x in s.split(",")],
                        default=[0.5, 1.0, 2.0])
    parser.add_argument("--nn-sizes", type=_ints, default=[300, 3000])
    args = parser.parse_args()

    for n in args.sizes:
        for alpha in args.alphas:
            net = networks.power_law(np.ones(n), alpha, k=1.0, gamma=1.0)
            start = time.perf_counter()
            r = mf.local_temperatures_with_error(net)
            t = np.asarray(r.temperatures)
            e = np.asarray(r.error_estimate)
            excess = np.max(np.abs(t + t[::-1] - 1.0) - (e + e[::-1]))
            print(f"power_law N={n:5d} alpha={alpha:3.1f}: converged={bool(r.converged)} "
                  f"max estimate {e.max():.1e}  max(|T_n+T_N+1-n - 1| - estimates) "
                  f"{excess:.1e}  mid T {t[n // 2]:.10f}  ({time.perf_counter() - start:.1f} s)",
                  flush=True)

    for n in args.nn_sizes:
        for delta in (0.1, 0.8):
            m = np.random.default_rng(0).uniform(1.0 - delta, 1.0 + delta, n)
            net = networks.nearest_neighbour(m, k=1.0, gamma=1.0)
            start = time.perf_counter()
            steady = mf.local_temperatures_with_error(net)
            seconds = time.perf_counter() - start
            line = (f"nearest_neighbour N={n:5d} delta={delta}: method="
                    f"{resolve_method(net, 'auto')} converged={bool(steady.converged)} "
                    f"max estimate {np.max(steady.error_estimate):.1e} ({seconds:.1f} s)")
            if n < TRANSFER_FROM:
                rest = mf.local_temperatures_with_error(net, decoupled="rest")
                transfer = mf.local_temperatures_with_error(net, method="transfer")
                gap = steady.temperatures - rest.temperatures - steady.unresolved
                line += (f"; max |unresolved| {np.max(np.abs(steady.unresolved)):.2f}, "
                         f"max |steady - rest - unresolved| {np.max(np.abs(gap)):.1e}, "
                         f"max |steady - transfer| "
                         f"{np.max(np.abs(steady.temperatures - transfer.temperatures)):.1e}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
