"""Resumable disorder-averaged sweeps of the heat flux J(N): the pipeline behind Fig. 4.

A sweep evaluates J (Eq. 16, exact residue sum) for every combination of mass
configuration × k0 × Ñ × N × realization given by a :class:`SweepConfig`, and writes an
:class:`xarray.Dataset` to netCDF with the per-realization fluxes, their mean and standard
error, the large-N predictions of Eqs. 25/30 and a fitted exponent α of J ∝ N^−α per curve.

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
  (:mod:`meanfield_jax._io`). A checkpoint with a different configuration hash is an error (``--fresh``
  discards it).

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

Cost: Σ over tasks of O(N²) (residues) — about 0.07 s per chain at N = 10³ and 5 s at
N = 10⁴ on a 2-core CPU — plus one compilation (~15 s on that CPU) per size and device
layout. Compiled programs go to JAX's persistent compilation cache (the CLI enables it in
``~/.cache/meanfield_jax/xla`` unless ``JAX_COMPILATION_CACHE_DIR`` is set or
``--no-compile-cache`` is given), so reruns and resumed runs skip most compilation.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import hashlib
import io
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from . import _interrupt
from ._config import enable_compile_cache
from ._configfile import fail, number, read_toml
from ._buckets import ENV_VAR, active_ladder, buckets_enabled, merged_buckets, pad_chain
from ._io import atomic_write, atomic_write_bytes, check_writable, netcdf_engine

__all__ = [
    "SweepConfig",
    "make_config",
    "load_config",
    "builtin_config",
    "BUILTINS",
    "run_sweep",
    "fit_power_law",
    "add_fits",
    "add_sweep_commands",
]

_MASS_KINDS = ("identical", "graded", "random", "alternating")
_METHODS = ("residues", "lyapunov")


# ----------------------------------------------------------------------------- configuration


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration (build it with :func:`make_config`).

    Attributes (config keys):
      sizes: chain sizes N (sorted, distinct, each >= 2).
      masses: mass configurations, from ``identical``, ``graded``, ``random``, ``alternating``
        (alternating: m − δ, m + δ, …).
      delta: disorder amplitude δ (graded: m ± δ at the ends; random: uniform in m ± δ).
      m: mean mass m.
      k: coupling k (Eq. 1).
      k0: pinning stiffnesses k0 (one curve each).
      n_tilde: ``"kac"`` (Ñ = N − 1) and/or positive numbers (Ñ fixed).
      gamma, t_left, t_right, k_prime: baths (γ, T_L, T_R) and wall springs k'.
      realizations: realizations of random masses, one per size.
      seed: seed of the random masses.
      chunk_size: chains per compiled call and per checkpoint (memory bound).
      batch_size: chains vmapped together on a device (0: automatic from N).
      method: flux method, ``residues`` (exact, O(N²)) or ``lyapunov`` (O(N³)).
      fit_min_n, fit_max_n: size range of the power-law fit J ∝ N^−α.
    """

    sizes: tuple[int, ...]
    masses: tuple[str, ...] = ("identical", "graded", "random")
    delta: float = 0.1
    m: float = 1.0
    k: float = 0.1
    k0: tuple[float, ...] = (0.0, 0.02)
    n_tilde: tuple[str | float, ...] = ("kac", 1.0)
    gamma: float = 1.0
    t_left: float = 1.0
    t_right: float = 0.0
    k_prime: float = 0.0
    realizations: tuple[int, ...] = ()
    seed: int = 0
    chunk_size: int = 16
    batch_size: int = 0
    method: str = "residues"
    fit_min_n: float = 50.0
    fit_max_n: float = math.inf

    # -- derived ------------------------------------------------------------------------------
    def physics(self) -> dict:
        """Everything that determines the numbers (hashed for checkpoints)."""
        keys = ("sizes", "masses", "delta", "m", "k", "k0", "n_tilde", "gamma", "t_left",
                "t_right", "k_prime", "realizations", "seed", "method")
        return {key: _jsonable(getattr(self, key)) for key in keys}

    def config_hash(self) -> str:
        text = json.dumps(self.physics(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @property
    def max_realizations(self) -> int:
        return max(self.realizations) if "random" in self.masses else 1

    def n_tilde_labels(self) -> list[str]:
        return [_n_tilde_label(x) for x in self.n_tilde]


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def _n_tilde_label(value) -> str:
    if isinstance(value, str):
        return "kac"
    return f"{value:g}"


_KEYS = {f.name for f in dataclasses.fields(SweepConfig)}


def _fail(key, message):
    fail("sweep config", key, message)


def _as_list(key, value):
    if isinstance(value, (list, tuple)):
        if not value:
            _fail(key, "must not be empty")
        return list(value)
    return [value]


def _number(key, value, **checks):
    return number("sweep config", key, value, **checks)


def make_config(mapping: dict | None = None, **overrides) -> SweepConfig:
    """Validate a configuration mapping (e.g. a parsed TOML file) plus overrides.

    Raises:
      ValueError: naming the key, for an unknown key, a missing ``sizes``, or an invalid value
        (before any computation).

    >>> cfg = make_config({"sizes": [10, 20], "realizations": 5, "k0": 0.02})
    >>> cfg.sizes, cfg.realizations, cfg.k0, cfg.n_tilde
    ((10, 20), (5, 5), (0.02,), ('kac', 1.0))
    """
    raw = dict(mapping or {})
    raw.update({key: value for key, value in overrides.items() if value is not None})
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        _fail(unknown[0], f"is not a sweep config key (allowed: {', '.join(sorted(_KEYS))})")
    if "sizes" not in raw:
        _fail("sizes", "is required (a list of chain sizes N >= 2)")
    out: dict[str, Any] = {}
    sizes = [_number("sizes", n, integer=True) for n in _as_list("sizes", raw["sizes"])]
    if any(n < 2 for n in sizes):
        _fail("sizes", f"must all be >= 2, got {sizes}")
    if len(set(sizes)) != len(sizes):
        _fail("sizes", f"must be distinct, got {sizes}")
    order = np.argsort(sizes)
    out["sizes"] = tuple(sizes[i] for i in order)

    if "masses" in raw:
        kinds = _as_list("masses", raw["masses"])
        for kind in kinds:
            if kind not in _MASS_KINDS:
                _fail("masses", f"entries must be one of {_MASS_KINDS}, got {kind!r}")
        if len(set(kinds)) != len(kinds):
            _fail("masses", f"must be distinct, got {kinds}")
        out["masses"] = tuple(kinds)
    for key in ("m", "gamma"):
        if key in raw:
            out[key] = _number(key, raw[key], positive=True)
    for key in ("k", "t_left", "t_right", "k_prime"):
        if key in raw:
            out[key] = _number(key, raw[key], nonnegative=True)
    m = out.get("m", SweepConfig.m)
    if "delta" in raw:
        out["delta"] = _number("delta", raw["delta"], nonnegative=True)
        if out["delta"] >= m:
            _fail("delta", f"must be < m = {m} (masses must stay positive), got {out['delta']}")
    if out.get("k", SweepConfig.k) <= 0:
        _fail("k", "must be > 0 (k = 0 decouples the chain: J = 0)")
    if "k0" in raw:
        k0 = [_number("k0", x, nonnegative=True) for x in _as_list("k0", raw["k0"])]
        if len(set(k0)) != len(k0):
            _fail("k0", f"must be distinct, got {k0}")
        out["k0"] = tuple(k0)
    if "n_tilde" in raw:
        values = []
        for x in _as_list("n_tilde", raw["n_tilde"]):
            if isinstance(x, str):
                if x.lower() != "kac":
                    _fail("n_tilde", f"entries must be 'kac' or positive numbers, got {x!r}")
                values.append("kac")
            else:
                values.append(_number("n_tilde", x, positive=True))
        if len({_n_tilde_label(v) for v in values}) != len(values):
            _fail("n_tilde", f"must be distinct, got {values}")
        out["n_tilde"] = tuple(values)
    reps = [_number("realizations", r, integer=True)
            for r in _as_list("realizations", raw.get("realizations", 1))]
    if any(r < 1 for r in reps):
        _fail("realizations", f"must be >= 1, got {reps}")
    if len(reps) == 1:
        reps = reps * len(out["sizes"])
    elif len(reps) != len(out["sizes"]):
        _fail("realizations", f"must be one number or one per size ({len(out['sizes'])}), "
                              f"got {len(reps)}")
    else:
        reps = [reps[i] for i in order]
    out["realizations"] = tuple(reps)
    if "seed" in raw:
        out["seed"] = _number("seed", raw["seed"], integer=True, nonnegative=True)
    if "chunk_size" in raw:
        out["chunk_size"] = _number("chunk_size", raw["chunk_size"], integer=True, positive=True)
    if "batch_size" in raw:
        out["batch_size"] = _number("batch_size", raw["batch_size"], integer=True,
                                    nonnegative=True)
    if "method" in raw:
        if raw["method"] not in _METHODS:
            _fail("method", f"must be one of {_METHODS}, got {raw['method']!r}")
        out["method"] = raw["method"]
    for key in ("fit_min_n", "fit_max_n"):
        if key in raw:
            out[key] = _number(key, raw[key], nonnegative=True, allow_inf=True)
    return SweepConfig(**out)


def load_config(path: str, **overrides) -> SweepConfig:
    """Read a TOML sweep configuration (keys as :class:`SweepConfig`) and validate it."""
    return make_config(read_toml(path, "sweep config"), **overrides)


def _log_sizes(lo, hi, count) -> list[int]:
    return [int(x) for x in np.unique(np.round(np.logspace(np.log10(lo), np.log10(hi), count)))]


#: Built-in configurations (``--builtin NAME``); ``configs/fig4*.toml`` hold the same values.
BUILTINS: dict[str, dict] = {
    # Fig. 4 at modest sizes: a couple of minutes on a 2-core CPU (first run, compiling).
    "fig4-quick": dict(
        sizes=[10, 25, 63, 158, 398, 1000], masses=["identical", "graded", "random"],
        delta=0.1, m=1.0, k=0.1, k0=[0.0, 0.02], n_tilde=["kac", 1], gamma=1.0,
        t_left=1.0, t_right=0.0, realizations=16, seed=0, chunk_size=16, fit_min_n=50),
    # Fig. 4 in full: 12 sizes log-spaced over 10..10^4, R = 100 random realizations at
    # every size (4896 exact chains; ~0.4–0.6 s per chain at N = 10^4 on a 2-core CPU).
    "fig4": dict(
        sizes=_log_sizes(10, 10_000, 12), masses=["identical", "graded", "random"],
        delta=0.1, m=1.0, k=0.1, k0=[0.0, 0.02], n_tilde=["kac", 1], gamma=1.0,
        t_left=1.0, t_right=0.0, realizations=100, seed=0,
        chunk_size=16, fit_min_n=400),
}


def builtin_config(name: str, **overrides) -> SweepConfig:
    """A built-in configuration by name (``fig4-quick`` or ``fig4``) with overrides."""
    if name not in BUILTINS:
        raise ValueError(f"unknown builtin sweep {name!r} (choose from {sorted(BUILTINS)})")
    return make_config(BUILTINS[name], **overrides)


# ----------------------------------------------------------------------------- task plan


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Flat task list: column arrays of (kind, k0, n_tilde, size, realization) indices."""

    kind: np.ndarray
    k0: np.ndarray
    nt: np.ndarray
    size: np.ndarray
    rep: np.ndarray
    chunks: tuple[tuple[int, int], ...]  # [start, stop) task ranges, each at one size
    padded: tuple[int, ...]  # per size: the size of its compiled program (size bucket)

    @property
    def n_tasks(self) -> int:
        return self.kind.size


def _plan(cfg: SweepConfig) -> _Plan:
    rows = []
    chunks = []
    for i_n, n in enumerate(cfg.sizes):
        start = len(rows)
        for i_kind, kind in enumerate(cfg.masses):
            if kind == "random":
                continue
            for i_k0 in range(len(cfg.k0)):
                for i_nt in range(len(cfg.n_tilde)):
                    rows.append((i_kind, i_k0, i_nt, i_n, 0))
        if "random" in cfg.masses:
            i_kind = cfg.masses.index("random")
            for r in range(cfg.realizations[i_n]):
                for i_k0 in range(len(cfg.k0)):
                    for i_nt in range(len(cfg.n_tilde)):
                        rows.append((i_kind, i_k0, i_nt, i_n, r))
        for lo in range(start, len(rows), cfg.chunk_size):
            chunks.append((lo, min(lo + cfg.chunk_size, len(rows))))
    cols = np.array(rows, dtype=np.int64).reshape(-1, 5).T
    padded = tuple(cfg.sizes)
    if cfg.method == "residues" and buckets_enabled():
        counts = np.bincount(cols[3], minlength=len(cfg.sizes))
        padded = tuple(merged_buckets(cfg.sizes, counts, active_ladder()))
    return _Plan(*cols, chunks=tuple(chunks), padded=padded)


def _mass_table(cfg: SweepConfig, plan: _Plan, chunks) -> dict:
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


def _chunk_systems(cfg: SweepConfig, plan: _Plan, start: int, stop: int, table: dict):
    """The chains of tasks [start, stop), padded to ``chunk_size`` by repeating the last."""
    from ._ensemble import batch_chains

    idx = np.minimum(np.arange(start, start + cfg.chunk_size), stop - 1)
    rows = np.stack([table[int(plan.size[t]), int(plan.kind[t]), int(plan.rep[t])]
                     for t in idx])
    n = rows.shape[1]
    nt = np.array([n - 1.0 if isinstance(cfg.n_tilde[i], str) else float(cfg.n_tilde[i])
                   for i in plan.nt[idx]])
    k0 = np.asarray(cfg.k0, dtype=np.float64)[plan.k0[idx]]
    return batch_chains(rows, k=cfg.k, k0=k0, n_tilde=nt, gamma=cfg.gamma, t_left=cfg.t_left,
                        t_right=cfg.t_right, k_prime=cfg.k_prime)


def _padded_chunk(cfg: SweepConfig, plan: _Plan, start: int, stop: int, table: dict):
    """(systems, extra map_ensemble args) of tasks [start, stop): the chains padded to the
    size bucket of their N with the true N as the extra argument, or unpadded and none."""
    systems = _chunk_systems(cfg, plan, start, stop, table)
    bucket = plan.padded[plan.size[start]]
    if bucket == systems.n:
        return systems, ()
    systems, n_true = pad_chain(systems, bucket)
    return systems, (n_true,)


def _checkpoint_key(cfg: SweepConfig, plan: _Plan) -> str:
    """The configuration hash, plus the size buckets where they pad: a checkpoint is resumed
    only by a run that computes every chain with the same program (bit for bit)."""
    chash = cfg.config_hash()
    if plan.padded == cfg.sizes:
        return chash
    return chash + "-" + hashlib.sha256(repr(plan.padded).encode()).hexdigest()[:8]


# ----------------------------------------------------------------------------- checkpoints


class _Results:
    """Per-task results with a done mask; serialised to / from npz bytes."""

    def __init__(self, n_tasks: int, config_hash: str):
        self.config_hash = config_hash
        self.flux = np.full(n_tasks, np.nan)
        self.error = np.full(n_tasks, np.nan)
        self.converged = np.zeros(n_tasks, dtype=bool)
        self.done = np.zeros(n_tasks, dtype=bool)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, flux=self.flux, error=self.error, converged=self.converged,
                 done=self.done, config_hash=np.array(self.config_hash))
        return buf.getvalue()

    def merge_bytes(self, data: bytes, source: str) -> None:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            if str(f["config_hash"]) != self.config_hash:
                raise _HashMismatch(source)
            if f["done"].shape != self.done.shape:
                raise _HashMismatch(source)
            new = f["done"] & ~self.done
            self.flux[new] = f["flux"][new]
            self.error[new] = f["error"][new]
            self.converged[new] = f["converged"][new]
            self.done |= new


class _HashMismatch(Exception):
    pass


def _buckets_env_note() -> str:
    return f"{ENV_VAR}={os.environ.get(ENV_VAR, '1')}"


def _checkpoint_paths(out: str) -> list[str]:
    return sorted(glob.glob(glob.escape(out) + ".partial*.npz"))


def _own_checkpoint(out: str, rank: int, count: int) -> str:
    return out + (".partial.npz" if count == 1 else f".partial.p{rank}.npz")


# ----------------------------------------------------------------------------- fitting


def fit_power_law(n, mean, stderr=None, *, min_n=0.0, max_n=math.inf):
    """Least-squares fit of log J = c − α log N over min_n <= N <= max_n.

    Weighted by the relative standard errors (σ_log J = stderr / mean) where every point in
    range has one > 0 (random masses), unweighted otherwise (deterministic masses). The
    standard error of α is scaled by the residuals (reduced χ²), so it also reflects
    curvature of log J(log N). O(number of sizes).

    Returns:
      (alpha, alpha_stderr, c, points); NaN where fewer than 2 (stderr: 3) points are usable.

    >>> import numpy as np
    >>> n = np.array([10.0, 100.0, 1000.0])
    >>> a, da, c, p = fit_power_law(n, 3.0 / n)
    >>> round(a, 12), p
    (1.0, 3)
    """
    n = np.asarray(n, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    ok = np.isfinite(mean) & (mean > 0) & (n >= min_n) & (n <= max_n)
    sigma = None
    if stderr is not None:
        stderr = np.asarray(stderr, dtype=np.float64)
        rel = stderr / np.where(mean != 0, np.abs(mean), 1.0)
        if np.all(np.isfinite(rel[ok]) & (rel[ok] > 0)):
            sigma = rel[ok]
    points = int(ok.sum())
    if points < 2:
        return math.nan, math.nan, math.nan, points
    x = np.log(n[ok])
    y = np.log(mean[ok])
    w = np.ones_like(x) if sigma is None else 1.0 / sigma**2
    xm = np.sum(w * x) / np.sum(w)
    ym = np.sum(w * y) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = np.sum(w * (x - xm) * (y - ym)) / sxx
    c = ym - slope * xm
    if points >= 3:
        chi2 = np.sum(w * (y - c - slope * x) ** 2) / (points - 2)
        stderr_slope = math.sqrt(chi2 / sxx)
    else:
        stderr_slope = math.nan
    return float(-slope), float(stderr_slope), float(c), points


def add_fits(ds, min_n=None, max_n=None):
    """Add ``alpha``, ``alpha_stderr``, ``fit_prefactor``, ``fit_points`` per curve to a dataset."""
    min_n = float(ds.attrs.get("fit_min_n", 0.0) if min_n is None else min_n)
    max_n = float(ds.attrs.get("fit_max_n", math.inf) if max_n is None else max_n)
    shape = ds["flux_mean"].shape[:-1]
    alpha = np.full(shape, np.nan)
    dalpha = np.full(shape, np.nan)
    pref = np.full(shape, np.nan)
    pts = np.zeros(shape, dtype=np.int64)
    sizes = ds["N"].values
    for idx in np.ndindex(shape):
        a, da, c, p = fit_power_law(sizes, ds["flux_mean"].values[idx],
                                    ds["flux_stderr"].values[idx], min_n=min_n, max_n=max_n)
        alpha[idx], dalpha[idx], pref[idx], pts[idx] = a, da, math.exp(c) if p >= 2 else c, p
    dims = ds["flux_mean"].dims[:-1]
    ds["alpha"] = (dims, alpha, {"long_name": "fitted exponent α of J ∝ N^-α",
                                 "fit": "least squares of log flux_mean vs log N"})
    ds["alpha_stderr"] = (dims, dalpha, {"long_name": "standard error of α",
                                         "note": "NaN where fewer than 3 sizes are in the fit "
                                                 "range: a line through 2 points has no "
                                                 "residuals to estimate it from"})
    ds["fit_prefactor"] = (dims, pref, {"long_name": "C in J ≈ C N^-α"})
    ds["fit_points"] = (dims, pts, {"long_name": "number of sizes in the fit"})
    ds.attrs["fit_min_n"] = min_n
    ds.attrs["fit_max_n"] = max_n if math.isfinite(max_n) else "inf"
    used = sizes[(sizes >= min_n) & (sizes <= max_n)]
    ds.attrs["fit_sizes"] = used.astype(np.int64)
    return ds


# ----------------------------------------------------------------------------- dataset


def _dataset(cfg: SweepConfig, plan: _Plan, res: _Results, info: dict):
    import jax
    import xarray as xr

    from . import analytic

    shape = (len(cfg.masses), len(cfg.k0), len(cfg.n_tilde), len(cfg.sizes),
             cfg.max_realizations)
    flux = np.full(shape, np.nan)
    err = np.full(shape, np.nan)
    conv = np.zeros(shape, dtype=np.int8)
    where = (plan.kind, plan.k0, plan.nt, plan.size, plan.rep)
    flux[where] = res.flux
    err[where] = res.error
    conv[where] = res.converged
    from ._ensemble import ensemble_mean

    good = np.where(conv.astype(bool), flux, np.nan)
    stats = ensemble_mean(good, axis=-1)
    nrep = np.zeros((len(cfg.masses), len(cfg.sizes)), dtype=np.int64)
    for i, kind in enumerate(cfg.masses):
        nrep[i] = cfg.realizations if kind == "random" else 1
    sizes = np.asarray(cfg.sizes)
    asym = np.empty((len(cfg.k0), len(cfg.n_tilde), len(cfg.sizes)))
    for a, k0 in enumerate(cfg.k0):
        for b, nt in enumerate(cfg.n_tilde):
            asym[a, b] = np.asarray(analytic.flux_asymptotic(
                sizes.astype(float), cfg.m, cfg.k, k0, cfg.gamma, kac=isinstance(nt, str)))
    asym *= cfg.t_left - cfg.t_right
    dims5 = ("masses", "k0", "n_tilde", "N", "realization")
    ds = xr.Dataset(
        {
            "flux": (dims5, flux, {"long_name": "heat flux J (Eq. 16)", "units": "energy/time"}),
            "flux_error": (dims5, err, {"long_name": "numerical error estimate of J"}),
            "converged": (dims5, conv, {"long_name": "1 if the flux method converged"}),
            "flux_mean": (dims5[:-1], stats.mean,
                          {"long_name": "mean of J over realizations (converged only)"}),
            "flux_stderr": (dims5[:-1], stats.stderr,
                            {"long_name": "standard error of the mean (0: deterministic)"}),
            "n_realizations": (("masses", "N"), nrep,
                               {"long_name": "realizations computed per (masses, N)"}),
            "flux_asymptotic": (("k0", "n_tilde", "N"), asym,
                                {"long_name": "large-N prediction, Eq. 25 (k0 = 0 or Ñ = 1) "
                                              "or Eq. 30, times ΔT, at mean mass m"}),
        },
        coords={
            "masses": list(cfg.masses),
            "k0": np.asarray(cfg.k0, dtype=np.float64),
            "n_tilde": cfg.n_tilde_labels(),
            "N": sizes.astype(np.int64),
            "realization": np.arange(cfg.max_realizations, dtype=np.int64),
        },
    )
    from . import __version__

    attrs = {
        "title": "meanfield_jax heat-flux sweep (PRE 105, 054149, Fig. 4)",
        "complete": 1,
        "config_json": json.dumps(cfg.to_dict(), sort_keys=True),
        "config_hash": cfg.config_hash(),
        "method": cfg.method,
        "meanfield_jax_version": __version__,
        "jax_version": jax.__version__,
        "numpy_version": np.__version__,
        "devices": ", ".join(info["devices"]),
        "process_count": info["process_count"],
        "deterministic_masses": "identical/graded/alternating masses do not depend on the "
                                "realization: computed once, stored at realization 0 "
                                "(other entries NaN, flux_stderr 0)",
        "random_masses": "realization r uses masses.realization_key(seed, N, r); "
                         "the same masses for every k0 and n_tilde",
        "n_tilde_kac_means": "N - 1",
        "elapsed_s": info["elapsed_s"],
        "seconds_per_size": np.asarray(info["seconds_per_size"]),
        "size_buckets": np.asarray(plan.padded, dtype=np.int64),
        "size_buckets_note": "per N, the size of the compiled program that computed it "
                             "(inert padding, meanfield_jax._buckets; equal to N: unpadded)",
        "seconds_per_size_note": "process 0's wall time per size in the last run, compilation "
                                 "included (0 for sizes restored from checkpoints)",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for key, value in cfg.to_dict().items():
        if key in ("n_tilde",):
            attrs[key] = ", ".join(cfg.n_tilde_labels())
        elif isinstance(value, list):
            attrs[key] = np.asarray(value) if not isinstance(value[0], str) else ", ".join(value)
        else:
            attrs[key] = value
    ds.attrs.update(attrs)
    return add_fits(ds, cfg.fit_min_n, cfg.fit_max_n)


def _write_netcdf(ds, path: str) -> None:
    """Write ``ds`` atomically: to a temporary file in the same folder, then os.replace."""
    atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine=netcdf_engine(), format="NETCDF4"))


# ----------------------------------------------------------------------------- running


def _distributed_client():
    from jax._src import distributed

    client = distributed.global_state.client
    if client is None:
        raise RuntimeError("jax.distributed is not initialized")
    return client


def run_sweep(cfg: SweepConfig, out: str, *, devices=None, progress: bool | None = None,
              fresh: bool = False, distributed: bool = False, gather_timeout_s: float = 7 * 86400,
              log=None):
    """Run (or resume) a sweep and write the dataset to ``out`` (netCDF) atomically.

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
      ValueError: if ``out`` is not writable (before computing anything), or a checkpoint
        belongs to a different configuration.
      RuntimeError: if a process's results never arrive.

    Cost: Σ_tasks O(N²) flux evaluations (see the module docstring) plus one compilation
    per size; checkpoints O(tasks) bytes after every chunk.
    """
    import jax

    from ._ensemble import compile_ensemble, device_mesh, flux_fn, map_ensemble

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    start_time = time.perf_counter()
    rank, count = (jax.process_index(), jax.process_count()) if distributed else (0, 1)
    if rank == 0:
        check_writable(out, "--out")
    plan = _plan(cfg)
    chash = cfg.config_hash()
    res = _Results(plan.n_tasks, _checkpoint_key(cfg, plan))
    own = _own_checkpoint(out, rank, count)
    for path in _checkpoint_paths(out):
        if fresh:
            if path == own:
                os.unlink(path)
            continue
        try:
            with open(path, "rb") as fh:
                res.merge_bytes(fh.read(), path)
        except _HashMismatch:
            raise ValueError(f"checkpoint {path} belongs to a different sweep configuration "
                             f"(or size buckets, {_buckets_env_note()}); delete it or rerun "
                             "with --fresh") from None
        except (OSError, ValueError, KeyError) as exc:
            log(f"warning: ignoring unreadable checkpoint {path} ({exc})")
    if res.done.any():
        log(f"resuming: {int(res.done.sum())} of {plan.n_tasks} chains already done "
            f"(checkpoints {out}.partial*.npz)")

    mesh = device_mesh(devices)
    fn = flux_fn(cfg.method)
    mine = [c for j, c in enumerate(plan.chunks) if j % count == rank]
    todo = [c for c in mine if not res.done[c[0]:c[1]].all()]
    work = lambda c: (c[1] - c[0]) * cfg.sizes[plan.size[c[0]]] ** 2  # noqa: E731
    total = sum(work(c) for c in mine)
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm import tqdm

    bar = tqdm(total=total, initial=total - sum(work(c) for c in todo), disable=not progress,
               unit="N²", unit_scale=True, desc=f"sweep p{rank}" if count > 1 else "sweep",
               bar_format="{l_bar}{bar}| {percentage:3.0f}% [{elapsed}<{remaining}] {postfix}",
               file=sys.stderr)
    seconds = np.zeros(len(cfg.sizes))  # compute time per size in this run (incl. compiling)
    options = dict(chunk_size=cfg.chunk_size, batch_size=cfg.batch_size or None, devices=mesh)
    # One program per size bucket, all compiled at once in threads (XLA compiles outside the
    # GIL): with two cores, two compilations take the time of one.
    table = _mass_table(cfg, plan, todo)
    first = {}
    for lo, hi in todo:
        first.setdefault(plan.padded[plan.size[lo]], (lo, hi))
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(first), os.cpu_count() or 1, 4)))
    programs = {}
    for bucket, (lo, hi) in first.items():
        systems, args = _padded_chunk(cfg, plan, lo, hi, table)
        programs[bucket] = pool.submit(compile_ensemble, fn, systems, *args, **options)
    try:
        for lo, hi in todo:
            n = cfg.sizes[plan.size[lo]]
            bar.set_postfix_str(f"N = {n}")
            tick = time.perf_counter()
            programs[plan.padded[plan.size[lo]]].result()  # compiled (or raises its error)
            systems, args = _padded_chunk(cfg, plan, lo, hi, table)
            flux, err, ok = map_ensemble(fn, systems, *args, **options)
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
        ds = _dataset(cfg, plan, res, info)
        _write_netcdf(ds, out)
    if count > 1:
        _distributed_client().wait_at_barrier(f"meanfield_jax/sweep/{chash}/written",
                                              int(gather_timeout_s * 1000))
    for path in [own] if count > 1 else _checkpoint_paths(out):
        if os.path.exists(path):
            os.unlink(path)
    return ds


# ----------------------------------------------------------------------------- reporting


def format_exponents(ds) -> str:
    """One line per curve: masses, k0, Ñ, α ± δα and the fitted size range.

    δα needs at least 3 sizes in the fit range (a line through 2 points leaves no residuals
    to estimate it): with 2 the line says "± undefined" and a note says why; with fewer, α
    itself is undefined.
    """
    sizes = [int(x) for x in np.atleast_1d(ds.attrs["fit_sizes"])]
    lines = [f"fitted exponents, J ∝ N^-α (least squares over N in "
             f"[{ds.attrs['fit_min_n']:g}, {ds.attrs['fit_max_n']}], sizes {sizes}):"]
    short = False
    for kind in ds["masses"].values:
        for k0 in ds["k0"].values:
            for nt in ds["n_tilde"].values:
                sel = dict(masses=kind, k0=k0, n_tilde=nt)
                a = float(ds["alpha"].sel(sel))
                da = float(ds["alpha_stderr"].sel(sel))
                points = int(ds["fit_points"].sel(sel))
                label = "N-1" if nt == "kac" else nt
                head = f"  {kind:<11s} k0 = {k0:<5g} Ñ = {label:<4s} "
                if points < 2:
                    lines.append(head + f"α undefined ({points} usable size in the fit range; "
                                        "a fit needs 2)")
                    short = True
                elif points < 3 or not math.isfinite(da):
                    lines.append(head + f"α = {a:.4f} ± undefined (2 sizes)   "
                                        f"|α − 1| = {abs(a - 1):.4f}")
                    short = True
                else:
                    lines.append(head + f"α = {a:.4f} ± {da:.4f}   |α − 1| = {abs(a - 1):.4f}")
    if short:
        lines.append("  note: the uncertainty of α needs at least 3 sizes in the fit range (a "
                     "line through 2 points has no residuals); add sizes or widen "
                     "fit_min_n / fit_max_n")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- CLI


def _csv(convert):
    def parse(text):
        try:
            return [convert(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _n_tilde_item(text):
    return "kac" if text.lower() == "kac" else float(text)


def _float_item(text):
    return float(text)


def _config_from_args(args) -> SweepConfig:
    overrides = dict(sizes=args.sizes, masses=args.masses, delta=args.delta, m=args.m, k=args.k,
                     k0=args.k0, n_tilde=args.n_tilde, gamma=args.gamma, t_left=args.t_left,
                     t_right=args.t_right, k_prime=args.k_prime, realizations=args.realizations,
                     seed=args.seed, chunk_size=args.chunk_size, batch_size=args.batch_size,
                     method=args.method, fit_min_n=args.fit_min_n, fit_max_n=args.fit_max_n)
    if args.builtin and args.config:
        raise ValueError("give either CONFIG.toml or --builtin, not both")
    if args.builtin:
        return builtin_config(args.builtin, **overrides)
    if not args.config:
        raise ValueError("give a CONFIG.toml file or --builtin fig4-quick|fig4")
    return load_config(args.config, **overrides)


def _run_sweep_command(args) -> int:
    cfg = _config_from_args(args)  # validation first: nothing computed on a bad config
    check_writable(args.out, "--out")
    if args.plot:
        check_writable(args.plot, "--plot")
    _interrupt.set_message(f"sweep interrupted; rerun the same command to resume "
                           f"(checkpoint {args.out}.partial*.npz)")
    import jax

    if args.distributed or args.coordinator:
        kw = {}
        if args.coordinator:
            kw = dict(coordinator_address=args.coordinator, num_processes=args.num_processes,
                      process_id=args.process_id)
        jax.distributed.initialize(**kw)
    if not args.no_compile_cache:
        enable_compile_cache(args.compile_cache)

    distributed = bool(args.distributed or args.coordinator)
    ds = run_sweep(cfg, args.out, devices=args.devices, progress=args.progress,
                   fresh=args.fresh, distributed=distributed)
    if ds is None:
        return 0
    print(f"wrote {args.out} ({ds.attrs['elapsed_s']:.1f} s, devices: {ds.attrs['devices']})")
    print(format_exponents(ds))
    bad = int((ds["converged"].values == 0).sum() - np.isnan(ds["flux"].values).sum())
    if args.plot:
        from ._plot import plot_fig4

        plot_fig4(ds, args.plot)
        print(f"wrote {args.plot}")
    if bad:
        print(f"meanfield-jax: warning: {bad} chains did not converge (excluded from means)",
              file=sys.stderr)
        return 1
    return 0


def _run_plot_command(args) -> int:
    import xarray as xr

    from ._plot import plot_fig4

    check_writable(args.out, "--out")
    if not os.path.isfile(args.result):
        raise ValueError(f"result file not found: {args.result}")
    try:
        ds = xr.load_dataset(args.result, engine=netcdf_engine())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{args.result} is not a readable netCDF file ({exc})") from None
    try:
        plot_fig4(ds, args.out, y=args.y)
    except ValueError as exc:
        raise ValueError(f"{args.result}: {exc}") from None
    print(f"wrote {args.out}")
    return 0


def add_sweep_commands(subparsers) -> None:
    """Register the ``sweep`` and ``plot`` subcommands on an argparse subparsers object."""
    p = subparsers.add_parser(
        "sweep", help="disorder-averaged J(N) sweep to netCDF (resumable)",
        description="Heat flux J over mass configurations × k0 × Ñ × N × realizations "
                    "(Fig. 4 of PRE 105, 054149), written atomically to netCDF with means, "
                    "standard errors and fitted exponents α of J ∝ N^-α. Rerun the same "
                    "command after an interruption to resume. Flags override config keys.")
    p.add_argument("config", nargs="?", help="TOML config file (keys: see SweepConfig)")
    p.add_argument("--builtin", choices=sorted(BUILTINS), help="a built-in config instead")
    p.add_argument("--out", required=True, help="result netCDF file (written atomically)")
    p.add_argument("--plot", help="also draw Fig. 4 to this image file")
    g = p.add_argument_group("config overrides")
    g.add_argument("--sizes", type=_csv(int), help="comma-separated N")
    g.add_argument("--masses", type=_csv(str), help="comma list: identical,graded,random,...")
    g.add_argument("--delta", type=float)
    g.add_argument("--m", type=float)
    g.add_argument("--k", type=float)
    g.add_argument("--k0", type=_csv(_float_item), help="comma-separated k0 values")
    g.add_argument("--n-tilde", type=_csv(_n_tilde_item), help="comma list of 'kac' / numbers")
    g.add_argument("--gamma", type=float)
    g.add_argument("--t-left", type=float)
    g.add_argument("--t-right", type=float)
    g.add_argument("--k-prime", type=float)
    g.add_argument("--realizations", type=_csv(int), help="one number or one per size")
    g.add_argument("--seed", type=int)
    g.add_argument("--chunk-size", type=int)
    g.add_argument("--batch-size", type=int, help="vmap width (0: automatic)")
    g.add_argument("--method", choices=_METHODS)
    g.add_argument("--fit-min-n", type=float)
    g.add_argument("--fit-max-n", type=float)
    r = p.add_argument_group("execution")
    r.add_argument("--devices", type=int, help="use the first D local devices (default: all)")
    r.add_argument("--fresh", action="store_true", help="discard checkpoints, start over")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    r.add_argument("--compile-cache", metavar="DIR",
                   help="persistent XLA cache folder (default ~/.cache/meanfield_jax/xla)")
    r.add_argument("--no-compile-cache", action="store_true")
    r.add_argument("--distributed", action="store_true",
                   help="multi-process run: jax.distributed.initialize() (SLURM auto-detected)")
    r.add_argument("--coordinator", help="HOST:PORT of process 0 (implies --distributed)")
    r.add_argument("--num-processes", type=int)
    r.add_argument("--process-id", type=int)
    p.set_defaults(func=_run_sweep_command)

    q = subparsers.add_parser("plot", help="draw Fig. 4 from a sweep result",
                              description="Fig. 4 of PRE 105, 054149 from a sweep netCDF file.")
    q.add_argument("result", help="netCDF file written by 'meanfield-jax sweep'")
    q.add_argument("--out", required=True, help="image file (png, pdf, svg)")
    q.add_argument("--y", choices=["flux", "nflux"], default="flux",
                   help="plot J (default) or N·J/ΔT")
    q.set_defaults(func=_run_plot_command)
