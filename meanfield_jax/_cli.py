"""The ``meanfield-jax`` command line.

Subcommands:
  flux       J, N·J/ΔT and the paper's asymptotic prediction (Eq. 25 or 30) for one chain.
  sweep      disorder-averaged J(N) sweeps to netCDF (see ``meanfield_jax._sweep``).
  plot       Fig. 4 from a sweep's netCDF file.
  simulate   Langevin ensemble simulation to netCDF (see ``meanfield_jax._simulate_command``).
Each capability module registers its own subcommand through an ``add_*_command`` hook.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

_HOOKS = (
    ("meanfield_jax._sweep", "add_sweep_commands"),
    ("meanfield_jax._simulate_command", "add_simulate_command"),
)


def _positive_int(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"N must be >= 2, got {value}")
    return value


def _n_tilde(text):
    return text if text.lower() == "kac" else float(text)


def _add_flux_command(subparsers):
    p = subparsers.add_parser(
        "flux", help="exact heat flux of one mean-field chain",
        description="Exact heat flux J (Eq. 16) of a mean-field chain, with N·J/ΔT and the "
                    "paper's large-N prediction (Eq. 25 for k0 = 0 or Ñ = 1, else Eq. 30).")
    p.add_argument("--n", type=_positive_int, default=1000, help="number of particles N (1000)")
    p.add_argument("--masses", choices=["identical", "graded", "random", "alternating"],
                   default="random", help="mass configuration (random)")
    p.add_argument("--m", type=float, default=1.0, help="mean mass m (1)")
    p.add_argument("--delta", type=float, default=0.1, help="disorder amplitude δ (0.1)")
    p.add_argument("--m2", type=float, default=2.0, help="second mass for 'alternating' (2)")
    p.add_argument("--k", type=float, default=0.1, help="coupling k (0.1)")
    p.add_argument("--k0", type=float, default=0.02, help="pinning k0 (0.02)")
    p.add_argument("--n-tilde", type=_n_tilde, default="kac", help="'kac' (Ñ = N−1) or a number")
    p.add_argument("--gamma", type=float, default=1.0, help="bath friction γ (1)")
    p.add_argument("--t-left", type=float, default=1.0, help="T_L (1)")
    p.add_argument("--t-right", type=float, default=0.0, help="T_R (0)")
    p.add_argument("--k-prime", type=float, default=0.0, help="wall springs k' (0)")
    p.add_argument("--seed", type=int, default=0, help="seed for random masses (0)")
    p.add_argument("--method", choices=["auto", "residues", "lyapunov"], default="auto")
    p.set_defaults(func=_run_flux)


def _masses_from_args(args):
    import numpy as np

    from . import masses

    n, m, delta = args.n, args.m, args.delta
    try:  # the masses m ± δ must stay positive: name the flag at fault
        masses.check_m_delta(m, delta if args.masses in ("graded", "random") else 0.0)
    except ValueError as exc:
        flag = "--delta" if "delta" in str(exc) else "--m"
        raise ValueError(f"{flag}: {exc} (the masses m ± δ must stay positive)") from None
    if args.masses == "alternating" and not args.m2 > 0:
        raise ValueError(f"--m2 must be > 0, got {args.m2}")
    if args.masses == "identical":
        return np.full(n, m)
    if args.masses == "graded":
        return m - delta + 2 * delta * np.arange(n) / (n - 1)
    if args.masses == "alternating":
        return np.where(np.arange(n) % 2 == 0, m, args.m2)
    import jax

    from . import _config  # noqa: F401

    key = jax.random.PRNGKey(args.seed)
    return np.asarray(jax.random.uniform(key, (n,), minval=m - delta, maxval=m + delta))


def _run_flux(args):
    import numpy as np

    import meanfield_jax as mf
    from meanfield_jax import analytic

    masses = _masses_from_args(args)
    chain = mf.MeanFieldChain(masses, k=args.k, k0=args.k0, n_tilde=args.n_tilde,
                              gamma=args.gamma, t_left=args.t_left, t_right=args.t_right,
                              k_prime=args.k_prime)
    start = time.perf_counter()
    result = mf.heat_flux_with_error(chain, method=args.method)
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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="meanfield-jax",
        description="Exact heat transport through mean-field harmonic chains (PRE 105, 054149).")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_flux_command(sub)
    for module_name, hook in _HOOKS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # capability not installed in this build
            if exc.name != module_name:
                raise
            continue
        getattr(module, hook)(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status.

    Failure convention: 2 with one line ``meanfield-jax: error: ...`` for bad input (argparse's
    usage errors also exit 2, after a usage line), 1 for results that did not converge,
    130 / 143 with one line for SIGINT / SIGTERM at any moment (``meanfield_jax._interrupt``;
    the process ends there). Run as the ``meanfield-jax`` program, the process ends inside
    ``main`` once the command is done (:func:`meanfield_jax._interrupt.end_process`).
    """
    from . import _interrupt

    with _interrupt.exit_on_signals():
        parser = build_parser()
        args = parser.parse_args(argv)
        try:
            code = args.func(args)
        except ValueError as exc:
            print(f"meanfield-jax: error: {exc}", file=sys.stderr)
            code = 2
        _interrupt.set_message("interrupted while exiting (the command had finished)")
        return _interrupt.end_process(code)


if __name__ == "__main__":
    sys.exit(main())
