"""The ``simulate`` command: a Langevin ensemble run from a TOML file, checked before any work.

``meanfield-jax simulate RUN.toml --out RUN.nc`` validates the whole configuration and the
output and checkpoint paths, runs :func:`meanfield_jax.simulate` with a checkpoint, writes
the result to netCDF atomically, prints the simulated J and T_n next to the exact ones
(:func:`meanfield_jax.heat_flux`, :func:`meanfield_jax.local_temperatures`, Eqs. 16 and 31,
on the same chain) and removes the checkpoint. The keys are documented in the README
("simulate configuration"); ``configs/simulate_example.toml`` is a complete example.

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

Reruns: an interrupted run (SIGINT / SIGTERM: exit 130 / 143 and one line; SIGKILL) resumes
from its checkpoint, bit for bit. A checkpoint of a finished run (the process ended between
the last checkpoint and writing OUT) is reported as such and its stored result written,
without stepping. ``--fresh`` discards the checkpoint. A checkpoint of different parameters
is an error.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from . import _interrupt
from ._configfile import fail, number, read_toml
from ._io import atomic_write, check_writable, netcdf_engine

__all__ = ["config_to_run", "add_simulate_command"]

_WHAT = "simulate config"
_MASS_KINDS = ("identical", "graded", "random", "alternating")
_MASS_TABLE_KEYS = ("kind", "m", "delta", "seed")
_REQUIRED = ("masses", "dt", "n_steps", "burn_in", "n_trajectories")
_KEYS = ("masses", "n", "k", "k0", "n_tilde", "gamma", "t_left", "t_right", "k_prime", "dt",
         "n_steps", "burn_in", "n_trajectories", "seed", "initial", "t_initial", "chunk_size",
         "checkpoint", "checkpoint_interval")
_EXACT_MAX_N = 10_000  # exact J, T_n cost O(N²): ~1 s at N = 10⁴ (residues)


def _num(key, value, **checks):
    return number(_WHAT, key, value, **checks)


def _masses(config):
    masses = config["masses"]
    n = _num("n", config["n"], integer=True) if "n" in config else None
    if n is not None and n < 2:
        fail(_WHAT, "n", f"must be >= 2, got {n}")
    if isinstance(masses, str):
        masses = {"kind": masses}
    if isinstance(masses, dict):
        bad = sorted(set(masses) - set(_MASS_TABLE_KEYS))
        if bad:
            fail(_WHAT, f"masses.{bad[0]}", f"is not a masses table key (allowed: "
                                            f"{', '.join(_MASS_TABLE_KEYS)})")
        kind = masses.get("kind", "identical")
        if kind not in _MASS_KINDS:
            fail(_WHAT, "masses", f"profile must be one of {', '.join(_MASS_KINDS)}, got {kind!r}")
        if n is None:
            fail(_WHAT, "n", f"is required with the masses profile {kind!r}")
        m = _num("masses.m", masses.get("m", 1.0), positive=True)
        delta = _num("masses.delta", masses.get("delta", 0.1), nonnegative=True)
        if delta >= m:
            fail(_WHAT, "masses.delta", f"must be < m = {m:g} (masses m ± δ must stay "
                                        f"positive), got {delta:g}")
        seed = _num("masses.seed", masses.get("seed", 0), integer=True, nonnegative=True)
        from ._langevin import mass_profile

        return mass_profile(kind, n, m, delta, seed)
    if not isinstance(masses, list):
        fail(_WHAT, "masses", "must be a list of masses, a profile name or a table "
                              f"{{kind, m, delta, seed}}, got {masses!r}")
    values = np.asarray([_num("masses", x, positive=True) for x in masses], dtype=np.float64)
    if values.size < 2:
        fail(_WHAT, "masses", f"needs at least 2 masses, got {values.size}")
    if n is not None and n != values.size:
        fail(_WHAT, "n", f"= {n} does not match len(masses) = {values.size}")
    return values


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
        fail(_WHAT, unknown[0], f"is not a simulate config key (allowed: {', '.join(_KEYS)})")
    for key in _REQUIRED:
        if key not in config:
            fail(_WHAT, key, "is required")
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
            fail(_WHAT, "n_tilde", f"must be \"kac\" (Ñ = N − 1) or a number > 0, got {n_tilde!r}")
        n_tilde = "kac"
    else:
        n_tilde = _num("n_tilde", n_tilde, positive=True)
    try:
        system = MeanFieldChain(masses, n_tilde=n_tilde, **chain)
    except ValueError as exc:
        raise ValueError(f"{_WHAT}: {exc}") from None

    n_steps = _num("n_steps", config["n_steps"], integer=True, positive=True)
    burn_in = _num("burn_in", config["burn_in"], integer=True, nonnegative=True)
    if burn_in >= n_steps:
        fail(_WHAT, "burn_in", f"must be < n_steps = {n_steps}, got {burn_in}")
    n_traj = _num("n_trajectories", config["n_trajectories"], integer=True)
    if n_traj < 2:
        fail(_WHAT, "n_trajectories", f"must be >= 2 (standard errors need two), got {n_traj}")
    initial = config.get("initial", "rest")
    if initial not in ("rest", "thermal"):
        fail(_WHAT, "initial", f"must be \"rest\" or \"thermal\", got {initial!r}")
    t_initial = None
    if "t_initial" in config:
        if initial != "thermal":
            fail(_WHAT, "t_initial", "is used only with initial = \"thermal\"")
        t_initial = _num("t_initial", config["t_initial"], nonnegative=True)
    checkpoint = config.get("checkpoint")
    if checkpoint is not None and not (isinstance(checkpoint, str) and checkpoint):
        fail(_WHAT, "checkpoint", f"must be a file path (a string), got {checkpoint!r}")
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


# ----------------------------------------------------------------------------- exact values


def _exact(system):
    """(J, T_n, None) from the exact solvers, or (None, None, reason)."""
    import meanfield_jax as mf

    if system.n > _EXACT_MAX_N:
        return None, None, f"skipped for N > {_EXACT_MAX_N} (O(N²); --no-exact to silence)"
    flux = mf.heat_flux_with_error(system)
    temps = mf.local_temperatures_with_error(system)
    if not (bool(flux.converged) and bool(temps.converged)):
        return None, None, "the exact solver did not converge for this system"
    return float(flux.flux), np.asarray(temps.temperatures, dtype=np.float64), None


def _report(result, exact_flux, exact_temps, reason, out, wall_note):
    lines = [f"wrote {out} ({result.n_trajectories} trajectories × {result.n_steps} steps of "
             f"dt = {result.dt:g}, burn-in {result.burn_in}; {wall_note})"]
    ex = "" if exact_flux is None else f"   exact J = {exact_flux:.6e} (Eq. 16)"
    lines.append(f"J_left  = {result.flux_left:.6e} ± {result.flux_left_stderr:.1e}"
                 f"  (left bath → chain){ex}")
    lines.append(f"J_right = {result.flux_right:.6e} ± {result.flux_right_stderr:.1e}"
                 "  (chain → right bath)")
    if reason:
        lines.append(f"exact J, T_n: {reason}")
    t, dt_err = np.asarray(result.temperatures), np.asarray(result.temperatures_stderr)
    head = f"{'n':>5}   {'T_n simulated ± stderr':<22}" + (
        "" if exact_temps is None else "   exact (Eq. 31)  (sim − exact)/σ")
    lines.append(head)
    n = t.size
    show = range(n) if n <= 16 else [*range(4), None, *range(n - 4, n)]
    for i in show:
        if i is None:
            lines.append("  ...")
            continue
        row = f"{i + 1:5d}   {t[i]:.6e} ± {dt_err[i]:.1e}"
        if exact_temps is not None:
            z = (t[i] - exact_temps[i]) / dt_err[i] if dt_err[i] > 0 else float("nan")
            row += f"   {exact_temps[i]:.6e}      {z:+.1f}"
        lines.append(row)
    if exact_temps is not None:
        masses = np.asarray(result.masses)
        lines.append("(simulated values carry an O(dt²) time-step bias and, from a "
                     "non-stationary start, a burn-in bias)")
        if np.all(masses == masses[0]) and n > 3 and result.initial != "rest":
            lines.append("(identical masses: N − 3 modes never couple to the baths; they keep "
                         "their initial energy, so T_n differ from the exact particular "
                         "solution, which a start from rest reproduces)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command


def _run_simulate_command(args) -> int:
    config = read_toml(args.config, _WHAT)
    system, kwargs = config_to_run(config)  # validation first: nothing computed on a bad config
    out = args.out
    check_writable(out, "--out")
    checkpoint = kwargs.pop("checkpoint") or out + ".partial.npz"
    if os.path.abspath(checkpoint) == os.path.abspath(out):
        fail(_WHAT, "checkpoint", f"must differ from --out ({out})")
    check_writable(checkpoint, "checkpoint")
    if args.fresh and os.path.exists(checkpoint):
        os.unlink(checkpoint)
    every = kwargs["checkpoint_interval"]
    _interrupt.set_message(
        f"simulate interrupted; rerun the same command to resume from checkpoint {checkpoint} "
        + ("(written after every chunk)" if every == 0 else f"(written every {every:g} s)"))
    if not args.no_compile_cache:
        from ._config import enable_compile_cache

        enable_compile_cache(args.compile_cache)
    from ._langevin import simulate

    result = simulate(system, checkpoint=checkpoint, progress=args.progress, **kwargs)
    exact_flux = exact_temps = reason = None
    if not args.no_exact:
        exact_flux, exact_temps, reason = _exact(system)
    ds = result.to_xarray()
    if exact_flux is not None:
        ds["flux_exact"] = ((), exact_flux, {"long_name": "exact heat flux J (Eq. 16, "
                                                          "meanfield_jax.heat_flux)"})
        ds["temperatures_exact"] = (("particle",), exact_temps,
                                    {"long_name": "exact T_n (Eq. 31, local_temperatures)"})
    atomic_write(out, lambda tmp: ds.to_netcdf(tmp, engine=netcdf_engine()))
    if os.path.exists(checkpoint):
        os.unlink(checkpoint)
    wall = (f"{result.wall_time:.1f} s stepping" if result.wall_time > 0
            else "stored result of a finished checkpoint")
    print(_report(result, exact_flux, exact_temps, reason, out, wall))
    return 0


def add_simulate_command(subparsers):
    """Register ``simulate CONFIG.toml --out RUN.nc`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "simulate", help="Langevin ensemble simulation of a mean-field chain (BAOAB)",
        description="Langevin ensemble simulation (BAOAB) of a mean-field chain from a TOML "
                    "config, written atomically to netCDF, with the exact J and T_n for "
                    "comparison. The config is checked before any work. Rerun the same "
                    "command after an interruption to resume from the checkpoint.",
        epilog="Config keys: see the README section 'simulate configuration' and "
               "configs/simulate_example.toml. Required: masses (list, profile name or "
               "{kind, m, delta, seed}), dt, n_steps, burn_in, n_trajectories. Optional: n, k, "
               "k0, n_tilde, gamma, t_left, t_right, k_prime, seed, initial, t_initial, "
               "chunk_size, checkpoint (default OUT.partial.npz), checkpoint_interval "
               "(seconds, default 60).")
    p.add_argument("config", help="TOML run configuration")
    p.add_argument("--out", required=True, help="result netCDF file (written atomically)")
    p.add_argument("--fresh", action="store_true", help="discard the checkpoint, start over")
    p.add_argument("--no-exact", action="store_true",
                   help="do not compute the exact J and T_n for comparison")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    p.add_argument("--compile-cache", metavar="DIR",
                   help="persistent XLA cache folder (default ~/.cache/meanfield_jax/xla)")
    p.add_argument("--no-compile-cache", action="store_true")
    p.set_defaults(func=_run_simulate_command)
    return p
