"""Time the O(N) residue flux or T_n (``_poles_fast``) against the O(N²) residue path.

Random masses δ = 0.1, Kac, k0 = 0.02 (issue 15's benchmark chain). Warm timings, best of
``--repeat`` within one run; prints both times, their ratio, the difference of the results
(J: relative; T_n: max absolute) and the fast path's error estimate (J: relative; T_n: the
largest), and the empirical exponent of each path between sizes.

    PYTHONPATH=. python scripts/bench_flux_fast.py --sizes 10000 30000 100000
    PYTHONPATH=. python scripts/bench_flux_fast.py --temperatures --sizes 10000 30000 100000
"""

import argparse
import time

import jax
import numpy as np

import meanfield_jax as mf
from meanfield_jax._poles import flux_by_residues, temperatures_by_residues
from meanfield_jax._poles_fast import flux_by_residues_fast, temperatures_by_residues_fast


def _best(fn, chain, repeat):
    out = jax.block_until_ready(fn(chain))  # compile
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(chain))
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-repeat", type=int, default=1)
    parser.add_argument("--no-reference-above", type=int, default=10**9,
                        help="skip the O(N²) path above this N")
    parser.add_argument("--temperatures", action="store_true",
                        help="time T_n (local_temperatures) instead of J")
    args = parser.parse_args()
    if args.temperatures:
        fast = jax.jit(temperatures_by_residues_fast)
        ref = jax.jit(temperatures_by_residues)
    else:
        fast, ref = jax.jit(flux_by_residues_fast), jax.jit(flux_by_residues)
    rows = []
    diff_name, est_name = ("max|ΔT_n|", "max est") if args.temperatures else ("|ΔJ|/J", "est/J")
    print(f"{'N':>8} {'fast [s]':>9} {'O(N²) [s]':>10} {'ratio':>7} {diff_name:>9} "
          f"{est_name:>9} {'conv':>5}", flush=True)
    for n in args.sizes:
        m = np.random.default_rng(n).uniform(0.9, 1.1, n)
        chain = mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde="kac", gamma=1.0)
        t_f, out_f = _best(fast, chain, args.repeat)
        if args.temperatures:
            value_f, est, converged = np.asarray(out_f[0]), float(np.max(out_f[1])), out_f[2]
        else:
            value_f = float(out_f.value)
            est, converged = float(out_f.error_estimate) / abs(value_f), out_f.converged
        if n <= args.no_reference_above:
            t_r, out_r = _best(ref, chain, args.reference_repeat)
            if args.temperatures:
                diff = float(np.max(np.abs(np.asarray(out_r[0]) - value_f)))
            else:
                diff = abs(value_f - float(out_r.value)) / abs(float(out_r.value))
        else:
            t_r, diff = float("nan"), float("nan")
        rows.append((n, t_f, t_r))
        print(f"{n:>8} {t_f:9.3f} {t_r:10.3f} {t_r / t_f:7.1f} {diff:9.1e} {est:9.1e} "
              f"{bool(converged)!s:>5}", flush=True)
    if len(rows) > 1:
        n, t_f, t_r = (np.array(x, float) for x in zip(*rows))
        ok = np.isfinite(t_r)
        print("empirical exponent (log-log fit): fast "
              f"{np.polyfit(np.log(n), np.log(t_f), 1)[0]:.2f}", end="")
        if ok.sum() > 1:
            print(f", O(N²) path {np.polyfit(np.log(n[ok]), np.log(t_r[ok]), 1)[0]:.2f}", end="")
        print()


if __name__ == "__main__":
    main()
