"""The ``meanfield-jax`` command line: argument parsing and printing for every subcommand.

Subcommands:
  flux       J, N·J/ΔT and the paper's asymptotic prediction (Eq. 25 or 30) for one chain.
  sweep      disorder-averaged J(N) sweeps to netCDF (the pipeline: ``_sweep``): exact, or
             Langevin for nonlinear chains (``nonlinearity``).
  plot       Fig. 4 from a sweep's netCDF file (``_plot``).
  simulate   Langevin ensemble simulation to netCDF (the pipeline: ``_simulation``).
  conductance  κ(T) with quantum baths over a temperature range to netCDF, with a log-log
             figure of κ/κ₀ (``_landauer``, ``_dataset``, ``_plot``).
Every subcommand uses JAX's persistent compilation cache (``_cache``; ``--compile-cache DIR``
to choose the folder, ``--no-compile-cache`` to do without). Signal handling:
``_interrupt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import numpy as np

from . import _interrupt, masses
from ._cache import enable_compile_cache
from ._configfile import read_toml
from ._io import check_writable, netcdf_engine
from ._plot import plot_fig4
from ._report import format_exponents, simulation_report
from ._simulate_config import WHAT as SIMULATE_CONFIG
from ._simulation import prepare_simulation, run_simulation
from ._sweep import run_sweep
from ._sweep_config import BUILTINS, METHODS, SweepConfig, builtin_config, load_config

__all__ = ["main", "build_parser", "flux_masses"]


def _positive_int(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"N must be >= 2, got {value}")
    return value


def _n_tilde(text):
    return text if text.lower() == "kac" else float(text)


# ----------------------------------------------------------------------------- flux


def _add_chain_arguments(p, *, k, k0):
    """The mean-field chain's options (``flux`` and ``conductance``), with their defaults of
    k and k0."""
    p.add_argument("--m", type=float, default=1.0, help="mean mass m (1)")
    p.add_argument("--delta", type=float, default=0.1, help="disorder amplitude δ (0.1)")
    p.add_argument("--k", type=float, default=k, help=f"coupling k ({k:g})")
    p.add_argument("--k0", type=float, default=k0, help=f"pinning k0 ({k0:g})")
    p.add_argument("--n-tilde", type=_n_tilde, default="kac", help="'kac' (Ñ = N−1) or a number")
    p.add_argument("--gamma", type=float, default=1.0, help="bath friction γ (1)")
    p.add_argument("--k-prime", type=float, default=0.0, help="wall springs k' (0)")


def _add_flux_command(subparsers, common):
    p = subparsers.add_parser(
        "flux", parents=[common], help="exact heat flux of one mean-field chain",
        description="Exact heat flux J (Eq. 16) of a mean-field chain, with N·J/ΔT and the "
                    "paper's large-N prediction (Eq. 25 for k0 = 0 or Ñ = 1, else Eq. 30).")
    p.add_argument("--n", type=_positive_int, default=1000, help="number of particles N (1000)")
    p.add_argument("--masses", choices=list(masses.KINDS), default="random",
                   help="mass configuration (random); as masses.from_kind and a sweep: "
                        "graded m−δ…m+δ, random uniform in m ± δ (realization 0 of "
                        "--seed), "
                        "alternating m−δ, m+δ, …")
    _add_chain_arguments(p, k=0.1, k0=0.02)
    p.add_argument("--t-left", type=float, default=1.0, help="T_L (1)")
    p.add_argument("--t-right", type=float, default=0.0, help="T_R (0)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of random masses (0): the masses of realization 0 of a sweep "
                        "with this seed")
    p.add_argument("--method", choices=["auto", "residues", "lyapunov"], default="auto")
    p.set_defaults(func=_run_flux)


def flux_masses(kind: str, n: int, *, m: float, delta: float, seed: int) -> np.ndarray:
    """The masses of ``meanfield-jax flux``: :func:`meanfield_jax.masses.from_kind` with
    realization 0, so the same as realization 0 of a sweep with this seed (and a
    ``simulate`` profile). A bad m or δ is a ``ValueError`` naming the flag."""
    try:  # the masses m ± δ must stay positive: name the flag at fault
        masses.check_m_delta(m, delta if kind != "identical" else 0.0)
    except ValueError as exc:
        flag = "--delta" if "delta" in str(exc) else "--m"
        raise ValueError(f"{flag}: {exc} (the masses m ± δ must stay positive)") from None
    return np.asarray(masses.from_kind(kind, n, m=m, delta=delta, seed=seed, realization=0))


def _run_flux(args):
    from . import analytic
    from ._model import MeanFieldChain
    from ._transport import heat_flux_with_error

    masses = flux_masses(args.masses, args.n, m=args.m, delta=args.delta, seed=args.seed)
    chain = MeanFieldChain(masses, k=args.k, k0=args.k0, n_tilde=args.n_tilde,
                              gamma=args.gamma, t_left=args.t_left, t_right=args.t_right,
                              k_prime=args.k_prime)
    start = time.perf_counter()
    result = heat_flux_with_error(chain, method=args.method)
    flux = float(result.flux)
    elapsed = time.perf_counter() - start
    dt = args.t_left - args.t_right
    kac = isinstance(args.n_tilde, str)
    m_mean = float(np.mean(masses))
    prediction = float(analytic.flux_asymptotic(args.n, m_mean, args.k, args.k0,
                                                "kac" if kac else 1, args.gamma))
    eq = "Eq. 25" if (args.k0 == 0 or not kac) else "Eq. 30"
    method = args.method if args.method != "auto" else "residues"
    print(f"system     N = {args.n}, {args.masses} masses (m = {args.m}, δ = {args.delta}), "
          f"k = {args.k}, k0 = {args.k0}, Ñ = {args.n_tilde}, γ = {args.gamma}, "
          f"T_L = {args.t_left}, T_R = {args.t_right}, k' = {args.k_prime}")
    print(f"method     {method} (exact; {elapsed:.2f} s incl. compilation)")
    print(f"J          {flux:.15e}  ± {float(result.error_estimate):.1e} "
          f"(converged: {bool(result.converged)})")
    if dt != 0:
        print(f"N·J/ΔT     {args.n * flux / dt:.12f}")
    print(f"asymptotic N·J/ΔT → {args.n * prediction:.12f}  ({eq}, large-N prediction)")
    return 0 if bool(result.converged) else 1


# ----------------------------------------------------------------------------- sweep, plot


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
                     method=args.method, fit_min_n=args.fit_min_n, fit_max_n=args.fit_max_n,
                     nonlinearity=args.nonlinearity, beta=args.beta, lam=args.lam,
                     field=args.field, dt=args.dt, n_steps=args.n_steps, burn_in=args.burn_in,
                     n_trajectories=args.n_trajectories, initial=args.initial,
                     t_initial=args.t_initial, steps_per_call=args.steps_per_call)
    if args.builtin and args.config:
        raise ValueError("give either CONFIG.toml or --builtin, not both")
    if args.builtin:
        return builtin_config(args.builtin, **overrides)
    if not args.config:
        raise ValueError("give a CONFIG.toml file or --builtin fig4-quick|fig4")
    return load_config(args.config, **overrides)


def _run_sweep(args) -> int:
    cfg = _config_from_args(args)  # validation first: nothing computed on a bad config
    check_writable(args.out, "--out")
    if args.plot:
        check_writable(args.plot, "--plot")
        if cfg.model != "mean_field":
            raise ValueError(f"--plot draws Fig. 4 of mean-field sweeps, not model = "
                             f"{cfg.model!r} (scripts/alpha_figure.py plots networks)")
        if cfg.langevin:
            raise ValueError(f"--plot draws Fig. 4 of exact harmonic sweeps, not nonlinearity "
                             f"= {cfg.nonlinearity!r} (read the dataset with xarray)")
    _interrupt.set_message(f"sweep interrupted; rerun the same command to resume "
                           f"(checkpoint {args.out}.partial*.npz)")
    if args.distributed or args.coordinator:
        kw = {}
        if args.coordinator:
            kw = dict(coordinator_address=args.coordinator, num_processes=args.num_processes,
                      process_id=args.process_id)
        jax.distributed.initialize(**kw)
    distributed = bool(args.distributed or args.coordinator)
    ds = run_sweep(cfg, args.out, devices=args.devices, progress=args.progress,
                   fresh=args.fresh, distributed=distributed)
    if ds is None:
        return 0
    print(f"wrote {args.out} ({ds.attrs['elapsed_s']:.1f} s, devices: {ds.attrs['devices']})")
    print(format_exponents(ds))
    bad = int((ds["converged"].values == 0).sum() - np.isnan(ds["flux"].values).sum())
    what = "chains did not converge"
    if "n_diverged" in ds.attrs:  # Langevin: the systems whose simulation blew up
        bad = int(ds.attrs["n_diverged"])
        what = "systems diverged (non-finite J: dt too large for the nonlinear forces?)"
    if args.plot:
        plot_fig4(ds, args.plot)
        print(f"wrote {args.plot}")
    if bad:
        print(f"meanfield-jax: warning: {bad} {what} (excluded from means)", file=sys.stderr)
        return 1
    return 0


def _run_plot(args) -> int:
    import xarray as xr

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


def _add_sweep_commands(subparsers, common) -> None:
    p = subparsers.add_parser(
        "sweep", parents=[common], help="disorder-averaged J(N) sweep to netCDF (resumable)",
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
    g.add_argument("--method", choices=METHODS)
    g.add_argument("--fit-min-n", type=float)
    g.add_argument("--fit-max-n", type=float)
    n = p.add_argument_group("nonlinear sweeps (Langevin engine; config keys of the same names)")
    n.add_argument("--nonlinearity", help="none (exact harmonic sweep), fput or rotors")
    n.add_argument("--beta", type=float, help="FPUT β >= 0")
    n.add_argument("--lam", type=float, help="FPUT quartic pinning λ >= 0")
    n.add_argument("--field", type=float, help="rotors' field h >= 0")
    n.add_argument("--dt", type=float, help="time step (0.05)")
    n.add_argument("--n-steps", type=int, help="steps per system, burn-in included (100000)")
    n.add_argument("--burn-in", type=int, help="steps discarded (n_steps // 5)")
    n.add_argument("--n-trajectories", type=int, help="trajectories per system (32)")
    n.add_argument("--initial", choices=["rest", "thermal"], help="start (rest)")
    n.add_argument("--t-initial", type=float, help="temperature of the thermal start")
    n.add_argument("--steps-per-call", type=int,
                   help="steps per compiled call (min(1000, n_steps))")
    r = p.add_argument_group("execution")
    r.add_argument("--devices", type=int, help="use the first D local devices (default: all)")
    r.add_argument("--fresh", action="store_true", help="discard checkpoints, start over")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    r.add_argument("--distributed", action="store_true",
                   help="multi-process run: jax.distributed.initialize() (SLURM auto-detected)")
    r.add_argument("--coordinator", help="HOST:PORT of process 0 (implies --distributed)")
    r.add_argument("--num-processes", type=int)
    r.add_argument("--process-id", type=int)
    p.set_defaults(func=_run_sweep)

    q = subparsers.add_parser("plot", parents=[common], help="draw Fig. 4 from a sweep result",
                              description="Fig. 4 of PRE 105, 054149 from a sweep netCDF file.")
    q.add_argument("result", help="netCDF file written by 'meanfield-jax sweep'")
    q.add_argument("--out", required=True, help="image file (png, pdf, svg)")
    q.add_argument("--y", choices=["flux", "nflux"], default="flux",
                   help="plot J (default) or N·J/ΔT")
    q.set_defaults(func=_run_plot)


# ----------------------------------------------------------------------------- simulate


def _run_simulate(args) -> int:
    run = prepare_simulation(read_toml(args.config, SIMULATE_CONFIG), args.out, fresh=args.fresh)
    every = run.checkpoint_interval
    _interrupt.set_message(
        f"simulate interrupted; rerun the same command to resume from checkpoint "
        f"{run.checkpoint} "
        + ("(written after every chunk)" if every == 0 else f"(written every {every:g} s)"))
    result, exact_flux, exact_temps, reason = run_simulation(
        run, args.out, progress=args.progress, exact=not args.no_exact)
    wall = (f"{result.wall_time:.1f} s stepping" if result.wall_time > 0
            else "stored result of a finished checkpoint")
    print(simulation_report(result, exact_flux, exact_temps, reason, args.out, wall))
    return 0


def _add_simulate_command(subparsers, common):
    p = subparsers.add_parser(
        "simulate", parents=[common],
        help="Langevin ensemble simulation of a mean-field chain (BAOAB)",
        description="Langevin ensemble simulation (BAOAB) of a mean-field chain from a TOML "
                    "config, written atomically to netCDF, with the exact J and T_n for "
                    "comparison. The config is checked before any work. Rerun the same "
                    "command after an interruption to resume from the checkpoint.",
        epilog="Config keys: see the documentation's configuration reference and "
               "configs/simulate_example.toml. Required: masses (list, profile name or "
               "{kind, m, delta, seed}), dt, n_steps, burn_in, n_trajectories. Optional: n, k, "
               "k0, n_tilde, gamma, t_left, t_right, k_prime, seed, initial, t_initial, "
               "chunk_size, checkpoint (default OUT.partial.npz), checkpoint_interval "
               "(seconds, default 60), alpha (power-law couplings), nonlinearity "
               "(\"fput\" with beta, lam; \"rotors\" with field).")
    p.add_argument("config", help="TOML run configuration")
    p.add_argument("--out", required=True, help="result netCDF file (written atomically)")
    p.add_argument("--fresh", action="store_true", help="discard the checkpoint, start over")
    p.add_argument("--no-exact", action="store_true",
                   help="do not compute the exact J and T_n for comparison")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=_run_simulate)


# ----------------------------------------------------------------------------- conductance


def _run_conductance(args) -> int:
    from ._dataset import conductance_dataset
    from ._io import write_netcdf
    from ._landauer import thermal_conductance_with_error
    from ._model import MeanFieldChain
    from ._plot import plot_conductance

    if not (0 < args.t_min < args.t_max):
        raise ValueError(f"--t-min and --t-max must satisfy 0 < t-min < t-max, got "
                         f"{args.t_min}, {args.t_max}")
    check_writable(args.out, "--out")
    if args.figure:
        check_writable(args.figure, "--figure")
    m = flux_masses(args.masses, args.n, m=args.m, delta=args.delta, seed=args.seed)
    chain = MeanFieldChain(m, k=args.k, k0=args.k0, n_tilde=args.n_tilde, gamma=args.gamma,
                           k_prime=args.k_prime)
    temps = np.geomspace(args.t_min, args.t_max, args.points)
    start = time.perf_counter()
    result = thermal_conductance_with_error(chain, temps, hbar=args.hbar)
    elapsed = time.perf_counter() - start
    params = {"N": args.n, "masses": args.masses, "m": args.m, "delta": args.delta,
              "seed": args.seed, "k": args.k, "k0": args.k0, "n_tilde": str(args.n_tilde),
              "gamma": args.gamma, "k_prime": args.k_prime}
    ds = conductance_dataset(temps, result, args.hbar, params)
    write_netcdf(ds, args.out)
    figure = args.figure or os.path.splitext(args.out)[0] + ".png"
    plot_conductance(ds, figure)
    ok = np.asarray(result.converged)
    ratio = ds["kappa_over_kappa0"].values
    print(f"system     N = {args.n}, {args.masses} masses (m = {args.m}, δ = {args.delta}), "
          f"k = {args.k}, k0 = {args.k0}, Ñ = {args.n_tilde}, γ = {args.gamma}, "
          f"k' = {args.k_prime}; ħ = {args.hbar}")
    print(f"κ(T)       {args.points} temperatures in [{args.t_min:g}, {args.t_max:g}] "
          f"({elapsed:.2f} s incl. compilation); κ/κ₀ from {ratio[0]:.6g} to {ratio[-1]:.6g}")
    print(f"converged  {int(ok.sum())} of {ok.size}")
    print(f"wrote      {args.out}, {figure}")
    return 0 if bool(np.all(ok)) else 1


def _add_conductance_command(subparsers, common):
    p = subparsers.add_parser(
        "conductance", parents=[common],
        help="thermal conductance κ(T) of a mean-field chain with quantum baths",
        description="Thermal conductance κ(T) = ∫(dω/2π) ħω T(ω) ∂n/∂T of a mean-field chain "
                    "with quantum baths (exact: residues and one digamma per pole, "
                    "docs/quantum.md) at log-spaced temperatures, written atomically to "
                    "netCDF, with a log-log figure of κ/κ₀ (κ₀ = πT/(6ħ)). Exit status 1 "
                    "if some temperature did not converge.")
    p.add_argument("--out", required=True, help="result netCDF file (written atomically)")
    p.add_argument("--figure", help="figure file (default: OUT with suffix .png)")
    p.add_argument("--hbar", type=float, default=1.0, help="ħ (1)")
    p.add_argument("--t-min", type=float, default=1e-3, help="lowest temperature (1e-3)")
    p.add_argument("--t-max", type=float, default=10.0, help="highest temperature (10)")
    p.add_argument("--points", type=_positive_int, default=100, help="temperatures (100)")
    p.add_argument("--n", type=_positive_int, default=100, help="number of particles N (100)")
    p.add_argument("--masses", choices=list(masses.KINDS), default="random",
                   help="mass configuration (random), as for 'flux'")
    _add_chain_arguments(p, k=1.0, k0=0.0)
    p.add_argument("--seed", type=int, default=0, help="seed of random masses (0)")
    p.set_defaults(func=_run_conductance)


# ----------------------------------------------------------------------------- main


def build_parser():
    """The argument parser of every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    cache = common.add_argument_group("compilation cache")
    cache.add_argument("--compile-cache", metavar="DIR",
                       help="persistent XLA cache folder (default ~/.cache/meanfield_jax/xla, "
                            "or $JAX_COMPILATION_CACHE_DIR)")
    cache.add_argument("--no-compile-cache", action="store_true",
                       help="compile everything anew (no persistent cache)")
    parser = argparse.ArgumentParser(
        prog="meanfield-jax",
        description="Exact heat transport through mean-field harmonic chains (PRE 105, 054149).")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_flux_command(sub, common)
    _add_sweep_commands(sub, common)
    _add_simulate_command(sub, common)
    _add_conductance_command(sub, common)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status.

    Failure convention: 2 with one line ``meanfield-jax: error: ...`` for bad input (argparse's
    usage errors also exit 2, after a usage line), 1 for results that did not converge,
    130 / 143 with one line for SIGINT / SIGTERM at any moment (``meanfield_jax._interrupt``;
    the process ends there). Run as the ``meanfield-jax`` program, the process ends inside
    ``main`` once the command is done (:func:`meanfield_jax._interrupt.end_process`).
    """
    with _interrupt.exit_on_signals():
        parser = build_parser()
        args = parser.parse_args(argv)
        if not args.no_compile_cache:
            enable_compile_cache(args.compile_cache)
        try:
            code = args.func(args)
        except ValueError as exc:
            print(f"meanfield-jax: error: {exc}", file=sys.stderr)
            code = 2
        _interrupt.set_message("interrupted while exiting (the command had finished)")
        return _interrupt.end_process(code)


if __name__ == "__main__":
    sys.exit(main())
