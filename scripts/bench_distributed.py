"""Sweep throughput with 1, 2, 4 local ``jax.distributed`` processes: chains per second.

Runs the same sweep (``meanfield-jax sweep ... --coordinator/--num-processes/--process-id``,
one CPU device per process) with P = 1, 2, 4 processes on this machine, each P after one
untimed run that fills a shared compilation cache (so every timed run loads its programs
instead of compiling them, as the processes of a cluster job do with ``--compile-cache`` on
a shared folder; the cache key includes the process layout). Prints, per P: wall time of the whole command (start-up, tracing and the gather
included), the sweep's own compute time (dataset attribute ``elapsed_s`` of process 0),
chains per second and the speed-up over P = 1, and checks that every dataset equals the
P = 1 dataset bit for bit.

On a machine with C cores the P processes share them: beyond P = C they only contend.

Usage: python scripts/bench_distributed.py [--processes 1 2 4] [--n 1000]
       [--realizations 512] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import xarray as xr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = """\
sizes = [{n}]
masses = ["random"]
delta = 0.1
k = 0.1
k0 = [0.02]
n_tilde = ["kac"]
realizations = {realizations}
seed = 0
chunk_size = {chunk}
fit_min_n = 0
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(config: str, out: str, processes: int, cache: str) -> float:
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} "
                         "--xla_force_host_platform_device_count=1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base = [sys.executable, "-m", "meanfield_jax._cli", "sweep", config, "--out", out,
            "--no-progress", "--fresh", "--compile-cache", cache]
    port = _free_port()
    t0 = time.perf_counter()
    if processes == 1:
        procs = [subprocess.Popen(base, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)]
    else:
        procs = [subprocess.Popen(
            base + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes),
                    "--process-id", str(i)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(processes)]
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"sweep with {processes} processes failed:\n{err[-3000:]}")
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--realizations", type=int, default=512)
    p.add_argument("--chunk-size", type=int, default=8)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_distributed_")
    config = os.path.join(tmp, "sweep.toml")
    with open(config, "w") as fh:
        fh.write(CONFIG.format(n=args.n, realizations=args.realizations,
                               chunk=args.chunk_size))
    cache = os.path.join(tmp, "xla")
    print(f"{os.cpu_count()} CPU cores; sweep of {args.realizations} mean-field chains, "
          f"N = {args.n}, chunks of {args.chunk_size}; best of {args.repeat}", flush=True)
    reference, base_rate = None, None
    print(f"{'processes':>9} {'wall [s]':>9} {'compute [s]':>11} {'chains/s':>9} "
          f"{'speed-up':>8}  dataset", flush=True)
    for procs in args.processes:
        out = os.path.join(tmp, f"p{procs}.nc")
        _run(config, out, procs, cache)  # untimed: fills the cache for this layout
        wall = min(_run(config, out, procs, cache) for _ in range(args.repeat))
        ds = xr.load_dataset(out)
        flux = ds["flux"].values
        if reference is None:
            reference = flux
        same = np.array_equal(flux, reference, equal_nan=True)
        rate = args.realizations / wall
        base_rate = base_rate or rate
        print(f"{procs:>9} {wall:9.1f} {float(ds.attrs['elapsed_s']):11.1f} {rate:9.1f} "
              f"{rate / base_rate:8.2f}  {'identical to P = 1' if same else 'DIFFERS'}",
              flush=True)


if __name__ == "__main__":
    main()
