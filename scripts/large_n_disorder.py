"""Does N·J saturate at large N for disordered chains without the Kac factor? (issue 15)

The exact flux of the mean-field chain with random masses (uniform in m ± δ) and Ñ = 1 has
N·J growing with N up to N = 10⁴ (fitted α = 0.874 ± 0.009 over N = 10…10⁴, Fig. 4
parameters), while the Kac chain (Ñ = N − 1) follows 1/N. This script extends the
disorder-averaged N·J to large N with the O(N) flux (``heat_flux(method="auto")`` runs
``residues-fmm`` above N = 4096): random masses (R realizations per size, keys
``masses.realization_key(seed, N, r)`` as in the sweeps) and graded masses
(deterministic), Ñ = 1 and Kac, k0 = 0 and 0.02; k = 0.1, γ = 1, δ = 0.1 (Fig. 4).

Chains run one at a time (memory O(N): ~2.5 GB at N = 10⁶), largest sizes last; every
result is appended to ``--out`` (npz, atomic), so an interrupted run resumes where it
stopped. Prints mean N·J ± standard error, the local exponent α between consecutive sizes,
and for random masses the median and range over realizations, per curve, and writes a
figure (means with error bars; medians dotted).

Usage: python scripts/large_n_disorder.py [--sizes 1000 3000 ... 1000000]
       [--realizations 16] [--out /tmp/large_n_disorder.npz]
       [--figure docs/figures/large_n_disorder.png] [--budget-s 3600]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import jax
import numpy as np

import meanfield_jax as mf
from meanfield_jax import masses as mass_configs

K, GAMMA, DELTA, M = 0.1, 1.0, 0.1, 1.0
# Ñ = 1 first (the open question), graded (one chain) before random (R chains)
CURVES = [(kind, n_tilde, k0) for n_tilde in (1.0, "kac") for kind in ("graded", "random")
          for k0 in (0.0, 0.02)]


def _label(kind, n_tilde, k0):
    return f"{kind} Ñ={'N-1' if n_tilde == 'kac' else '1'} k0={k0:g}"


def _load(path):
    if not os.path.exists(path):
        return {}
    with np.load(path) as data:
        return {key: tuple(data[key]) for key in data.files}


def _save(path, results):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".npz")
    os.close(fd)
    np.savez(tmp, **{key: np.array(v) for key, v in results.items()})
    os.replace(tmp, path)


def _masses(kind, n, r):
    if kind == "graded":
        return mass_configs.graded(n, M, DELTA)
    return mass_configs.uniform(mass_configs.realization_key(0, n, r), n, M, DELTA)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000])
    p.add_argument("--realizations", type=int, default=16)
    p.add_argument("--out", default=os.path.join(tempfile.gettempdir(),
                                                   "large_n_disorder.npz"))
    p.add_argument("--figure", default="docs/figures/large_n_disorder.png")
    p.add_argument("--budget-s", type=float, default=math.inf,
                   help="stop starting new chains after this many seconds (resume later)")
    p.add_argument("--n-tilde", nargs="+", choices=["1", "kac"], default=["1", "kac"],
                   help="run only these curves (two processes with disjoint curves and "
                        "separate --out files can share the work; the report reads --out)")
    args = p.parse_args()
    results = _load(args.out)  # key "kind|n_tilde|k0|N|r" -> (J, error, converged, seconds)
    start = time.perf_counter()
    for n in args.sizes:
        for kind, n_tilde, k0 in CURVES:
            if ("kac" if n_tilde == "kac" else "1") not in args.n_tilde:
                continue
            for r in range(args.realizations if kind == "random" else 1):
                key = f"{kind}|{n_tilde}|{k0}|{n}|{r}"
                if key in results:
                    continue
                if time.perf_counter() - start > args.budget_s:
                    print("budget spent; rerun to continue", flush=True)
                    return _report(args, results)
                chain = mf.MeanFieldChain(_masses(kind, n, r), k=K, k0=k0, n_tilde=n_tilde,
                                          gamma=GAMMA)
                t0 = time.perf_counter()
                res = jax.block_until_ready(mf.heat_flux_with_error(chain))
                dt = time.perf_counter() - t0
                results[key] = (float(res.flux), float(res.error_estimate),
                                float(bool(res.converged)), dt)
                _save(args.out, results)
                print(f"N = {n:>8}  {_label(kind, n_tilde, k0):<24} r = {r:>2}  "
                      f"N·J = {n * float(res.flux):.6f}  est/J = "
                      f"{float(res.error_estimate) / abs(float(res.flux)):.1e}  "
                      f"converged {bool(res.converged)}  {dt:.1f} s", flush=True)
    _report(args, results)


def _report(args, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    print(f"\nN·J (ΔT = 1), k = {K}, γ = {GAMMA}, masses {M} ± {DELTA}; mean ± standard error "
          "over realizations (random), local α = −Δ ln J / Δ ln N")
    for (kind, n_tilde, k0), color in zip(CURVES, plt.cm.tab10(np.arange(len(CURVES)))):
        rows = []
        for n in args.sizes:
            vals = [results[key] for key in results
                    if key.startswith(f"{kind}|{n_tilde}|{k0}|{n}|")]
            if not vals:
                continue
            nj = np.array([n * v[0] for v in vals])
            conv = all(v[2] for v in vals)
            err = nj.std(ddof=1) / math.sqrt(len(nj)) if len(nj) > 1 else 0.0
            rows.append((n, nj.mean(), err, len(nj), conv, float(np.median(nj)),
                         float(nj.min()), float(nj.max())))
        if not rows:
            continue
        print(f"  {_label(kind, n_tilde, k0)}")
        prev = None
        for n, mean, err, count, conv, median, low, high in rows:
            local = (f"{1.0 - math.log(mean / prev[1]) / math.log(n / prev[0]):6.3f}"
                     if prev else "      ")
            spread = (f"  median {median:.4f}, range [{low:.3f}, {high:.3f}]"
                      if count > 1 else "")
            print(f"    N = {n:>8}  N·J = {mean:.5f} ± {err:.5f}  (R = {count:>2}"
                  f"{'' if conv else ', some not converged'})  local α {local}{spread}")
            prev = (n, mean)
        if kind == "random":  # partial sizes (fewer realizations than asked) are not drawn
            partial = [r[0] for r in rows if r[3] < args.realizations]
            if partial:
                print(f"    (not drawn: N = {partial}, fewer than {args.realizations} "
                      "realizations so far)")
            rows = [r for r in rows if r[3] >= args.realizations]
            if not rows:
                continue
        ns, means, errs = (np.array([r[i] for r in rows]) for i in range(3))
        ax.errorbar(ns, means, yerr=errs, marker="o" if kind == "random" else "s", ms=4,
                    color=color, ls="-" if n_tilde == "kac" else "--",
                    label=_label(kind, n_tilde, k0))
        if kind == "random":  # the median: the typical chain, against the mean's tail
            ax.plot(ns, [r[5] for r in rows], ls=":", color=color, lw=1)
    ax.set(xscale="log", yscale="log", xlabel="N", ylabel="N · J / ΔT",
           title=f"mean-field chain, masses {M} ± {DELTA}, k = {K} (dotted: median)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(args.figure, dpi=90)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
