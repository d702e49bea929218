"""Sweep configuration: the schema of a J(N) sweep, its validation and the built-in configs.

A :class:`SweepConfig` is what ``meanfield-jax sweep`` runs (keys as in a TOML file or the
``--builtin`` tables, flags override keys). The key ``model`` chooses the system: the
mean-field chain (default) or a network of ``meanfield_jax.networks`` (``power_law`` with
its exponents ``alpha``, ``nearest_neighbour``, ``random_springs``). The key
``nonlinearity`` (``"fput"`` with ``beta``, ``lam``; ``"rotors"`` with ``field``) wraps every
system with ``meanfield_jax.nonlinear`` and runs it through the Langevin engine with the
simulation keys ``dt``, ``n_steps``, ``burn_in``, ``n_trajectories``, ``initial``,
``t_initial`` (the ``simulate`` command's names); absent or ``"none"``, the sweep is the
exact harmonic one. Every value is checked before any computation:
an unknown key, a missing ``sizes`` or a bad value is a ``ValueError`` naming the key
(``meanfield_jax._configfile``'s convention). ``configs/fig4*.toml`` hold the same values as
:data:`BUILTINS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

import numpy as np

from ._configfile import fail, number, plain, read_toml
from .masses import KINDS as MASS_KINDS

__all__ = [
    "SweepConfig",
    "make_config",
    "load_config",
    "builtin_config",
    "BUILTINS",
    "MASS_KINDS",
    "METHODS",
    "MODELS",
    "NONLINEARITIES",
    "LANGEVIN_KEYS",
    "n_tilde_label",
]

#: Flux methods of a sweep (``residues``: exact residue sums, O(N²), or O(N) through the
#: FMM for chains with N > 4096 as ``heat_flux(method="auto")``; ``lyapunov``: O(N³)
#: reference; ``transfer``: nearest-neighbour chains by the O(N)-per-frequency recurrence).
METHODS = ("residues", "lyapunov", "transfer")

#: Systems of a sweep: ``MeanFieldChain`` or a constructor of ``meanfield_jax.networks``.
MODELS = ("mean_field", "power_law", "nearest_neighbour", "random_springs")

#: Potentials of a sweep: ``none`` (harmonic, exact solvers) or a model of
#: ``meanfield_jax.nonlinear`` (Langevin engine).
NONLINEARITIES = ("none", "fput", "rotors")

#: The keys of a nonlinear (Langevin) sweep, each an error in an exact one; ``beta`` and
#: ``lam`` only with ``fput``, ``field`` only with ``rotors``.
LANGEVIN_KEYS = ("beta", "lam", "field", "dt", "n_steps", "burn_in", "n_trajectories",
                 "initial", "t_initial", "steps_per_call", "profiles")
_OWN_KEYS = {"fput": ("beta", "lam"), "rotors": ("field",)}


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration (build it with :func:`make_config`).

    Attributes (config keys):
      model: the system, ``mean_field`` (:class:`MeanFieldChain`, Eq. 1; default) or a
        network of ``meanfield_jax.networks``: ``power_law`` (k_ij = k/(Ñ|i − j|^α)),
        ``nearest_neighbour`` (springs k/Ñ between neighbours, free ends unless k' > 0) or
        ``random_springs`` (k_ij = k u_ij/Ñ, u_ij ~ U(0, 1), drawn from
        ``masses.realization_key(seed, N, r)``: every mass configuration gets
        ``realizations`` realizations).
      alpha: exponents α >= 0 of ``power_law`` (required there, one curve each; ``inf`` =
        nearest neighbours); not allowed for the other models.
      sizes: chain sizes N (sorted, distinct, each >= 2).
      masses: mass configurations, from ``identical``, ``graded``, ``random``, ``alternating``
        (alternating: m − δ, m + δ, …).
      delta: disorder amplitude δ (graded: m ± δ at the ends; random: uniform in m ± δ).
      m: mean mass m.
      k: coupling k (Eq. 1).
      k0: pinning stiffnesses k0 (one curve each).
      n_tilde: ``"kac"`` and/or positive numbers (Ñ fixed). Kac means Ñ = N − 1 for the
        mean-field chain, ``networks.kac_factor(N, α)`` for power laws, 2(N − 1)/N (the
        α = ∞ Kac factor) for nearest neighbours and (N − 1)/2 for random springs.
      gamma, t_left, t_right, k_prime: baths (γ, T_L, T_R) and wall springs k'.
      realizations: realizations of random masses, one per size.
      seed: seed of the random masses.
      chunk_size: chains per compiled call and per checkpoint (memory bound).
      batch_size: chains vmapped together on a device (0: automatic from N).
      method: flux method, ``residues`` (exact; O(N²), O(N) for chains with N > 4096, as
        ``heat_flux(method="auto")``), ``lyapunov`` (O(N³)) or, for
        ``model = "nearest_neighbour"``, ``transfer`` (``_transfer``, ~O(N^1.5) per chain).
      fit_min_n, fit_max_n: size range of the power-law fit J ∝ N^−α.
      hbar: ħ ≥ 0; ħ > 0 sweeps the Landauer current with quantum baths (``heat_flux(...,
        hbar=ħ)``, method ``residues``); 0 (the default) the classical J.
      nonlinearity: ``none`` (default: the harmonic systems, exact J), ``fput`` or
        ``rotors``: every system wrapped by ``nonlinear.fput(system, beta=, lam=)`` or
        ``nonlinear.rotors(system, field=)`` and simulated by ``simulate`` (Langevin, BAOAB;
        the dataset's ``method`` is ``langevin``). ``method`` and ``hbar`` do not apply
        there; rotors need ``k0 = 0`` and ``k_prime = 0`` (the field pins the angles).
      beta, lam: FPUT β >= 0 (required with ``fput``) and quartic pinning λ >= 0.
      field: the rotors' field h >= 0.
      dt, n_steps, burn_in, n_trajectories: Langevin time step (dt·ω_max < 2, checked for
        every system before the sweep starts), total steps per system (burn-in included),
        steps discarded before averaging (default n_steps // 5) and independent
        trajectories per system (>= 2; the standard errors are over them).
      initial, t_initial: the trajectories' start, ``rest`` (q = v = 0; rotors aligned) or
        ``thermal`` (the harmonic part's Gibbs state at ``t_initial``, default
        (T_L + T_R)/2), as ``simulate``.
      steps_per_call: Langevin steps per compiled call (``simulate``'s ``chunk_size``; the
        noise is drawn per call, so it is part of what fixes the numbers; default
        min(1000, n_steps)); a running system's own checkpoint is written between calls.
      profiles: also keep the per-site profiles ⟨q_n²⟩ (rotors ⟨cos θ_n⟩) and the energy
        ⟨e_n⟩ (``simulate(..., profiles=True)``: one more force-sized evaluation per step;
        default false).
    """

    sizes: tuple[int, ...]
    model: str = "mean_field"
    alpha: tuple[float, ...] = ()
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
    hbar: float = 0.0
    nonlinearity: str = "none"
    beta: float = 0.0
    lam: float = 0.0
    field: float = 0.0
    dt: float = 0.05
    n_steps: int = 100_000
    burn_in: int = 20_000
    n_trajectories: int = 32
    initial: str = "rest"
    t_initial: float | None = None
    steps_per_call: int = 1000
    profiles: bool = False

    # -- derived ------------------------------------------------------------------------------
    def physics(self) -> dict:
        """Everything that determines the numbers (hashed for checkpoints)."""
        keys = ("sizes", "masses", "delta", "m", "k", "k0", "n_tilde", "gamma", "t_left",
                "t_right", "k_prime", "realizations", "seed")
        if not self.langevin:  # the exact flux method (a Langevin sweep has none)
            keys += ("method",)
        return {key: _jsonable(getattr(self, key)) for key in keys + self._model_keys()}

    def _model_keys(self) -> tuple[str, ...]:
        # absent for the mean-field chain: its hash, checkpoints and dataset attributes stay
        # those of sweeps written before networks existed
        quantum = ("hbar",) if self.hbar > 0 else ()  # classical sweeps keep their hash
        langevin = ()
        if self.langevin:  # exact sweeps keep their hash
            langevin = ("nonlinearity", *_OWN_KEYS[self.nonlinearity], "dt", "n_steps",
                        "burn_in", "n_trajectories", "initial", "steps_per_call",
                        "profiles")
            if self.initial == "thermal":
                langevin += ("t_initial",)
        if self.model == "mean_field":
            return quantum + langevin
        return ((("model", "alpha") if self.model == "power_law" else ("model",)) + quantum
                + langevin)

    def config_hash(self) -> str:
        text = json.dumps(self.physics(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        skip = ({"model", "alpha", "hbar", "nonlinearity", *LANGEVIN_KEYS}
                - set(self._model_keys()))
        if self.langevin:  # keys of the exact sweep only
            skip |= {"method", "batch_size"}
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in skip}

    def random_kinds(self) -> tuple[str, ...]:
        """The mass configurations whose systems depend on the realization."""
        if self.model == "random_springs":
            return self.masses
        return ("random",) if "random" in self.masses else ()

    @property
    def langevin(self) -> bool:
        """A nonlinear sweep, run by the Langevin engine (``nonlinearity`` not ``none``)."""
        return self.nonlinearity != "none"

    @property
    def max_realizations(self) -> int:
        return max(self.realizations) if self.random_kinds() else 1

    @property
    def alphas(self) -> tuple[float, ...]:
        """The swept exponents α (power laws), else one placeholder entry (no dimension)."""
        return self.alpha if self.model == "power_law" else (0.0,)

    def n_tilde_labels(self) -> list[str]:
        return [n_tilde_label(x) for x in self.n_tilde]


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def n_tilde_label(value) -> str:
    """The dataset label of an Ñ entry: ``"kac"`` or the number (``"1"``)."""
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
    model = raw.get("model", SweepConfig.model)
    if model not in MODELS:
        _fail("model", f"must be one of {MODELS}, got {model!r}")
    out["model"] = model
    if model == "power_law":
        if "alpha" not in raw:
            _fail("alpha", "is required for model = 'power_law' (a list of exponents >= 0)")
        alpha = [_number("alpha", a, nonnegative=True, allow_inf=True)
                 for a in _as_list("alpha", raw["alpha"])]
        if len(set(alpha)) != len(alpha):
            _fail("alpha", f"must be distinct, got {alpha}")
        out["alpha"] = tuple(sorted(alpha))
    elif "alpha" in raw:
        _fail("alpha", f"applies only to model = 'power_law', not {model!r}")
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
            if kind not in MASS_KINDS:
                _fail("masses", f"entries must be one of {MASS_KINDS}, got {kind!r}")
        if len(set(kinds)) != len(kinds):
            _fail("masses", f"must be distinct, got {kinds}")
        out["masses"] = tuple(kinds)
    for key in ("m", "gamma"):
        if key in raw:
            out[key] = _number(key, raw[key], positive=True)
    for key in ("k", "t_left", "t_right", "k_prime", "hbar"):
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
        if len({n_tilde_label(v) for v in values}) != len(values):
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
        if raw["method"] not in METHODS:
            _fail("method", f"must be one of {METHODS}, got {raw['method']!r}")
        if raw["method"] == "transfer" and out["model"] != "nearest_neighbour":
            _fail("method", "'transfer' needs model = 'nearest_neighbour' (tridiagonal K)")
        out["method"] = raw["method"]
    if out.get("hbar", 0.0) > 0 and out.get("method", SweepConfig.method) == "lyapunov":
        _fail("hbar", "> 0 needs method = 'residues' (the Lyapunov solver is classical)")
    for key in ("fit_min_n", "fit_max_n"):
        if key in raw:
            out[key] = _number(key, raw[key], nonnegative=True, allow_inf=True)
    out.update(_langevin_keys(raw, out))
    return SweepConfig(**out)


def _langevin_keys(raw: dict, out: dict) -> dict:
    """The validated nonlinearity and simulation keys (:class:`SweepConfig`); each is an
    error in an exact sweep, and ``method`` / ``hbar`` / ``batch_size`` in a Langevin one."""
    kind = raw.get("nonlinearity", "none")
    if not isinstance(kind, str) or kind.lower() not in NONLINEARITIES:
        _fail("nonlinearity", f"must be one of {NONLINEARITIES}, got {plain(kind)}")
    kind = kind.lower()
    for other, keys in _OWN_KEYS.items():
        for key in keys:
            if key in raw and kind != other:
                _fail(key, f"is used only with nonlinearity = {other!r}, not {kind!r}")
    if kind == "none":
        for key in LANGEVIN_KEYS:
            if key in raw:
                _fail(key, "is a Langevin key: it applies only with nonlinearity = 'fput' or "
                           "'rotors' (the harmonic sweep is exact)")
        return {}
    for key, why in (("method", "the flux method of the exact sweep"),
                     ("batch_size", "the vmap width of the exact sweep"),
                     ("hbar", "quantum baths are exact-sweep only")):
        if key in raw:
            _fail(key, f"does not apply with nonlinearity = {kind!r} ({why}; a nonlinear "
                       "sweep runs the Langevin engine)")
    new: dict[str, Any] = {"nonlinearity": kind}
    if kind == "fput":
        if "beta" not in raw:
            _fail("beta", "is required with nonlinearity = 'fput' (beta = 0 and lam = 0: the "
                          "harmonic chain on the Langevin engine)")
        new["beta"] = _number("beta", raw["beta"], nonnegative=True)
        new["lam"] = _number("lam", raw.get("lam", 0.0), nonnegative=True)
    else:
        new["field"] = _number("field", raw.get("field", 0.0), nonnegative=True)
        k0 = out.get("k0", SweepConfig.k0)
        if any(x != 0 for x in k0):
            _fail("k0", f"must be [0] for rotors (the field pins the angles), got {list(k0)}")
        if out.get("k_prime", 0.0) != 0:
            _fail("k_prime", f"must be 0 for rotors (wall springs act on displacements), got "
                             f"{out['k_prime']!r}")
    if "dt" in raw:
        new["dt"] = _number("dt", raw["dt"], positive=True)
    if "n_steps" in raw:
        new["n_steps"] = _number("n_steps", raw["n_steps"], integer=True, positive=True)
    n_steps = new.get("n_steps", SweepConfig.n_steps)
    if "burn_in" in raw:
        new["burn_in"] = _number("burn_in", raw["burn_in"], integer=True, nonnegative=True)
    else:
        new["burn_in"] = n_steps // 5
    if new["burn_in"] >= n_steps:
        _fail("burn_in", f"must be < n_steps = {n_steps}, got {new['burn_in']}")
    if "n_trajectories" in raw:
        new["n_trajectories"] = _number("n_trajectories", raw["n_trajectories"], integer=True)
        if new["n_trajectories"] < 2:
            _fail("n_trajectories", f"must be >= 2 (standard errors need two), got "
                                    f"{new['n_trajectories']}")
    if "steps_per_call" in raw:
        new["steps_per_call"] = _number("steps_per_call", raw["steps_per_call"], integer=True,
                                        positive=True)
    else:
        new["steps_per_call"] = min(SweepConfig.steps_per_call, n_steps)
    if "profiles" in raw:
        if not isinstance(raw["profiles"], (bool, np.bool_)):
            _fail("profiles", f"must be true or false, got {plain(raw['profiles'])}")
        new["profiles"] = bool(raw["profiles"])
    initial = raw.get("initial", SweepConfig.initial)
    if initial not in ("rest", "thermal"):
        _fail("initial", f"must be 'rest' or 'thermal', got {plain(initial)}")
    new["initial"] = initial
    if "t_initial" in raw:
        if initial != "thermal":
            _fail("t_initial", "is used only with initial = 'thermal'")
        new["t_initial"] = _number("t_initial", raw["t_initial"], nonnegative=True)
    return new


def load_config(path: str, **overrides) -> SweepConfig:
    """Read a TOML sweep configuration (keys as :class:`SweepConfig`) and validate it.

    The keys, their defaults and meanings: the documentation's configuration reference
    (generated from :class:`SweepConfig`). Nothing is computed.

    Args:
      path: the TOML file.
      **overrides: keys that replace the file's (as the command line's flags do).

    Returns:
      a validated, frozen :class:`SweepConfig`.

    Raises:
      ValueError: ``sweep config: '<key>' ...`` for an unreadable file, an unknown or
        missing key, or a bad value, naming the key.

    >>> import os, tempfile
    >>> import meanfield_jax as mf
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "sweep.toml")
    >>> with open(path, "w") as f:
    ...     _ = f.write('sizes = [4, 6]\\nmasses = ["identical"]\\nk0 = [0.0]\\nn_tilde = ["kac"]\\n')
    >>> cfg = mf.load_config(path, k=0.2)
    >>> cfg.sizes, cfg.masses, cfg.k, cfg.n_tilde
    ((4, 6), ('identical',), 0.2, ('kac',))
    """
    return make_config(read_toml(path, "sweep config"), **overrides)


def _log_sizes(lo, hi, count) -> list[int]:
    return [int(x) for x in np.unique(np.round(np.logspace(np.log10(lo), np.log10(hi), count)))]


#: Built-in configurations (``--builtin NAME``); ``configs/fig4*.toml`` hold the same values.
BUILTINS: dict[str, dict] = {
    # Fig. 4 at modest sizes (make run): 2 compiled programs, under a minute cold on 2 cores.
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
