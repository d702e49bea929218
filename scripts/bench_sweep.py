"""Benchmark the ensemble flux: realizations·N per second and how the cost grows with N and R.

For each N and each R, times ``ensemble_flux`` on R random-mass chains (Kac, k = 0.1,
k0 = 0.02, γ = 1, δ = 0.1) after one warm-up call (compilation is reported separately),
then fits the cost exponents t ∝ N^a (at the largest R) and t ∝ R^b (at each N).

    python scripts/bench_sweep.py                       # N = 100..3000, R = 4, 16
    python scripts/bench_sweep.py --sizes 1000,10000 --realizations 2,4 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

import meanfield_jax  # noqa: E402,F401
from meanfield_jax import masses as ms  # noqa: E402
from meanfield_jax import batch_chains, ensemble_flux  # noqa: E402


def _ints(text):
    return [int(x) for x in text.split(",") if x]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=_ints, default=[100, 300, 1000, 3000])
    p.add_argument("--realizations", type=_ints, default=[4, 16])
    p.add_argument("--method", default="residues", choices=["residues", "lyapunov"])
    p.add_argument("--chunk-size", type=int, default=16)
    p.add_argument("--devices", type=int, default=None)
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)

    print(f"jax {jax.__version__}, devices {jax.local_devices()}, method {args.method}, "
          f"chunk_size {args.chunk_size}, CPUs {os.cpu_count()}")
    print(f"{'N':>7} {'R':>5} {'compile s':>10} {'run s':>9} {'s/chain':>9} "
          f"{'R·N/s':>10} {'converged':>9}")
    rows = []
    for n in args.sizes:
        for r in args.realizations:
            batch = batch_chains(np.asarray(ms.uniform_ensemble(0, n, r)), k=0.1, k0=0.02,
                                 n_tilde="kac", gamma=1.0)
            kw = dict(method=args.method, chunk_size=args.chunk_size, devices=args.devices)
            t0 = time.perf_counter()
            ensemble_flux(batch, **kw)  # compile (+ one run)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = ensemble_flux(batch, **kw)
            run = time.perf_counter() - t0
            row = dict(n=n, r=r, compile_s=max(first - run, 0.0), run_s=run,
                       s_per_chain=run / r, rn_per_s=r * n / run,
                       converged=bool(res.converged.all()))
            rows.append(row)
            print(f"{n:>7} {r:>5} {row['compile_s']:>10.2f} {run:>9.3f} "
                  f"{row['s_per_chain']:>9.4f} {row['rn_per_s']:>10.0f} {row['converged']!s:>9}",
                  flush=True)
    if len(args.sizes) >= 2:
        rmax = max(args.realizations)
        sel = [x for x in rows if x["r"] == rmax]
        a = np.polyfit(np.log([x["n"] for x in sel]), np.log([x["run_s"] for x in sel]), 1)[0]
        print(f"cost growth with N at R = {rmax}: t ∝ N^{a:.2f}")
    if len(args.realizations) >= 2:
        for n in args.sizes:
            sel = [x for x in rows if x["n"] == n]
            b = np.polyfit(np.log([x["r"] for x in sel]), np.log([x["run_s"] for x in sel]), 1)[0]
            print(f"cost growth with R at N = {n}: t ∝ R^{b:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
