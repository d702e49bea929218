"""Simulation configuration: the schema of a ``simulate`` TOML file and its validation.

``meanfield-jax simulate RUN.toml`` runs what :func:`config_to_run` returns; the keys are
below (the documentation's configuration reference is generated from them and ``_KEYS``);
``configs/simulate_example.toml`` is a
complete example. The masses of a profile are :func:`meanfield_jax.masses.from_kind`'s (the
same as a sweep's for the same kind, m, δ, seed and N, realization 0).

Config keys (numbers must be TOML numbers; a quoted number is an error naming the key):
  masses: a list of masses, a profile name ("identical", "graded", "random",
    "alternating"), or a table {kind, m = 1, delta = 0.1, seed = 0} (Sec. III A).
  n: number of particles (required with a profile; must equal len(masses) for a list).
  k = 1, k0 = 0, n_tilde = "kac" (Ñ = N − 1) or a number, gamma = 1, t_left = 1,
    t_right = 0, k_prime = 0: the chain and its baths (Eqs. 1–5).
  dt, n_steps, burn_in, n_trajectories (required): time step, total steps (burn-in
    included), steps discarded before averaging, independent trajectories (>= 2).
  seed = 0, initial = "rest" | "thermal", t_initial (thermal only; default (T_L + T_R)/2),
  chunk_size = 1000: steps per compiled call (and checkpoint granularity),
  checkpoint = "OUT.partial.npz": checkpoint file, removed once OUT is written,
  checkpoint_interval = 60: seconds between checkpoint writes (0: after every chunk).
  alpha: power-law couplings k/(Ñ |i − j|^α) (``networks.power_law``; Ñ = "kac" is then
    the power law's Kac factor) instead of the mean field; "inf" for nearest neighbours.
  nonlinearity = "fput" | "rotors" (``meanfield_jax.nonlinear``): with "fput", beta
    (required, >= 0) and lam = 0 (quartic pinning); with "rotors", field = 0 (k0 and
    k_prime must be 0). beta, lam and field are errors without their nonlinearity.
"""

from __future__ import annotations

import numpy as np

from ._configfile import fail, number
from .masses import KINDS, from_kind
from .networks import power_law
from .nonlinear import fput, rotors

__all__ = ["config_to_run", "WHAT"]

WHAT = "simulate config"
_MASS_TABLE_KEYS = ("kind", "m", "delta", "seed")
_REQUIRED = ("masses", "dt", "n_steps", "burn_in", "n_trajectories")
_KEYS = ("masses", "n", "k", "k0", "n_tilde", "gamma", "t_left", "t_right", "k_prime", "dt",
         "n_steps", "burn_in", "n_trajectories", "seed", "initial", "t_initial", "chunk_size",
         "checkpoint", "checkpoint_interval", "alpha", "nonlinearity", "beta", "lam", "field")
_NONLINEAR_KEYS = {"fput": ("beta", "lam"), "rotors": ("field",)}


def _num(key, value, **checks):
    return number(WHAT, key, value, **checks)


def _masses(config):
    masses = config["masses"]
    n = _num("n", config["n"], integer=True) if "n" in config else None
    if n is not None and n < 2:
        fail(WHAT, "n", f"must be >= 2, got {n}")
    if isinstance(masses, str):
        masses = {"kind": masses}
    if isinstance(masses, dict):
        bad = sorted(set(masses) - set(_MASS_TABLE_KEYS))
        if bad:
            fail(WHAT, f"masses.{bad[0]}", f"is not a masses table key (allowed: "
                                            f"{', '.join(_MASS_TABLE_KEYS)})")
        kind = masses.get("kind", "identical")
        if kind not in KINDS:
            fail(WHAT, "masses", f"profile must be one of {', '.join(KINDS)}, got {kind!r}")
        if n is None:
            fail(WHAT, "n", f"is required with the masses profile {kind!r}")
        m = _num("masses.m", masses.get("m", 1.0), positive=True)
        delta = _num("masses.delta", masses.get("delta", 0.1), nonnegative=True)
        if delta >= m:
            fail(WHAT, "masses.delta", f"must be < m = {m:g} (masses m ± δ must stay "
                                        f"positive), got {delta:g}")
        seed = _num("masses.seed", masses.get("seed", 0), integer=True, nonnegative=True)
        return np.asarray(from_kind(kind, n, m=m, delta=delta, seed=seed))
    if not isinstance(masses, list):
        fail(WHAT, "masses", "must be a list of masses, a profile name or a table "
                              f"{{kind, m, delta, seed}}, got {masses!r}")
    values = np.asarray([_num("masses", x, positive=True) for x in masses], dtype=np.float64)
    if values.size < 2:
        fail(WHAT, "masses", f"needs at least 2 masses, got {values.size}")
    if n is not None and n != values.size:
        fail(WHAT, "n", f"= {n} does not match len(masses) = {values.size}")
    return values


def _alpha(value):
    if isinstance(value, str):
        if value.lower() not in ("inf", "infinity"):
            fail(WHAT, "alpha", f"must be a number >= 0 or \"inf\", got {value!r}")
        return float("inf")
    return _num("alpha", value, nonnegative=True)


def _nonlinear(config: dict, system):
    """The system wrapped by ``nonlinear.fput`` / ``rotors`` as the config asks."""
    kind = config.get("nonlinearity")
    if kind is not None and kind not in _NONLINEAR_KEYS:
        fail(WHAT, "nonlinearity", f"must be \"fput\" or \"rotors\", got {kind!r}")
    for other, keys in _NONLINEAR_KEYS.items():
        for key in keys:
            if key in config and kind != other:
                fail(WHAT, key, f"is used only with nonlinearity = \"{other}\"")
    if kind is None:
        return system
    if kind == "rotors":
        for key in ("k0", "k_prime"):
            if config.get(key, 0) != 0:
                fail(WHAT, key, "must be 0 for rotors (the field pins the angles)")
        return rotors(system, field=_num("field", config.get("field", 0.0), nonnegative=True))
    if "beta" not in config:
        fail(WHAT, "beta", "is required with nonlinearity = \"fput\"")
    return fput(system, beta=_num("beta", config["beta"], nonnegative=True),
                lam=_num("lam", config.get("lam", 0.0), nonnegative=True))


def config_to_run(config: dict):
    """Validate a parsed ``simulate`` config; return ``(system, simulate_kwargs)``.

    Nothing is computed. ``simulate_kwargs`` holds ``key``, ``n_trajectories``, ``dt``,
    ``n_steps``, ``burn_in``, ``initial``, ``t_initial``, ``chunk_size`` (if given),
    ``checkpoint`` (None if not given) and ``checkpoint_interval``.

    Raises:
      ValueError: ``simulate config: '<key>' ...`` for an unknown or missing key or a bad
        value (module docstring: the keys).
    """
    import jax

    from ._model import MeanFieldChain

    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        fail(WHAT, unknown[0], f"is not a simulate config key (allowed: {', '.join(_KEYS)})")
    for key in _REQUIRED:
        if key not in config:
            fail(WHAT, key, "is required")
    masses = _masses(config)
    chain = {}
    for key, default, check in (("k", 1.0, "nonnegative"), ("k0", 0.0, "nonnegative"),
                                ("gamma", 1.0, "positive"), ("t_left", 1.0, "nonnegative"),
                                ("t_right", 0.0, "nonnegative"),
                                ("k_prime", 0.0, "nonnegative")):
        chain[key] = _num(key, config.get(key, default), **{check: True})
    n_tilde = config.get("n_tilde", "kac")
    if isinstance(n_tilde, str):
        if n_tilde.lower() != "kac":
            fail(WHAT, "n_tilde",
                 f"must be \"kac\" (Ñ = N − 1) or a number > 0, got {n_tilde!r}")
        n_tilde = "kac"
    else:
        n_tilde = _num("n_tilde", n_tilde, positive=True)
    try:
        if "alpha" in config:
            system = power_law(masses, _alpha(config["alpha"]), n_tilde=n_tilde, **chain)
        else:
            system = MeanFieldChain(masses, n_tilde=n_tilde, **chain)
    except ValueError as exc:
        raise ValueError(f"{WHAT}: {exc}") from None
    system = _nonlinear(config, system)

    n_steps = _num("n_steps", config["n_steps"], integer=True, positive=True)
    burn_in = _num("burn_in", config["burn_in"], integer=True, nonnegative=True)
    if burn_in >= n_steps:
        fail(WHAT, "burn_in", f"must be < n_steps = {n_steps}, got {burn_in}")
    n_traj = _num("n_trajectories", config["n_trajectories"], integer=True)
    if n_traj < 2:
        fail(WHAT, "n_trajectories", f"must be >= 2 (standard errors need two), got {n_traj}")
    initial = config.get("initial", "rest")
    if initial not in ("rest", "thermal"):
        fail(WHAT, "initial", f"must be \"rest\" or \"thermal\", got {initial!r}")
    t_initial = None
    if "t_initial" in config:
        if initial != "thermal":
            fail(WHAT, "t_initial", "is used only with initial = \"thermal\"")
        t_initial = _num("t_initial", config["t_initial"], nonnegative=True)
    checkpoint = config.get("checkpoint")
    if checkpoint is not None and not (isinstance(checkpoint, str) and checkpoint):
        fail(WHAT, "checkpoint", f"must be a file path (a string), got {checkpoint!r}")
    kwargs = dict(
        key=jax.random.PRNGKey(_num("seed", config.get("seed", 0), integer=True,
                                    nonnegative=True)),
        n_trajectories=n_traj, dt=_num("dt", config["dt"], positive=True), n_steps=n_steps,
        burn_in=burn_in, initial=initial, t_initial=t_initial, checkpoint=checkpoint,
        checkpoint_interval=_num("checkpoint_interval", config.get("checkpoint_interval", 60.0),
                                 nonnegative=True))
    if "chunk_size" in config:
        kwargs["chunk_size"] = _num("chunk_size", config["chunk_size"], integer=True,
                                    positive=True)
    return system, kwargs
