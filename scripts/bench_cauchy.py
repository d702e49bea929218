"""Benchmark: hierarchical Cauchy sums (``_cauchy.cauchy_sums``) against the direct O(N²)
loop, N sources (bulk frequencies of random masses, δ = 0.9) and N − 1 gap targets.

Prints warm times (best of ``--repeat``, one process, so the ratios are comparable on a
shared machine) of the whole call and of its two halves (build_tree: sources, once per
system; evaluate_tree: targets, once per secular-iteration step), the speed-up where the
direct sum is run, the time ratio per factor 10 in N (10 = linear) and the largest
error / bound and truncation bound / magnitude seen.

    python scripts/bench_cauchy.py                   # N = 1e3, 1e4, 1e5; direct up to 1e4
    python scripts/bench_cauchy.py --sizes 1000 10000 100000 1000000 --direct-max 10000
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from meanfield_jax import _cauchy  # noqa: E402


def problem(n, seed=0):
    rng = np.random.default_rng(seed)
    d = np.sort(np.sqrt(1.02 / rng.uniform(0.1, 1.9, n)))
    w = d / 2.04 + 0j
    half = 0.5 * np.diff(d)
    origin = np.arange(n - 1)
    tau = rng.uniform(0.0, 1.0, n - 1) * half + 1e-12j * half
    return [jnp.asarray(a) for a in (d, w, origin, tau, origin + 1)]


def best(fn, args, repeat):
    out = jax.block_until_ready(fn(*args))  # compile + warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--direct-max", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    direct = jax.jit(_cauchy.direct_cauchy_sums)
    rows = []
    print(f"{'N':>9} {'levels':>6} {'fmm [s]':>9} {'build':>7} {'eval':>7} {'direct [s]':>10} "
          f"{'speed-up':>8} {'err/bound':>9} {'bound/mag':>9}")
    kw = dict(p=_cauchy.DEFAULT_DEGREE, leaf=_cauchy.DEFAULT_LEAF)
    for n in args.sizes:
        a = problem(n)
        t_fast, fast = best(_cauchy.cauchy_sums, a, args.repeat)
        t_build, tree = best(lambda d, w: _cauchy.build_tree(d, w, **kw), a[:2], args.repeat)
        t_eval, _ = best(lambda *t: _cauchy.evaluate_tree(tree, *t, **kw), a[2:], args.repeat)
        t_direct, ratio, speedup = float("nan"), float("nan"), float("nan")
        if n <= args.direct_max:
            t_direct, ref = best(direct, a, args.repeat)
            ratio = float(jnp.max(jnp.abs(fast.value - ref.value) / fast.error))
            speedup = t_direct / t_fast
        allowance = _cauchy.rounding_allowance(_cauchy.tree_shape(n).levels)
        trunc = (fast.error - allowance * fast.magnitude) / fast.magnitude
        rows.append((n, t_fast, t_direct))
        print(f"{n:>9} {_cauchy.tree_shape(n).levels:>6} {t_fast:>9.4f} {t_build:>7.4f} "
              f"{t_eval:>7.4f} {t_direct:>10.4f} "
              f"{speedup:>8.1f} {ratio:>9.2e} {float(jnp.max(trunc)):>9.1e}", flush=True)
    print("growth per factor 10 in N (time ratio; 10 = linear, 100 = quadratic):")
    for (n0, f0, d0), (n1, f1, d1) in zip(rows, rows[1:]):
        scale = np.log(n1 / n0) / np.log(10.0)
        print(f"  {n0:>8} -> {n1:<8} fmm x{(f1 / f0) ** (1 / scale):.1f} per 10x "
              f"(exponent {np.log(f1 / f0) / np.log(n1 / n0):.2f})"
              + (f", direct x{(d1 / d0) ** (1 / scale):.1f} per 10x" if d1 == d1 else ""))


if __name__ == "__main__":
    main()
