"""Interrupt campaign: SIGINT / SIGTERM at random moments, then resume; results bit for bit.

For each command (``sweep``, ``simulate``) and each compile cache (``cold``: a fresh, empty
persistent cache for every try, so the signal often lands in XLA compilation or a cache
write; ``warm``: a cache filled beforehand, so it often lands in a cache read), it runs the
command once uninterrupted (the reference), then ``--tries`` times: start the command,
send SIGINT or SIGTERM (random) after a delay drawn uniformly from [0, 0.95 × the reference
run's duration], and check

  * the exit status is 130 (SIGINT) or 143 (SIGTERM), or 0 if the run finished first
    (counted apart, not as an interrupt; another try is made),
  * stderr holds no traceback and ends with the one-line ``meanfield-jax: ... interrupted``
    message,
  * the checkpoint, if any, is a readable npz file and no temporary file is left,
  * rerunning the same command completes (exit 0) and its result equals the reference,
    every data variable bit for bit.

Every compilation goes through the persistent cache (JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS
= 0). Usage (about 25 minutes on a 2-core CPU for the full campaign)::

    python scripts/interrupt_campaign.py --tries 20
    python scripts/interrupt_campaign.py --commands sweep --caches cold --tries 2

Prints one line per try and a summary; exits 1 if any try failed.

Measured (commit 4781af8, ``--tries 20 --seed 2026``, 2-core CPU, 19 minutes): 80 of 80
interrupts clean and 80 of 80 resumed bit-identical (sweep cold 20/20, warm 20/20;
simulate cold 20/20, warm 20/20; 59 of them after a checkpoint existed; exit within
0.00-0.08 s of the signal, compiling or not).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SWEEP_TOML = """\
sizes = [4, 5, 6, 7]
masses = ["identical", "random"]
k0 = [0.0, 0.02]
n_tilde = ["kac", 1]
realizations = 40
seed = 3
chunk_size = 2
method = "lyapunov"
fit_min_n = 0
"""

SIMULATE_TOML = """\
masses = {kind = "random", delta = 0.2, seed = 1}
n = 6
k = 1.0
k0 = 0.1
t_left = 1.5
t_right = 0.5
dt = 0.1
n_steps = 20000
burn_in = 2000
n_trajectories = 16
seed = 7
initial = "thermal"
chunk_size = 500
checkpoint_interval = 0
"""


def _env(cache):
    return dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=cache,
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _cmd(command, config, out):
    base = [sys.executable, "-m", "meanfield_jax._cli", command, config, "--out", out,
            "--no-progress"]
    return base


def _load(path):
    import xarray as xr

    return xr.load_dataset(path)


def _same(a, b) -> str | None:
    """None if every data variable of a equals b's bit for bit, else the first difference."""
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.shape != y.shape or x.dtype != y.dtype:
            return f"{name}: shape/dtype differ"
        if x.dtype.kind == "f":
            same = np.array_equal(x.view(np.uint64 if x.itemsize == 8 else np.uint32),
                                  y.view(np.uint64 if y.itemsize == 8 else np.uint32))
        else:
            same = np.array_equal(x, y)
        if not same:
            return f"{name} differs"
    return None


def _checkpoints(out):
    return sorted(glob.glob(glob.escape(out) + ".partial*.npz"))


def _check_checkpoints(out) -> str | None:
    for path in _checkpoints(out):
        try:
            with np.load(path) as z:
                list(z.keys())
                for k in z.keys():
                    z[k]
        except Exception as exc:  # noqa: BLE001
            return f"checkpoint {path} unreadable: {exc}"
    folder = os.path.dirname(out)
    tmps = glob.glob(os.path.join(folder, "*.tmp"))
    if tmps:
        return f"temporary files left: {tmps}"
    return None


def scenario(command, cache_kind, tries, rng, workdir, log):
    folder = os.path.join(workdir, f"{command}-{cache_kind}")
    os.makedirs(folder, exist_ok=True)
    config = os.path.join(folder, "run.toml")
    with open(config, "w") as fh:
        fh.write(SWEEP_TOML if command == "sweep" else SIMULATE_TOML)
    shared_cache = os.path.join(folder, "cache-shared")
    ref_out = os.path.join(folder, "reference.nc")
    start = time.perf_counter()
    ref = subprocess.run(_cmd(command, config, ref_out), env=_env(shared_cache),
                         capture_output=True, text=True, timeout=600)
    duration = time.perf_counter() - start
    if ref.returncode != 0:
        raise SystemExit(f"reference {command} run failed:\n{ref.stderr[-3000:]}")
    if cache_kind == "warm":  # time a warm run: the window for the signal
        start = time.perf_counter()
        subprocess.run(_cmd(command, config, os.path.join(folder, "warm.nc")),
                       env=_env(shared_cache), capture_output=True, timeout=600, check=True)
        duration = time.perf_counter() - start
    reference = _load(ref_out)
    log(f"== {command}, {cache_kind} cache: reference run {duration:.1f} s")
    stats = dict(command=command, cache=cache_kind, interrupts=0, clean=0, resumed_identical=0,
                 finished_first=0, with_checkpoint=0, failures=[], reference_s=round(duration, 1))
    attempt = 0
    while stats["interrupts"] < tries and attempt < 3 * tries:
        attempt += 1
        cache = (os.path.join(folder, f"cache-{attempt}") if cache_kind == "cold"
                 else shared_cache)
        out = os.path.join(folder, f"try{attempt}.nc")
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(0.0, 0.95 * duration)
        proc = subprocess.Popen(_cmd(command, config, out), env=_env(cache),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        sent = proc.poll() is None
        if sent:
            proc.send_signal(sig)
        t_sig = time.perf_counter()
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            stats["interrupts"] += 1
            stats["failures"].append(f"try {attempt}: no exit within 120 s of {sig.name}")
            log(f"  try {attempt:2d} {sig.name} at {delay:5.2f} s: HUNG")
            continue
        exit_s = time.perf_counter() - t_sig
        if proc.returncode == 0:
            stats["finished_first"] += 1
            log(f"  try {attempt:2d} {sig.name} at {delay:5.2f} s: finished first (not counted)")
            continue
        stats["interrupts"] += 1
        problems = []
        if proc.returncode != 128 + sig:
            problems.append(f"exit status {proc.returncode}, expected {128 + sig}")
        if "Traceback" in err:
            problems.append("traceback on stderr")
        lines = [line for line in err.splitlines() if line.strip()]
        if not lines or not (lines[-1].startswith("meanfield-jax:") and "interrupted" in lines[-1]):
            problems.append(f"last stderr line: {lines[-1] if lines else '(none)'!r}")
        bad = _check_checkpoints(out)
        if bad:
            problems.append(bad)
        had_checkpoint = bool(_checkpoints(out))
        stats["with_checkpoint"] += had_checkpoint
        if not problems:
            stats["clean"] += 1
        resumed = subprocess.run(_cmd(command, config, out), env=_env(cache),
                                 capture_output=True, text=True, timeout=600)
        if resumed.returncode != 0:
            problems.append(f"resume exit {resumed.returncode}: {resumed.stderr[-500:]}")
        else:
            diff = _same(_load(out), reference)
            if diff:
                problems.append(f"resumed result: {diff}")
            else:
                stats["resumed_identical"] += 1
        state = "checkpoint" if had_checkpoint else "no checkpoint yet"
        log(f"  try {attempt:2d} {sig.name} at {delay:5.2f} s: exit {proc.returncode} after "
            f"{exit_s:.2f} s ({state}); " + ("ok" if not problems else "; ".join(problems)))
        if problems:
            stats["failures"].append(f"try {attempt}: " + "; ".join(problems))
        if cache_kind == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        for path in [out, *_checkpoints(out)]:
            if os.path.exists(path):
                os.unlink(path)
    return stats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20, help="interrupts per scenario (20)")
    parser.add_argument("--commands", default="sweep,simulate")
    parser.add_argument("--caches", default="cold,warm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="folder for the runs (default: a temporary one)")
    args = parser.parse_args(argv)
    # A background job of a shell script starts with SIGINT ignored, and so would the
    # commands under test (meanfield-jax keeps an ignored signal ignored, as Python does).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # children: default
    rng = random.Random(args.seed)
    workdir = args.workdir or tempfile.mkdtemp(prefix="meanfield_jax-interrupts-")

    def log(msg):
        print(msg, flush=True)

    results = []
    for command in args.commands.split(","):
        for cache in args.caches.split(","):
            results.append(scenario(command, cache, args.tries, rng, workdir, log))
    ok = True
    print("\nsummary (interrupts: clean exits / resumed bit-identical):")
    for s in results:
        print(f"  {s['command']:<8} {s['cache']:<4} cache: {s['interrupts']} interrupts, "
              f"{s['clean']} clean, {s['resumed_identical']} resumed identical "
              f"({s['with_checkpoint']} after a checkpoint existed; {s['finished_first']} runs "
              f"finished before the signal; reference {s['reference_s']} s)")
        ok &= not s["failures"] and s["clean"] == s["resumed_identical"] == s["interrupts"]
    print(json.dumps(results))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
