"""Benchmark: answers in interactive time (issue 12): compilations per new N, with and
without size buckets, in one run.

Part 1 (buckets on, then off; each in a fresh process): ``mf.heat_flux`` for 20 sizes N
log-spaced over 10…5000 (random masses δ = 0.1, k = 1, k0 = 0.05, Kac), one call each, then
20 warm calls (same sizes, new masses). Prints the number of compilations of the residue
solver (counted from ``jax.log_compiles``), the total time of the first pass, the time
XLA spent compiling (``jax.monitoring`` backend-compile events) and tracing/lowering, the
20 warm calls, and total / (compile + warm). Issue targets: <= 6 compilations, ratio
<= 1.5.

Part 2 (``--program-at N``, default 1000): tracing+lowering and XLA compile seconds of one
residue-flux program at that N, best of ``--repeat`` fresh processes; with
``--baseline DIR`` (a checkout of an older version, e.g. made by ``git archive``) the
same for DIR's package, alternating, so that before/after share the machine's load.

Part 4 (``--sweep NAME``, e.g. ``fig4-quick``): the built-in sweep NAME in a fresh process
without persistent cache (as ``make run --no-compile-cache``): its size buckets, the number
of programs that took over 1 s to compile (counted from ``jax.monitoring`` backend-compile
events; the bucket programs), XLA compile seconds (summed over threads: the buckets compile
in parallel) and the total. With ``MEANFIELD_JAX_BUCKETS=0`` for comparison.

Part 5 (``--options N [N ...]``, then nothing else): the residue-flux program at each N
compiled with and without ``_config.COMPILER_OPTIONS`` (XLA compile seconds, each in a
fresh process: XLA caches across compilations in one process) and its warm run time with
each, best of ``--repeat``, alternating: what the options buy and cost.

Part 3 (``--cache DIR``): the buckets-on sweep twice more with JAX's persistent compilation
cache in DIR (``JAX_COMPILATION_CACHE_DIR``; DIR should start empty): the second process
loads the compiled programs from disk instead of compiling them.

Usage: python scripts/bench_compile.py [--sizes 10 5000 20] [--program-at 1000]
       [--repeat 2] [--baseline /tmp/base] [--skip-sweep] [--cache /tmp/jax-cache]
       [--sweep fig4-quick] [--options 1000 10000]
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def _child_sweep(lo, hi, count):
    import jax
    import numpy as np

    import meanfield_jax as mf

    compile_s, lower_s, heavy = [0.0], [0.0], []

    def listener(event, secs, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            compile_s[0] += secs
        elif event in ("/jax/core/compile/jaxpr_trace_duration",
                       "/jax/core/compile/jaxpr_to_mlir_module_duration"):
            lower_s[0] += secs

    class Count(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith("Finished XLA compilation of jit(flux_residues)"):
                heavy.append(message)

    jax.monitoring.register_event_duration_secs_listener(listener)
    logging.getLogger("jax._src.dispatch").addHandler(Count())
    sizes = [int(n) for n in np.unique(np.geomspace(lo, hi, count).round())]
    rng = np.random.default_rng(0)

    def chain(n):
        return mf.MeanFieldChain(1.0 + 0.1 * (rng.random(n) - 0.5), k=1.0, k0=0.05)

    start = time.perf_counter()
    with jax.log_compiles():
        for n in sizes:
            float(mf.heat_flux(chain(n)))
    total = time.perf_counter() - start
    warm = []
    for n in sizes:
        c = chain(n)
        t0 = time.perf_counter()
        float(mf.heat_flux(c))
        warm.append(time.perf_counter() - t0)
    print(json.dumps({"sizes": sizes, "heavy": len(heavy), "total": total,
                      "compile": compile_s[0], "lower": lower_s[0], "warm": warm}))


def _child_run_sweep(name, out):
    import jax

    from meanfield_jax import _sweep, _sweep_config

    events = []

    def listener(event, secs, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(secs)

    jax.monitoring.register_event_duration_secs_listener(listener)
    cfg = _sweep_config.builtin_config(name)
    start = time.perf_counter()
    ds = _sweep.run_sweep(cfg, out, progress=False, fresh=True)
    total = time.perf_counter() - start
    buckets = [int(b) for b in ds.attrs["size_buckets"]]
    print(json.dumps({"sizes": list(cfg.sizes), "buckets": buckets,
                      "heavy": sum(s > 1.0 for s in events), "compile": sum(events),
                      "total": total}))


def _child_program(n):
    import numpy as np

    import meanfield_jax as mf
    from meanfield_jax import _transport

    chain = mf.MeanFieldChain(1.0 + 0.1 * np.random.default_rng(0).random(n), k=1.0)
    # (older checkouts, e.g. a --baseline, name the program _flux_residues)
    program = getattr(_transport, "flux_residues", None) or _transport._flux_residues
    t0 = time.perf_counter()
    lowered = program.lower(chain)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    hlo = compiled.as_text().count("\n")  # optimized HLO: a load-independent size
    print(json.dumps({"lower": t1 - t0, "compile": t2 - t1, "hlo": hlo}))


def _child_options(n, with_options):
    import jax
    import numpy as np

    import meanfield_jax as mf
    from meanfield_jax import _config, _poles

    def flux(chain):
        return _poles.flux_by_residues(chain).value

    rng = np.random.default_rng(0)
    chain = mf.MeanFieldChain(1.0 + 0.1 * (rng.random(n) - 0.5), k=1.0, k0=0.02)
    lowered = jax.jit(flux).lower(chain)
    t0 = time.perf_counter()
    program = lowered.compile(compiler_options=_config.COMPILER_OPTIONS if with_options else None)
    compile_s = time.perf_counter() - t0
    run_s = float("inf")
    for _ in range(5 if n <= 3000 else 2):
        t0 = time.perf_counter()
        value = float(jax.block_until_ready(program(chain)))
        run_s = min(run_s, time.perf_counter() - t0)
    print(json.dumps({"compile": compile_s, "run": run_s, "flux": value}))


def _run(args, root=ROOT, env=None):
    environ = dict(os.environ, PYTHONPATH=root, **(env or {}))
    out = subprocess.run([sys.executable, os.path.abspath(__file__)] + args, env=environ,
                         capture_output=True, text=True, check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=float, nargs=3, default=[10, 5000, 20],
                   metavar=("LO", "HI", "COUNT"))
    p.add_argument("--program-at", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--baseline", default=None)
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--cache", default=None)
    p.add_argument("--sweep", default=None, help="a built-in sweep to time (Part 4)")
    p.add_argument("--options", type=int, nargs="+", default=None, metavar="N",
                   help="compile with/without _config.COMPILER_OPTIONS at these N (Part 5)")
    p.add_argument("--child-sweep", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child-run-sweep", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-program", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child-options", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    lo, hi, count = args.sizes
    if args.child_sweep:
        return _child_sweep(lo, hi, int(count))
    if args.child_program:
        return _child_program(args.program_at)
    if args.child_run_sweep:
        return _child_run_sweep(args.child_run_sweep, args.child_out)
    if args.child_options is not None:
        return _child_options(args.program_at, args.child_options == "with")
    if args.options:
        for n in args.options:
            best = {}
            for _ in range(max(args.repeat, 1)):
                for label in ("without", "with"):
                    r = _run(["--child-options", label, "--program-at", str(n)])
                    old = best.get(label)
                    best[label] = r if old is None else {
                        "compile": min(old["compile"], r["compile"]),
                        "run": min(old["run"], r["run"]), "flux": r["flux"]}
            a, b = best["without"], best["with"]
            print(f"N = {n}: XLA compile {a['compile']:.2f} s without _config.COMPILER_OPTIONS, "
                  f"{b['compile']:.2f} s with; warm run {a['run']:.4f} s / {b['run']:.4f} s "
                  f"(best of {max(args.repeat, 1)} fresh processes each); J differs by "
                  f"{b['flux'] / a['flux'] - 1.0:.1e} relative", flush=True)
        return None

    print(f"{os.cpu_count()} cores; each line from a fresh process")
    if not args.skip_sweep:
        for label, value in (("buckets on ", "1"), ("buckets off", "0")):
            r = _run(["--child-sweep", "--sizes", str(lo), str(hi), str(count)],
                     env={"MEANFIELD_JAX_BUCKETS": value})
            warm = sum(r["warm"])
            print(f"{label}: {len(r['sizes'])} sizes {r['sizes'][0]}…{r['sizes'][-1]}: "
                  f"{r['heavy']} residue-solver compilations, total {r['total']:.1f} s, "
                  f"XLA compile {r['compile']:.1f} s, trace+lower {r['lower']:.1f} s, "
                  f"20 warm calls {warm:.2f} s (largest {max(r['warm']):.3f} s), "
                  f"total/(compile + warm) = {r['total'] / (r['compile'] + warm):.2f}",
                  flush=True)

    if args.cache:
        cache = {"MEANFIELD_JAX_BUCKETS": "1", "JAX_COMPILATION_CACHE_DIR": args.cache,
                 "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
        for label in ("cache cold", "cache warm"):
            r = _run(["--child-sweep", "--sizes", str(lo), str(hi), str(count)], env=cache)
            print(f"buckets on, {label}: total {r['total']:.1f} s, XLA compile "
                  f"{r['compile']:.1f} s ({r['heavy']} residue-solver programs), trace+lower "
                  f"{r['lower']:.1f} s", flush=True)

    if args.sweep:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for label, value in (("buckets on ", "1"), ("buckets off", "0")):
                r = _run(["--child-run-sweep", args.sweep, "--child-out",
                          os.path.join(tmp, f"{value}.nc")],
                         env={"MEANFIELD_JAX_BUCKETS": value})
                print(f"sweep {args.sweep}, {label}: sizes {r['sizes']} → programs "
                      f"{r['buckets']}: {r['heavy']} programs over 1 s to compile, XLA "
                      f"compile {r['compile']:.1f} s (summed over threads), total "
                      f"{r['total']:.1f} s", flush=True)

    roots = [("this checkout", ROOT)]
    if args.baseline:
        roots.append(("baseline", os.path.abspath(args.baseline)))
    best = {label: None for label, _ in roots}
    for _ in range(args.repeat):
        for label, root in roots:
            r = _run(["--child-program", "--program-at", str(args.program_at)], root=root,
                     env={"MEANFIELD_JAX_BUCKETS": "0"})
            if best[label] is None or r["compile"] < best[label]["compile"]:
                best[label] = r
    for label, _ in roots if args.repeat > 0 else ():
        r = best[label]
        print(f"one residue-flux program at N = {args.program_at} ({label}): trace+lower "
              f"{r['lower']:.2f} s, XLA compile {r['compile']:.2f} s (best of {args.repeat}), "
              f"optimized HLO {r['hlo']} lines", flush=True)


if __name__ == "__main__":
    main()
