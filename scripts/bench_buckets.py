"""Benchmark: the padding tax of the size buckets (issue 27), padded against exact size.

Every line is measured in this one run (best of ``--repeat`` warm calls, compilation
excluded) and printed as a ratio against the exact-size program (``MEANFIELD_JAX_BUCKETS=0``,
switched in this process) measured alternately with it, in wall time and in this process's
CPU time (the fairer one on a machine shared with other jobs):

1. ``ensemble_flux`` of 64 random chains at N = 400 (δ = 0.1, k = 0.1, k0 = 0.02, Kac): the
   batch rule (``_buckets.batch_bucket_size``), and the single calls' bucket (1024, what
   ensembles ran before the rule) for comparison. Target: rule ≤ 1.15× exact.
2. A sweep (``run_sweep``, sizes 398 and 700, 72 chains each as in fig4-quick; one bucket,
   1024, so the old rule ran 398 padded to 700): the warm seconds of each size (the
   dataset's ``seconds_per_size``), buckets on against off. Target ≤ 1.15×.
3. ``jax.jit(jax.vmap(transmittance))`` over 16 chains × N = 1000 × 4096 frequencies,
   padded to the bucket 1024 against exact. Target ≤ 1.15×.
4. Single calls at N = 400 (``heat_flux``, ``local_temperatures``: the interactive ones keep
   the bucket 1024) and ``local_temperatures`` against scipy's Lyapunov solver
   (``_scipy_lyapunov.py``, one call). Target ≥ 100×.
5. The programs of a 20-size interactive sequence (N log-spaced over 10…5000): the number
   of distinct buckets (compilations counted from the compile log: ``bench_compile.py``
   part 1, and ``tests/test_buckets.py::test_ladder``). Target ≤ 6.

Usage: python scripts/bench_buckets.py [--repeat 5] [--skip-sweep] [--skip-scipy]
"""

import argparse
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import meanfield_jax as mf
from meanfield_jax import _buckets
from meanfield_jax import masses as ms
from meanfield_jax._ensemble import flux_fn, map_ensemble

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _scipy_lyapunov import scipy_temperatures  # noqa: E402

ENV = _buckets.ENV_VAR


def _set(mode):
    os.environ[ENV] = mode


def _best(calls, repeat):
    """{name: Timing(best wall s, best CPU s)} of zero-argument calls, run alternately
    (after a first call each: compilation). The CPU time (``time.process_time``: all of
    this process's threads) is the fairer measure on a machine shared with other jobs,
    where the wall time also counts the waits for a core."""
    for f in calls.values():
        jax.block_until_ready(f())
    wall = dict.fromkeys(calls, np.inf)
    cpu = dict.fromkeys(calls, np.inf)
    for _ in range(repeat):
        for name, f in calls.items():
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(f())
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return {name: Timing(wall[name], cpu[name]) for name in calls}


class Timing(tuple):
    """(wall, cpu) seconds; ``a / b`` gives the two ratios as text, ``str`` the two times."""

    def __new__(cls, wall, cpu):
        return super().__new__(cls, (wall, cpu))

    def __truediv__(self, other):
        return f"{self[0] / other[0]:.2f}× wall, {self[1] / other[1]:.2f}× CPU"

    def ms(self):
        return f"{self[0] * 1e3:.1f} ms wall / {self[1] * 1e3:.1f} ms CPU"

    def __str__(self):
        return f"{self[0]:.3f} s wall / {self[1]:.3f} s CPU"


def _in_mode(mode, f):
    def call():
        _set(mode)
        return f()
    return call


def _chains(r, n, seed=0):
    return mf.batch_chains(np.asarray(ms.uniform_ensemble(seed, n, r)), k=0.1, k0=0.02)


def ensemble(repeat):
    r, n = 64, 400
    batch = _chains(r, n)
    bucket = _buckets.bucket_size(n)
    padded, n_true = _buckets.pad_chain(batch, bucket)
    fn = flux_fn("auto")
    calls = {
        "rule": _in_mode("1", lambda: mf.ensemble_flux(batch).flux),
        "exact": _in_mode("0", lambda: mf.ensemble_flux(batch).flux),
        f"bucket {bucket}": lambda: map_ensemble(fn, padded, n_true, chunk_size=16)[0],
    }
    best = _best(calls, repeat)
    _set("1")
    size = _buckets.batch_bucket_size(n, r)
    b = f"bucket {bucket}"
    print(f"1. ensemble_flux, {r} chains, N = {n}: exact {best['exact']}; rule (size {size}) "
          f"{best['rule']} = {best['rule'] / best['exact']} exact; {b} {best[b]} = "
          f"{best[b] / best['exact']}", flush=True)


def sweep(repeat):
    from meanfield_jax import _sweep, _sweep_config

    cfg = _sweep_config.make_config(dict(
        sizes=[398, 700], masses=["identical", "graded", "random"], delta=0.1, k=0.1,
        k0=[0.0, 0.02], n_tilde=["kac", 1], realizations=16, seed=0, chunk_size=16,
        fit_min_n=0))
    runs = {"1": [], "0": []}
    programs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("1", "0") * (repeat + 1):  # the first of each: compilation
            _set(mode)
            programs[mode] = _sweep.plan_tasks(cfg).padded
            c0 = time.process_time()
            ds = _sweep.run_sweep(cfg, os.path.join(tmp, f"s{mode}.nc"), progress=False,
                                  fresh=True, log=lambda m: None)
            runs[mode].append((np.asarray(ds.attrs["seconds_per_size"], dtype=float),
                               time.process_time() - c0))
    on, off = (np.min([w for w, _ in runs[mode][1:]], axis=0) for mode in ("1", "0"))
    cpu_on, cpu_off = (min(c for _, c in runs[mode][1:]) for mode in ("1", "0"))
    print(f"2. sweep, sizes {list(cfg.sizes)} × 72 chains: programs {programs['1']} (buckets "
          f"on) / {programs['0']} (off); warm wall seconds at N = 398: {on[0]:.3f} against "
          f"{off[0]:.3f} = {on[0] / off[0]:.2f}×; at 700: {on[1]:.3f} / {off[1]:.3f} = "
          f"{on[1] / off[1]:.2f}×; whole run CPU {cpu_on:.2f} / {cpu_off:.2f} s = "
          f"{cpu_on / cpu_off:.2f}×", flush=True)


def vmapped_transmittance(repeat):
    r, n, n_omega = 16, 1000, 4096
    batch = _chains(r, n)
    omega = jnp.linspace(0.01, 3.0, n_omega)
    program = jax.jit(jax.vmap(mf.transmittance, in_axes=(0, None)))
    calls = {"padded": _in_mode("1", lambda: program(batch, omega)),
             "exact": _in_mode("0", lambda: program(batch, omega))}
    best = _best(calls, repeat)
    print(f"3. jit(vmap(transmittance)), {r} chains × N = {n} × {n_omega} ω: padded to "
          f"{_buckets.bucket_size(n)} {best['padded'].ms()}, exact {best['exact'].ms()} = "
          f"{best['padded'] / best['exact']}", flush=True)


def single(repeat, scipy):
    n = 400
    m = np.asarray(jax.random.uniform(jax.random.PRNGKey(n), (n,), minval=0.9, maxval=1.1))
    chain = mf.MeanFieldChain(m, k=0.1, k0=0.02, t_left=1.5, t_right=0.5)
    calls = {f"{what} {mode}": _in_mode(mode, lambda f=f: f(chain))
             for what, f in (("J", mf.heat_flux), ("T", mf.local_temperatures))
             for mode in ("1", "0")}
    best = _best(calls, repeat)
    print(f"4. single calls at N = {n} (bucket {_buckets.bucket_size(n)}): heat_flux "
          f"padded {best['J 1'].ms()}, exact {best['J 0'].ms()} ({best['J 1'] / best['J 0']});"
          f" local_temperatures padded {best['T 1'].ms()}, exact {best['T 0'].ms()} "
          f"({best['T 1'] / best['T 0']})", flush=True)
    if scipy:
        t0, c0 = time.perf_counter(), time.process_time()
        scipy_temperatures(m, 0.1, 0.02, n - 1, 1.0, 1.5, 0.5)
        lyap = Timing(time.perf_counter() - t0, time.process_time() - c0)
        print(f"   scipy Lyapunov {lyap}: local_temperatures (default, bucket) "
              f"{lyap[0] / best['T 1'][0]:.0f}× faster (wall), {lyap[1] / best['T 1'][1]:.0f}× "
              f"(CPU); exact size {lyap[0] / best['T 0'][0]:.0f}× / "
              f"{lyap[1] / best['T 0'][1]:.0f}×", flush=True)


def interactive():
    sizes = [int(n) for n in np.geomspace(10, 5000, 20)]
    programs = sorted({_buckets.bucket_size(n, _buckets.LADDER) for n in sizes})
    print(f"5. 20-size interactive sequence 10…5000: {len(programs)} programs {programs}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--skip-scipy", action="store_true")
    args = p.parse_args()
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {os.cpu_count()} CPUs")
    ensemble(args.repeat)
    if not args.skip_sweep:
        sweep(max(1, args.repeat // 2))
    vmapped_transmittance(args.repeat)
    single(args.repeat, not args.skip_scipy)
    interactive()
    _set("1")


if __name__ == "__main__":
    main()
