"""The sweep pipeline: plan, compute (resumable, multi-process) and write J(N) sweeps (Fig. 4).

A sweep evaluates J (Eq. 16, exact residue sum) for every combination of mass
configuration × (α) × k0 × Ñ × N × realization given by a :class:`SweepConfig`
(``_sweep_config``), and writes an :class:`xarray.Dataset` (``_dataset``) to netCDF with the
per-realization fluxes, their mean and standard error, the large-N predictions of
Eqs. 25/30 and a fitted exponent α of J ∝ N^−α per curve.

Work layout
  The sweep is a flat list of *tasks* (one chain each), ordered by N; at each N the tasks
  are cut into chunks of ``chunk_size`` chains, each one compiled call of
  :func:`meanfield_jax._ensemble.map_ensemble` (vmapped, sharded over this process's
  devices). Identical, graded and alternating masses do not depend on the realization: they
  are computed once per (N, k0, Ñ) and stored at ``realization = 0`` (the other entries are
  NaN; ``n_realizations`` counts 1 and ``flux_stderr`` is 0). Random masses of realization r
  come from ``masses.realization_key(seed, N, r)`` and are shared by every (k0, Ñ).
  ``realizations`` may be one number or one per size (fewer realizations at the largest N,
  where one chain costs seconds); entries beyond a size's count are NaN.

Models
  ``model = "mean_field"`` sweeps :class:`MeanFieldChain` (Eq. 1). The network models build
  each task's :class:`HarmonicNetwork` with its constructor in ``meanfield_jax.networks``
  (``power_law`` for each exponent of ``alpha``, ``nearest_neighbour``, ``random_springs``)
  from the task's masses, stack a chunk with ``stack_systems`` and evaluate it with the
  secular normal-mode solver (``_secular``: one ``eigh``, O(N³), then the residue flux,
  O(N²)) through the same :func:`map_ensemble` programs; sizes run padded to a larger
  size of the sweep where the rule below allows it (``pad_network``: free particles,
  exactly decoupled; cost model O(N³)), else unpadded. Random springs depend on the
  realization for every mass configuration (key ``masses.realization_key(seed, N, r)``).

Nonlinear sweeps (Langevin)
  With ``nonlinearity = "fput"`` or ``"rotors"`` every task's system (built as above) is
  wrapped by ``nonlinear.fput(system, beta=, lam=)`` / ``nonlinear.rotors(system, field=)``
  and simulated by :func:`meanfield_jax.simulate` (BAOAB; trajectories vmapped, O(N), O(N log
  N) or O(N²) per particle-step by the couplings' structure), one task after the other, on
  this process's first device. The noise key of realization r at size N is
  ``_noise_key`` ``= fold_in(masses.realization_key(seed, N, r), 2)``: every task can be
  rerun alone with ``simulate`` and the same key (``chunk_size = steps_per_call``,
  ``profiles``), bit for bit; β = λ = 0 runs the harmonic engine itself. Every
  system's time step is checked before anything runs (``check_time_step``). The sweep
  checkpoint is written after every task; a running task also writes its own
  (``OUT.task<t>.npz``, every ``TASK_CHECKPOINT_S`` seconds), so an interrupted sweep resumes
  inside the task it was running, and gives the uninterrupted dataset bit for bit. The
  dataset (``_dataset.langevin_sweep_dataset``): J at both baths, T_n and their standard
  errors over trajectories per realization, means over realizations, the fit J ∝ N^−α, and
  ``method = "langevin"`` with the run settings in its attributes. Cost: Σ_tasks
  n_steps × n_trajectories × (force cost) plus one compilation per step program (system
  structure, step bucket of N, trajectories, steps_per_call).

Size buckets
  With the residue method a size may run padded to a larger size of the sweep, so that
  the two share one compiled program (``_buckets``: inert padding, results equal to the
  unpadded ones to rounding), where the padding adds at most 0.1 s or 10% of that size's
  warm work, never more than one compilation
  (:func:`meanfield_jax._buckets.merged_buckets`, the batch rule of
  ``_buckets.batch_bucket_size``): small sizes share a program, sizes whose work is worth
  it run at their exact N. fig4-quick (6 sizes, 72 chains each) compiles 4 programs, fig4
  (12 sizes, 408 each) 10. The programs are compiled at once, in threads, before the
  first chunk runs. The program sizes are part of the checkpoint's key (a resumed run uses
  the same programs) and stored in the dataset (attribute ``size_buckets``).

Checkpoints and atomic writes
  After every chunk the finished tasks are saved to ``OUT.partial.npz`` (multi-process:
  ``OUT.partial.p<rank>.npz``), written to a temporary file and moved into place with
  :func:`os.replace`, together with a hash of the configuration. Rerunning the same command
  loads every matching checkpoint and computes only the unfinished tasks, so an interrupted
  sweep (Ctrl-C, SIGTERM, SIGKILL) resumes from its last finished chunk and gives the same
  dataset, bit for bit, as an uninterrupted one (each chain is computed by the same
  program whatever its chunk). The final netCDF file is written the same way (temporary
  file + ``os.replace``, attribute ``complete = 1``), after which the checkpoints are
  removed. From the command line, SIGINT / SIGTERM end the process at once, compiling or
  not, with exit status 130 / 143 and one line on stderr (:mod:`meanfield_jax._interrupt`;
  a write in progress is finished first). Files get mode ``0666 & ~umask``
  (:mod:`meanfield_jax._io`). A checkpoint with a different configuration hash is an error
  (``--fresh`` discards it).

Several processes / nodes (``jax.distributed``)
  With ``distributed=True`` every process takes chunks j ≡ rank (mod process count), runs
  them on its own local devices and checkpoints them in its own file; results are gathered
  through the ``jax.distributed`` key–value store and process 0 writes the dataset. On a
  SLURM cluster::

      #SBATCH --nodes=4 --ntasks-per-node=1 --gpus-per-task=1
      srun meanfield-jax sweep --builtin fig4 --out /shared/fig4.nc --distributed

  (``jax.distributed.initialize()`` reads the coordinator, process count and rank from
  SLURM's environment; elsewhere pass ``--coordinator HOST:PORT --num-processes P
  --process-id I``). Checkpoints should be on a filesystem every process can see for a
  resumed run to skip other processes' finished work; without one each process still
  resumes its own.

Cost: Σ over tasks of O(B²) (residues, B the size bucket of N; O(B) for B > 4096, where
the chains run the FMM flux) plus one compilation per size bucket and device layout
(timings: ``scripts/bench_sweep.py`` and the documentation's Performance page). Compiled programs go to JAX's persistent compilation
cache (the CLI enables it in ``~/.cache/meanfield_jax/xla`` unless
``JAX_COMPILATION_CACHE_DIR`` is set or ``--no-compile-cache`` is given), so reruns and
resumed runs skip most compilation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._buckets import (ENV_VAR, active_ladder, buckets_enabled, merged_buckets, pad_chain,
                       pad_network)
from ._dataset import langevin_sweep_dataset, sweep_dataset
from ._io import (CheckpointMismatch, TaskResults, atomic_write_bytes, check_writable,
                  checkpoint_paths, process_checkpoint, task_checkpoint, write_netcdf)
from ._sweep_config import SweepConfig
from ._transport import FMM_ABOVE

__all__ = ["run_sweep", "plan_tasks", "Plan"]


# ----------------------------------------------------------------------------- task plan


@dataclasses.dataclass(frozen=True)
class Plan:
    """The sweep's flat task list: column arrays of (kind, alpha, k0, n_tilde, size,
    realization) indices (alpha: the power-law exponent, index 0 for the other models), the
    chunks, and the size bucket of every size."""

    kind: np.ndarray
    alpha: np.ndarray
    k0: np.ndarray
    nt: np.ndarray
    size: np.ndarray
    rep: np.ndarray
    chunks: tuple[tuple[int, int], ...]  # [start, stop) task ranges, each at one size
    padded: tuple[int, ...]  # per size: the size of its compiled program (size bucket)

    @property
    def n_tasks(self) -> int:
        return self.kind.size

    def tasks(self) -> tuple[np.ndarray, ...]:
        """The index columns (kind, alpha, k0, n_tilde, size, realization)."""
        return self.kind, self.alpha, self.k0, self.nt, self.size, self.rep


def plan_tasks(cfg: SweepConfig) -> Plan:
    """The tasks of ``cfg`` ordered by N, cut into chunks of ``chunk_size`` at each N, and
    the program size of every N (``_buckets.merged_buckets`` for the residue flux of
    chains and networks; the Lyapunov method runs at each N). O(tasks)."""
    rows = []
    chunks = []
    random_kinds = cfg.random_kinds()
    curves = [(i_a, i_k0, i_nt) for i_a in range(len(cfg.alphas))
              for i_k0 in range(len(cfg.k0)) for i_nt in range(len(cfg.n_tilde))]
    for i_n, n in enumerate(cfg.sizes):
        start = len(rows)
        for i_kind, kind in enumerate(cfg.masses):
            if kind not in random_kinds:
                rows += [(i_kind, *curve, i_n, 0) for curve in curves]
        for r in range(cfg.realizations[i_n]):
            for i_kind, kind in enumerate(cfg.masses):
                if kind in random_kinds:
                    rows += [(i_kind, *curve, i_n, r) for curve in curves]
        for lo in range(start, len(rows), cfg.chunk_size):
            chunks.append((lo, min(lo + cfg.chunk_size, len(rows))))
    cols = np.array(rows, dtype=np.int64).reshape(-1, 6).T
    padded = tuple(cfg.sizes)
    if cfg.method == "residues" and buckets_enabled() and not cfg.langevin:
        counts = np.bincount(cols[4], minlength=len(cfg.sizes))
        if cfg.model == "mean_field":  # (the O(N) flux above FMM_ABOVE, as "auto")
            kinds = ["residues-fmm" if n > FMM_ABOVE else "residues" for n in cfg.sizes]
        else:
            kinds = "network"
        padded = tuple(merged_buckets(cfg.sizes, counts, active_ladder(), kinds))
    return Plan(*cols, chunks=tuple(chunks), padded=padded)


def _mass_table(cfg: SweepConfig, plan: Plan, chunks) -> dict:
    """The masses of every (size, kind, realization) the chunks need, by
    :func:`meanfield_jax.masses.from_kind` (shared by every k0 and Ñ). Drawn before the
    compilations start: each new N compiles a few small programs, which would otherwise wait
    behind the large ones. Memory O(Σ_N R_N·N)."""
    from . import masses as ms

    table: dict[tuple[int, int, int], np.ndarray] = {}
    for lo, hi in chunks:
        for t in range(lo, hi):
            key = (int(plan.size[t]), int(plan.kind[t]), int(plan.rep[t]))
            if key not in table:
                table[key] = np.asarray(ms.from_kind(
                    cfg.masses[key[1]], cfg.sizes[key[0]], m=cfg.m, delta=cfg.delta,
                    seed=cfg.seed, realization=key[2]))
    return table


def _chunk_systems(cfg: SweepConfig, plan: Plan, start: int, stop: int, table: dict):
    """The systems of tasks [start, stop), padded to ``chunk_size`` by repeating the last:
    a batch of mean-field chains, or of networks (:func:`_network`, stacked)."""
    from ._ensemble import batch_chains

    idx = np.minimum(np.arange(start, start + cfg.chunk_size), stop - 1)
    rows = np.stack([table[int(plan.size[t]), int(plan.kind[t]), int(plan.rep[t])]
                     for t in idx])
    n = rows.shape[1]
    if cfg.model != "mean_field":
        from ._model import stack_systems

        built: dict[int, object] = {}  # the padding repeats the last task: build it once
        for t in idx:
            if int(t) not in built:
                built[int(t)] = _network(cfg, plan, int(t), rows[int(t) - start])
        return stack_systems([built[int(t)] for t in idx])
    nt = np.array([n - 1.0 if isinstance(cfg.n_tilde[i], str) else float(cfg.n_tilde[i])
                   for i in plan.nt[idx]])
    k0 = np.asarray(cfg.k0, dtype=np.float64)[plan.k0[idx]]
    return batch_chains(rows, k=cfg.k, k0=k0, n_tilde=nt, gamma=cfg.gamma, t_left=cfg.t_left,
                        t_right=cfg.t_right, k_prime=cfg.k_prime)


def _network(cfg: SweepConfig, plan: Plan, t: int, masses: np.ndarray):
    """The network of task ``t`` by its constructor in ``meanfield_jax.networks`` (the
    masses of its realization; random springs from ``masses.realization_key(seed, N, r)``,
    independent of the masses drawn from the same key). O(N²)."""
    from . import masses as ms
    from . import networks

    n = masses.shape[0]
    n_tilde = cfg.n_tilde[plan.nt[t]]
    common = dict(k0=float(cfg.k0[plan.k0[t]]), gamma=cfg.gamma, t_left=cfg.t_left,
                  t_right=cfg.t_right, k_prime=cfg.k_prime)
    if cfg.model == "power_law":
        return networks.power_law(masses, cfg.alpha[plan.alpha[t]], k=cfg.k, n_tilde=n_tilde,
                                  **common)
    if cfg.model == "nearest_neighbour":
        n_t = float(networks.kac_factor(n, np.inf)) if isinstance(n_tilde, str) else n_tilde
        return networks.nearest_neighbour(masses, k=cfg.k / n_t, **common)
    key = ms.realization_key(cfg.seed, n, int(plan.rep[t]))
    return networks.random_springs(key, masses, k=cfg.k, n_tilde=n_tilde, **common)


def _padded_chunk(cfg: SweepConfig, plan: Plan, start: int, stop: int, table: dict):
    """(systems, extra map_ensemble args) of tasks [start, stop): the chains padded to the
    program size of their group with the true N as the (traced) extra argument, so that one
    program serves the group (its largest size too, padded by nothing); a group of one
    size runs unpadded, with no extra argument."""
    systems = _chunk_systems(cfg, plan, start, stop, table)
    bucket = plan.padded[plan.size[start]]
    if plan.padded.count(bucket) == 1:  # a group of one size: its own, unpadded program
        return systems, ()
    if cfg.model != "mean_field":
        systems, n_true = pad_network(systems, bucket)
    else:
        systems, n_true = pad_chain(systems, bucket)
    return systems, (n_true,)


def _checkpoint_key(cfg: SweepConfig, plan: Plan) -> str:
    """The configuration hash, plus the size buckets where they pad: a checkpoint is resumed
    only by a run that computes every chain with the same program (bit for bit)."""
    chash = cfg.config_hash()
    if plan.padded == cfg.sizes:
        return chash
    return chash + "-" + hashlib.sha256(repr(plan.padded).encode()).hexdigest()[:8]


def _buckets_env_note() -> str:
    return f"{ENV_VAR}={os.environ.get(ENV_VAR, '1')}"


# ----------------------------------------------------------------------------- running


def _distributed_client():
    """The ``jax.distributed`` key–value client of this process.

    ``jax.distributed`` has no public key–value API (only ``initialize``, ``shutdown`` and
    ``is_initialized``), and the public alternative, ``multihost_utils.process_allgather``,
    is a device collective: it needs cross-process collectives (on CPU, gloo configured
    explicitly) and a timeout shorter than a sweep may need. The coordination service's
    key–value store works on every backend and waits as long as asked, so the gather uses
    it through ``jax._src.distributed``; a JAX that moves it fails here with a clear error.
    """
    try:
        from jax._src import distributed
    except ImportError as exc:
        raise RuntimeError(f"this JAX has no jax._src.distributed ({exc}); the multi-process "
                           "sweep needs its key-value store") from None

    client = getattr(getattr(distributed, "global_state", None), "client", None)
    if client is None:
        raise RuntimeError("jax.distributed is not initialized")
    return client


def _run_exact(cfg: SweepConfig, plan: Plan, res: TaskResults, mine, todo, mesh, *, own,
               out, progress, fresh, rank, count, log) -> np.ndarray:
    """Compute the chunks ``todo`` with the exact flux (residues, FMM, Lyapunov, transfer or
    Landauer) through :func:`map_ensemble`, checkpointing after each; returns the seconds
    spent per size."""
    from ._ensemble import compile_ensemble, flux_fn, map_ensemble

    fn = flux_fn("auto" if cfg.method == "residues" else cfg.method)  # O(N) above 4096
    quantum = ()
    if cfg.hbar > 0:  # Landauer: the quantum per-system program, ħ as an unbatched argument
        from ._landauer import quantum_flux_fn

        fn = quantum_flux_fn("auto")  # O(N) above 4096, as the classical flux_fn("auto")
        quantum = (np.float64(cfg.hbar),)
    work = lambda c: (c[1] - c[0]) * plan.padded[plan.size[c[0]]] ** 2  # noqa: E731
    total = sum(work(c) for c in mine)
    from tqdm import tqdm

    bar = tqdm(total=total, initial=total - sum(work(c) for c in todo), disable=not progress,
               unit="N²", unit_scale=True, desc=f"sweep p{rank}" if count > 1 else "sweep",
               bar_format="{l_bar}{bar}| {percentage:3.0f}% [{elapsed}<{remaining}] {postfix}",
               file=sys.stderr)
    seconds = np.zeros(len(cfg.sizes))  # compute time per size in this run (incl. compiling)
    options = dict(chunk_size=cfg.chunk_size, batch_size=cfg.batch_size or None, devices=mesh)
    # One program per size bucket, all compiled at once in threads: XLA compiles outside the
    # GIL, so the compilations overlap on a machine with several cores.
    table = _mass_table(cfg, plan, todo)
    first = {}
    for lo, hi in todo:
        first.setdefault(plan.padded[plan.size[lo]], (lo, hi))
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(first), os.cpu_count() or 1, 4)))
    programs = {}
    for bucket, (lo, hi) in first.items():
        systems, args = _padded_chunk(cfg, plan, lo, hi, table)
        programs[bucket] = pool.submit(compile_ensemble, fn, systems, *quantum, *args, **options)
    try:
        for lo, hi in todo:
            n = cfg.sizes[plan.size[lo]]
            bar.set_postfix_str(f"N = {n}")
            tick = time.perf_counter()
            programs[plan.padded[plan.size[lo]]].result()  # compiled (or raises its error)
            systems, args = _padded_chunk(cfg, plan, lo, hi, table)
            flux, err, ok = map_ensemble(fn, systems, *quantum, *args, **options)
            sl = slice(lo, hi)
            new = ~res.done[sl]
            res.flux[sl] = np.where(new, flux[: hi - lo], res.flux[sl])
            res.error[sl] = np.where(new, err[: hi - lo], res.error[sl])
            res.converged[sl] = np.where(new, ok[: hi - lo].astype(bool), res.converged[sl])
            res.done[sl] = True
            atomic_write_bytes(own, res.to_bytes())
            seconds[plan.size[lo]] += time.perf_counter() - tick
            bar.update(work((lo, hi)))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()

    return seconds


# ----------------------------------------------------------------------------- Langevin tasks

#: Seconds between a running Langevin task's own checkpoint writes (``OUT.task<t>.npz``).
TASK_CHECKPOINT_S = 60.0


def _noise_key(seed: int, n: int, realization: int):
    """The Langevin noise key of realization r at size N of a sweep with ``seed``:
    ``fold_in(masses.realization_key(seed, N, r), 2)``, independent of the masses (drawn
    from ``realization_key`` itself) and of random springs (``fold_in(…, 1)``). Shared by
    every mass configuration, α, k0 and Ñ at (N, r): their curves are common-random-number
    runs, and adding a value to a list leaves the other results unchanged."""
    import jax

    from . import masses as ms

    return jax.random.fold_in(ms.realization_key(seed, n, realization), 2)


def _langevin_fields(cfg: SweepConfig) -> dict:
    """The per-task observables of a Langevin sweep (name → per-task shape) that its
    checkpoints (:class:`TaskResults` extras) and dataset hold."""
    n_max = max(cfg.sizes)
    fields = {name: () for name in ("flux_left", "flux_right", "flux_left_stderr",
                                    "flux_right_stderr")}
    fields.update(temperatures=(n_max,), temperatures_stderr=(n_max,))
    if cfg.profiles:
        fields.update({name: (n_max,) for name in ("positions_sq", "positions_sq_stderr",
                                                   "energies", "energies_stderr")})
    if cfg.nonlinearity == "rotors":
        fields.update({name: () for name in ("magnetisation", "magnetisation_stderr",
                                             "magnetisation_sq", "magnetisation_sq_stderr")})
    return fields


def _langevin_system(cfg: SweepConfig, plan: Plan, t: int, table: dict):
    """Task ``t``'s harmonic system (a :class:`MeanFieldChain` as the exact sweep's chains,
    or its network), wrapped by ``nonlinear.fput`` / ``nonlinear.rotors``. O(N²) for
    networks."""
    from . import nonlinear
    from ._model import MeanFieldChain

    masses = table[int(plan.size[t]), int(plan.kind[t]), int(plan.rep[t])]
    if cfg.model == "mean_field":
        n_tilde = cfg.n_tilde[plan.nt[t]]
        system = MeanFieldChain(
            masses, k=cfg.k, k0=float(cfg.k0[plan.k0[t]]),
            n_tilde=masses.size - 1.0 if isinstance(n_tilde, str) else float(n_tilde),
            gamma=cfg.gamma, t_left=cfg.t_left, t_right=cfg.t_right, k_prime=cfg.k_prime)
    else:
        system = _network(cfg, plan, t, masses)
    if cfg.nonlinearity == "fput":
        return nonlinear.fput(system, beta=cfg.beta, lam=cfg.lam)
    return nonlinear.rotors(system, field=cfg.field)


def _run_langevin(cfg: SweepConfig, plan: Plan, res: TaskResults, mine, todo, mesh, *, own,
                  out, progress, fresh, rank, count, log) -> np.ndarray:
    """Simulate the unfinished tasks of the chunks ``todo``, one :func:`simulate` each
    (trajectories vmapped; ``_noise_key``), writing the sweep checkpoint after each task and,
    while a task runs, its own checkpoint (``_io.task_checkpoint``) every
    ``TASK_CHECKPOINT_S`` seconds, so an interrupted task resumes mid-run, bit for bit.
    Every task's time step is checked (``check_time_step``) before any runs. Returns the
    seconds spent per size."""
    import jax

    from ._langevin import check_time_step, simulate

    tasks = [t for lo, hi in todo for t in range(lo, hi) if not res.done[t]]
    table = _mass_table(cfg, plan, todo)
    for t in tasks:  # validation first: nothing is computed with an unstable dt
        try:
            check_time_step(_langevin_system(cfg, plan, t, table), cfg.dt)
        except ValueError as exc:
            raise ValueError(f"sweep config: 'dt' {exc} (N = {cfg.sizes[plan.size[t]]}, "
                             f"masses {cfg.masses[plan.kind[t]]}, k0 = "
                             f"{cfg.k0[plan.k0[t]]}, Ñ = {cfg.n_tilde[plan.nt[t]]})") from None
    for lo, hi in mine:  # the running checkpoints of finished (or discarded) tasks
        for t in range(lo, hi):
            path = task_checkpoint(out, t)
            if (fresh or res.done[t]) and os.path.exists(path):
                os.unlink(path)
    work = lambda t: cfg.sizes[plan.size[t]] * cfg.n_steps * cfg.n_trajectories  # noqa: E731
    total = sum(work(t) for lo, hi in mine for t in range(lo, hi))
    from tqdm import tqdm

    bar = tqdm(total=total, initial=total - sum(work(t) for t in tasks), disable=not progress,
               unit="particle-step", unit_scale=True,
               desc=f"sweep p{rank}" if count > 1 else "sweep",
               bar_format="{l_bar}{bar}| {percentage:3.0f}% [{elapsed}<{remaining}] {postfix}",
               file=sys.stderr)
    seconds = np.zeros(len(cfg.sizes))
    try:
        with jax.default_device(mesh.devices.flat[0]):
            for t in tasks:
                n = cfg.sizes[plan.size[t]]
                bar.set_postfix_str(f"N = {n}")
                tick = time.perf_counter()
                path = task_checkpoint(out, t)
                r = simulate(_langevin_system(cfg, plan, t, table),
                             _noise_key(cfg.seed, n, int(plan.rep[t])), cfg.n_trajectories,
                             cfg.dt, cfg.n_steps, cfg.burn_in, cfg.initial,
                             t_initial=cfg.t_initial, chunk_size=cfg.steps_per_call,
                             checkpoint=path, checkpoint_interval=TASK_CHECKPOINT_S,
                             progress=False, log=log, profiles=cfg.profiles)
                _store_langevin(res, t, r)
                if not res.converged[t]:
                    log(f"warning: N = {n}, masses {cfg.masses[plan.kind[t]]}, k0 = "
                        f"{cfg.k0[plan.k0[t]]}, Ñ = {cfg.n_tilde[plan.nt[t]]}, realization "
                        f"{int(plan.rep[t])}: the simulation diverged (non-finite J; dt too "
                        "large for the nonlinear forces?)")
                atomic_write_bytes(own, res.to_bytes())
                if os.path.exists(path):
                    os.unlink(path)
                seconds[plan.size[t]] += time.perf_counter() - tick
                bar.update(work(t))
    finally:
        bar.close()
    return seconds


def _store_langevin(res: TaskResults, t: int, r) -> None:
    """Task ``t``'s result: J = (J_L + J_R)/2 with the error (s_L + s_R)/2 (a bound on the
    standard error of the mean of two correlated estimates), and every observable."""
    res.flux[t] = 0.5 * (r.flux_left + r.flux_right)
    res.error[t] = 0.5 * (r.flux_left_stderr + r.flux_right_stderr)
    res.converged[t] = bool(np.isfinite(res.flux[t]))
    for name, value in res.extra.items():
        got = np.asarray(getattr(r, name), dtype=np.float64)
        if got.ndim:
            value[t, : got.size] = got
        else:
            value[t] = got
    res.done[t] = True


def run_sweep(cfg: SweepConfig, out: str, *, devices=None, progress: bool | None = None,
              fresh: bool = False, distributed: bool = False, gather_timeout_s: float = 7 * 86400,
              log=None):
    """Run (or resume) a sweep and write the dataset to ``out`` (netCDF) atomically.

    Exact harmonic J (Eq. 16) by default; with ``cfg.nonlinearity`` ``"fput"`` or
    ``"rotors"``, every system is simulated by the Langevin engine (module docstring,
    "Nonlinear sweeps").

    Args:
      cfg: a :class:`SweepConfig`.
      out: path of the netCDF result; checkpoints go to ``out + ".partial*.npz"``.
      devices: this process's devices to use (None: all local devices; see ``device_mesh``).
      progress: show a tqdm progress bar (None: only when stderr is a terminal).
      fresh: discard checkpoints instead of resuming from them.
      distributed: this is one of several ``jax.distributed`` processes (already
        initialized): take chunks j ≡ rank (mod processes); process 0 writes ``out``.
      gather_timeout_s: how long process 0 waits for the others' results.
      log: callable for one-line messages (default: print to stderr).

    Returns:
      the dataset (process 0; other processes return None).

    Raises:
      ValueError: if ``out`` is not writable (before computing anything), a checkpoint
        belongs to a different configuration, or (nonlinear sweeps) ``dt`` is unstable for
        some system (naming ``'dt'`` and the system; before computing anything).
      RuntimeError: if a process's results never arrive.

    Cost: Σ_tasks O(B²) (O(B) above 4096) flux evaluations (see the module docstring) plus
    one compilation per size bucket; checkpoints O(tasks) bytes after every chunk.
    Nonlinear: Σ_tasks n_steps × n_trajectories × (O(N), O(N log N) or O(N²) force), one
    compilation per step program; checkpoints after every task.

    >>> import os, tempfile
    >>> import meanfield_jax as mf
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "sweep.toml")
    >>> with open(path, "w") as f:
    ...     _ = f.write('sizes = [4, 6]\\nmasses = ["identical"]\\nk0 = [0.0]\\nn_tilde = ["kac"]\\n')
    >>> ds = mf.run_sweep(mf.load_config(path), os.path.join(folder, "sweep.nc"),
    ...                   log=lambda message: None)
    >>> exact = mf.analytic.flux_identical_exact(4, 1.0, 0.1, 0.0, "kac", 1.0)  # closed form
    >>> abs(float(ds.flux_mean.sel(N=4).squeeze()) - float(exact)) < 1e-12 * float(exact)
    True
    >>> ds.flux.dims
    ('masses', 'k0', 'n_tilde', 'N', 'realization')
    """
    import jax

    from ._ensemble import device_mesh

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    start_time = time.perf_counter()
    rank, count = (jax.process_index(), jax.process_count()) if distributed else (0, 1)
    if rank == 0:
        check_writable(out, "--out")
    plan = plan_tasks(cfg)
    chash = cfg.config_hash()
    res = TaskResults(plan.n_tasks, _checkpoint_key(cfg, plan),
                      _langevin_fields(cfg) if cfg.langevin else None)
    own = process_checkpoint(out, rank, count)
    for path in checkpoint_paths(out):
        if fresh:
            if path == own:
                os.unlink(path)
            continue
        try:
            with open(path, "rb") as fh:
                res.merge_bytes(fh.read(), path)
        except CheckpointMismatch:
            raise ValueError(f"checkpoint {path} belongs to a different sweep configuration "
                             f"(or size buckets, {_buckets_env_note()}); delete it or rerun "
                             "with --fresh") from None
        except (OSError, ValueError, KeyError) as exc:
            log(f"warning: ignoring unreadable checkpoint {path} ({exc})")
    if res.done.any():
        log(f"resuming: {int(res.done.sum())} of {plan.n_tasks} chains already done "
            f"(checkpoints {out}.partial*.npz)")

    mesh = device_mesh(devices)
    mine = [c for j, c in enumerate(plan.chunks) if j % count == rank]
    todo = [c for c in mine if not res.done[c[0]:c[1]].all()]
    if progress is None:
        progress = sys.stderr.isatty()
    run = _run_langevin if cfg.langevin else _run_exact
    seconds = run(cfg, plan, res, mine, todo, mesh, own=own, out=out, progress=progress,
                  fresh=fresh, rank=rank, count=count, log=log)

    info = {"devices": [str(d) for d in mesh.devices.flat], "process_count": count,
            "seconds_per_size": seconds}
    if count > 1:
        client = _distributed_client()
        key = f"meanfield_jax/sweep/{chash}"
        client.key_value_set_bytes(f"{key}/devices/{rank}",
                                   json.dumps(info["devices"]).encode())
        client.key_value_set_bytes(f"{key}/results/{rank}", res.to_bytes())
        if rank == 0:
            for other in range(1, count):
                try:
                    data = client.blocking_key_value_get_bytes(
                        f"{key}/results/{other}", int(gather_timeout_s * 1000))
                    devs = client.blocking_key_value_get_bytes(f"{key}/devices/{other}", 60_000)
                except Exception as exc:  # noqa: BLE001  (the client raises XlaRuntimeError)
                    raise RuntimeError(f"sweep: results of process {other} did not arrive "
                                       f"({exc})") from exc
                res.merge_bytes(data, f"process {other}")
                info["devices"] += [f"p{other}:{d}" for d in json.loads(devs)]
    ds = None
    if rank == 0:
        missing = int((~res.done).sum())
        if missing:
            raise RuntimeError(f"sweep: {missing} chains were not computed")
        info["elapsed_s"] = time.perf_counter() - start_time
        if cfg.langevin:
            ds = langevin_sweep_dataset(cfg, plan.tasks(), res, info)
        else:
            ds = sweep_dataset(cfg, plan.tasks(), plan.padded, res, info)
        write_netcdf(ds, out)
    if count > 1:
        _distributed_client().wait_at_barrier(f"meanfield_jax/sweep/{chash}/written",
                                              int(gather_timeout_s * 1000))
    for path in [own] if count > 1 else checkpoint_paths(out):
        if os.path.exists(path):
            os.unlink(path)
    return ds
