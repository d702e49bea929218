"""What makes rare disordered chains conduct without the Kac factor: their end masses (issue 15).

``scripts/large_n_disorder.py`` found that for random masses 1 ± 0.1 and Ñ = 1 the median of
N·J levels off near 1.1 while the mean grows through a heavy upper tail. This script tests
one explanation: with Ñ = 1 particles 1 and N are coupled to each other and to every bulk
particle by the same spring, each end resonates at its own frequency inside the bulk band,
and heat crosses best when the two end resonances overlap, i.e. when m_1 ≈ m_N.

1. Correlation (from ``--data``, the npz of large_n_disorder.py): the Spearman rank
   correlation of N·J with |m_1 − m_N| over the 16 realizations at each N (the masses are
   regenerated from ``masses.realization_key(0, N, r)``, as there).
2. Intervention (exact O(N) flux, ``heat_flux(method="auto")``): the same R chains with the
   bulk unchanged and (a) their own ends, (b) m_N set to m_1, (c) m_1 = m_N = 1 (the mean
   mass), at each N of ``--sizes``: mean and median N·J and the local exponent.

Usage: python scripts/end_masses.py [--sizes 1000 10000 100000] [--realizations 16]
       [--data /tmp/large_n_disorder.npz]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile

import jax
import numpy as np

import meanfield_jax as mf
from meanfield_jax import masses as mass_configs

K, GAMMA, DELTA, M = 0.1, 1.0, 0.1, 1.0  # as large_n_disorder.py (Fig. 4)


def _masses(n, r):
    return np.asarray(mass_configs.uniform(mass_configs.realization_key(0, n, r), n, M, DELTA))


def _ranks(x):
    return np.argsort(np.argsort(x))


def correlation(path):
    if not os.path.exists(path):
        print(f"(no {path}: run scripts/large_n_disorder.py first; correlation skipped)")
        return
    with np.load(path) as data:
        stored = {key: data[key] for key in data.files}
    print("Spearman rank correlation of N·J with |m_1 − m_N| (random, Ñ = 1, k0 = 0):")
    for n in sorted({int(key.split("|")[3]) for key in stored if key.startswith("random|1.0|0.0|")}):
        keys = [f"random|1.0|0.0|{n}|{r}" for r in range(64) if f"random|1.0|0.0|{n}|{r}" in stored]
        nj = np.array([n * stored[key][0] for key in keys])
        dm = np.array([abs(_masses(n, int(key.split("|")[4]))[[0, -1]] @ [1.0, -1.0])
                       for key in keys])
        rho = np.corrcoef(_ranks(nj), _ranks(dm))[0, 1]
        i = np.argmax(nj)
        print(f"  N = {n:>8}  R = {len(keys):>2}  rank correlation {rho:+.3f}; largest N·J "
              f"{nj[i]:.3f} at |m_1 − m_N| = {dm[i]:.1e} (median |m_1 − m_N| {np.median(dm):.1e})")


def intervention(sizes, realizations):
    variants = {"own ends": lambda m: m,
                "m_N := m_1": lambda m: np.concatenate([m[:-1], m[:1]]),
                "m_1 = m_N = 1": lambda m: np.concatenate([[M], m[1:-1], [M]])}
    print(f"\nSame bulk, ends changed (random masses {M} ± {DELTA}, Ñ = 1, k0 = 0, k = {K}, "
          f"γ = {GAMMA}; {realizations} realizations): mean ± s.e. (median) of N·J")
    previous = {}
    for n in sizes:
        line = [f"  N = {n:>7}"]
        for name, change in variants.items():
            nj = []
            for r in range(realizations):
                chain = mf.MeanFieldChain(change(_masses(n, r).copy()), k=K, k0=0.0,
                                          n_tilde=1.0, gamma=GAMMA)
                res = jax.block_until_ready(mf.heat_flux_with_error(chain))
                if not bool(res.converged):
                    raise RuntimeError(f"not converged: N = {n}, r = {r}, {name}")
                nj.append(n * float(res.flux))
            nj = np.array(nj)
            mean = nj.mean()
            local = ""
            if name in previous:
                n0, m0 = previous[name]
                local = f", α {1.0 - math.log(mean / m0) / math.log(n / n0):.3f}"
            previous[name] = (n, mean)
            line.append(f"{name}: {mean:.4f} ± {nj.std(ddof=1) / math.sqrt(len(nj)):.4f} "
                        f"({np.median(nj):.4f}{local})")
        print("   ".join(line), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    p.add_argument("--realizations", type=int, default=16)
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(),
                                                    "large_n_disorder.npz"))
    args = p.parse_args()
    correlation(args.data)
    intervention(args.sizes, args.realizations)


if __name__ == "__main__":
    main()
