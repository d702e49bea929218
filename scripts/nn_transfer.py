"""Disordered nearest-neighbour chains at N ≫ 10³: J(N) by the package's transfer method (issue 13).

The dense secular solver behind ``networks.nearest_neighbour`` costs O(N³) and reaches
N ≈ 2048 on a 2-core CPU, where the fixed-end chains' exponent is 1.2, not yet the 3/2 of
Dhar (2001) and Ajanki & Huveneers (2011). ``mf.nearest_neighbour_flux_with_error`` (module
``meanfield_jax._transfer``: T(ω) from an O(N) ratio recurrence, J by peak-by-peak adaptive
quadrature with an error estimate, no dense K) reaches N ~ 10⁵. ``--check-n`` compares it
with the package's secular solver on the same chains; ``--bench N`` times one warm J at N.
Prints J ± standard error over realizations, local exponents and the fitted exponent of
J ∝ N^−a, and writes a figure.

Usage: python scripts/nn_transfer.py [--sizes 512 1024 ... 16384] [--realizations 8]
       [--delta 0.8] [--k-prime 1.0] [--check-n 64 256 1024] [--fit-min-n 4096]
       [--out docs/figures/nn_fixed_ends.png] [--bench 100000]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np

import meanfield_jax as mf
from meanfield_jax import masses as mass_configs
from meanfield_jax import networks

K, GAMMA = 1.0, 1.0


def flux_transfer(masses, *, k=K, gamma=GAMMA, k_prime=0.0, k0=0.0):
    """(J/ΔT, error estimate) of the nearest-neighbour chain (the package's transfer method)."""
    r = mf.nearest_neighbour_flux_with_error(masses, k=k, gamma=gamma, k_prime=k_prime, k0=k0)
    return float(r.flux), float(r.error_estimate)


def _masses(n, r, delta):
    return np.asarray(mass_configs.uniform(mass_configs.realization_key(0, n, r), n, 1.0,
                                           delta))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[512, 1024, 2048, 4096, 8192, 16384])
    p.add_argument("--realizations", type=int, default=8)
    p.add_argument("--delta", type=float, default=0.8)
    p.add_argument("--k-prime", type=float, default=1.0, help="wall springs (0: free ends)")
    p.add_argument("--check-n", type=int, nargs="*", default=[64, 256, 1024])
    p.add_argument("--fit-min-n", type=float, default=4096)
    p.add_argument("--bench", type=int, default=0,
                   help="time J at this N (realization 0 to compile, then 1 warm) and exit")
    p.add_argument("--out", default=None, help="figure path (none: no figure)")
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "nn_transfer.npz"),
                   help="npz of finished chains; a rerun resumes from it ('' for none)")
    args = p.parse_args()

    print(f"nearest-neighbour chain, masses 1 ± {args.delta:g}, k = γ = 1, k' = "
          f"{args.k_prime:g}")
    if args.bench:
        for r in range(2):
            t0 = time.perf_counter()
            j, err = flux_transfer(_masses(args.bench, r, args.delta), k_prime=args.k_prime)
            print(f"  N = {args.bench}, realization {r} ({'cold' if r == 0 else 'warm'}): "
                  f"J = {j:.12e}, estimate {err:.1e} ({err / j:.1e} relative), "
                  f"{time.perf_counter() - t0:.2f} s", flush=True)
        return
    for n in args.check_n:  # the package's exact secular solver on the same chain
        m = _masses(n, 0, args.delta)
        j, err = flux_transfer(m, k_prime=args.k_prime)
        ref = mf.heat_flux_with_error(networks.nearest_neighbour(m, k_prime=args.k_prime))
        print(f"  check N = {n:5d}: recurrence J = {j:.15e} (est {err:.1e}), "
              f"secular solver {float(ref.flux):.15e} (est {float(ref.error_estimate):.1e}); "
              f"relative difference {abs(j / float(ref.flux) - 1):.1e}", flush=True)

    cache = {}
    if args.cache and os.path.exists(args.cache):
        with np.load(args.cache) as data:
            cache = {key: tuple(data[key]) for key in data.files}
    means, errs = [], []
    for n in args.sizes:
        t0 = time.perf_counter()
        vals, worst = [], 0.0
        for r in range(args.realizations):
            key = f"{args.delta}|{args.k_prime}|{n}|{r}"
            if key not in cache:
                cache[key] = flux_transfer(_masses(n, r, args.delta), k_prime=args.k_prime)
                if args.cache:  # resumable: every chain saved (atomically) as it finishes
                    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.cache)),
                                               suffix=".npz")
                    os.close(fd)
                    np.savez(tmp, **{key_: np.array(v) for key_, v in cache.items()})
                    os.replace(tmp, args.cache)
            j, err = cache[key]
            vals.append(j)
            worst = max(worst, err / j)
        vals = np.array(vals)
        means.append(vals.mean())
        errs.append(vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0)
        local = ("" if len(means) < 2 else
                 f"  local a {-math.log(means[-1] / means[-2]) / math.log(n / args.sizes[len(means) - 2]):.3f}")
        print(f"  N = {n:6d}  J = {means[-1]:.6e} ± {errs[-1]:.1e}  (R = {len(vals)}, worst "
              f"estimate {worst:.0e} relative, {time.perf_counter() - t0:.1f} s){local}",
              flush=True)
    sizes = np.array(args.sizes, dtype=float)
    means, errs = np.array(means), np.array(errs)
    label = "recurrence"
    if np.sum(sizes >= args.fit_min_n) >= 2:
        a, da, _, _ = mf.fit_power_law(sizes, means, errs, min_n=args.fit_min_n)
        print(f"  J ∝ N^-a over N >= {args.fit_min_n:g}: a = {a:.3f} ± {da:.3f}")
        label = f"$J \\propto N^{{-{a:.2f}\\pm{da:.2f}}}$ (N ≥ {args.fit_min_n:g})"
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        ax.errorbar(sizes, means * sizes ** 1.5, yerr=errs * sizes ** 1.5, marker="o", ms=4,
                    label=label)
        ax.set(xscale="log", yscale="log", xlabel="N", ylabel="$N^{3/2} J / ΔT$",
               title=f"NN chain, k' = {args.k_prime:g}, masses 1 ± {args.delta:g}, "
                     f"R = {args.realizations}")
        ax.legend(frameon=False)
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"  figure: {args.out}")


if __name__ == "__main__":
    main()
