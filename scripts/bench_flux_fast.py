"""Time the O(N) residue flux (``_poles_fast``) against the O(N²) residue path.

Random masses δ = 0.1, Kac, k0 = 0.02 (issue 15's benchmark chain). Warm timings, best of
``--repeat`` within one run; prints both times, their ratio, the relative difference of J and
the fast path's error estimate, and the empirical exponent of each path between sizes.

    PYTHONPATH=. python scripts/bench_flux_fast.py --sizes 10000 30000 100000
"""

import argparse
import time

import jax
import numpy as np

import meanfield_jax as mf
from meanfield_jax._poles import flux_by_residues
from meanfield_jax._poles_fast import flux_by_residues_fast


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
    args = parser.parse_args()
    fast, ref = jax.jit(flux_by_residues_fast), jax.jit(flux_by_residues)
    rows = []
    print(f"{'N':>8} {'fast [s]':>9} {'O(N²) [s]':>10} {'ratio':>7} {'|ΔJ|/J':>9} "
          f"{'est/J':>9} {'conv':>5} {'rounds':>6}", flush=True)
    for n in args.sizes:
        m = np.random.default_rng(n).uniform(0.9, 1.1, n)
        chain = mf.MeanFieldChain(m, k=1.0, k0=0.02, n_tilde="kac", gamma=1.0)
        t_f, out_f = _best(fast, chain, args.repeat)
        j_f = float(out_f["flux"])
        if n <= args.no_reference_above:
            t_r, out_r = _best(ref, chain, args.reference_repeat)
            j_r = float(out_r["flux"])
            diff = abs(j_f - j_r) / abs(j_r)
        else:
            t_r, diff = float("nan"), float("nan")
        rows.append((n, t_f, t_r))
        print(f"{n:>8} {t_f:9.3f} {t_r:10.3f} {t_r / t_f:7.1f} {diff:9.1e} "
              f"{float(out_f['error_estimate']) / abs(j_f):9.1e} "
              f"{bool(out_f['converged'])!s:>5} {int(np.max(out_f['gap_iterations'])):>6}",
              flush=True)
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
