"""Datasets of the pipelines: sweep and simulation results as ``xarray.Dataset`` objects.

Sweep (:func:`sweep_dataset`): dimensions masses × k0 × n_tilde × N × realization (power-law
networks: masses × coupling_alpha × k0 × …; attribute ``model``), with
per-realization fluxes ``flux`` (Eq. 16), error estimates and convergence flags, their mean
``flux_mean`` and standard error ``flux_stderr`` over realizations (converged only; 0 for
deterministic masses, stored at realization 0 only), ``n_realizations``, the large-N
prediction ``flux_asymptotic`` (Eqs. 25/30, times ΔT; mean-field chains only) and a power-law fit J ∝ N^−α per curve
(:func:`add_fits`: ``alpha``, ``alpha_stderr``, ``fit_prefactor``, ``fit_points``); the
configuration and provenance are attributes. Nonlinear sweeps
(:func:`langevin_sweep_dataset`): the same grid with the Langevin observables (J at both
baths, T_n, standard errors over trajectories). Simulation (:func:`langevin_dataset`):
fluxes and temperatures of a Langevin run. Cost: O(size of the results).
"""

from __future__ import annotations

import json
import math
import time

import numpy as np

from ._io import TaskResults
from ._stats import ensemble_mean, fit_power_law
from ._sweep_config import SweepConfig
from ._version import __version__

__all__ = ["sweep_dataset", "langevin_sweep_dataset", "add_fits", "langevin_dataset",
           "conductance_dataset"]


def sweep_dataset(cfg: SweepConfig, tasks, padded, res: TaskResults, info: dict):
    """The sweep's dataset from its per-task results (module docstring).

    Args:
      cfg: the configuration.
      tasks: (kind, alpha, k0, n_tilde, size, realization) index columns of the tasks.
      padded: per size, the size of the compiled program (size bucket).
      res: the results of every task (all done).
      info: ``devices``, ``process_count``, ``seconds_per_size``, ``elapsed_s``.
    """
    import xarray as xr

    from . import analytic

    shape = (len(cfg.masses), len(cfg.alphas), len(cfg.k0), len(cfg.n_tilde), len(cfg.sizes),
             cfg.max_realizations)
    flux = np.full(shape, np.nan)
    err = np.full(shape, np.nan)
    conv = np.zeros(shape, dtype=np.int8)
    where = tuple(tasks)
    flux[where] = res.flux
    err[where] = res.error
    conv[where] = res.converged
    power_law = cfg.model == "power_law"
    if not power_law:  # no α dimension
        flux, err, conv = flux[:, 0], err[:, 0], conv[:, 0]
    good = np.where(conv.astype(bool), flux, np.nan)
    stats = ensemble_mean(good, axis=-1)
    nrep = np.zeros((len(cfg.masses), len(cfg.sizes)), dtype=np.int64)
    for i, kind in enumerate(cfg.masses):
        nrep[i] = cfg.realizations if kind in cfg.random_kinds() else 1
    sizes = np.asarray(cfg.sizes)
    dims = ("masses", "k0", "n_tilde", "N", "realization")
    if power_law:
        dims = ("masses", "coupling_alpha") + dims[1:]
    variables = {
        "flux": (dims, flux, {"long_name": "heat flux J (Eq. 16)", "units": "energy/time"}),
        "flux_error": (dims, err, {"long_name": "numerical error estimate of J"}),
        "converged": (dims, conv, {"long_name": "1 if the flux method converged"}),
        "flux_mean": (dims[:-1], stats.mean,
                      {"long_name": "mean of J over realizations (converged only)"}),
        "flux_stderr": (dims[:-1], stats.stderr,
                        {"long_name": "standard error of the mean (0: deterministic)"}),
        "n_realizations": (("masses", "N"), nrep,
                           {"long_name": "realizations computed per (masses, N)"}),
    }
    if cfg.model == "mean_field":
        asym = np.empty((len(cfg.k0), len(cfg.n_tilde), len(cfg.sizes)))
        for a, k0 in enumerate(cfg.k0):
            for b, nt in enumerate(cfg.n_tilde):
                asym[a, b] = np.asarray(analytic.flux_asymptotic(
                    sizes.astype(float), cfg.m, cfg.k, k0, "kac" if isinstance(nt, str) else 1,
                    cfg.gamma))
        asym *= cfg.t_left - cfg.t_right
        variables["flux_asymptotic"] = (
            ("k0", "n_tilde", "N"), asym,
            {"long_name": "large-N prediction, Eq. 25 (k0 = 0 or Ñ = 1) or Eq. 30, times "
                          "ΔT, at mean mass m"})
    coords = _sweep_coords(cfg)
    ds = xr.Dataset(variables, coords=coords)
    attrs = {
        "title": "meanfield_jax heat-flux sweep (PRE 105, 054149, Fig. 4)",
        "model": cfg.model,
        "complete": 1,
        "config_json": json.dumps(cfg.to_dict(), sort_keys=True),
        "config_hash": cfg.config_hash(),
        "method": cfg.method,
        "deterministic_masses": "identical/graded/alternating masses do not depend on the "
                                "realization: computed once, stored at realization 0 "
                                "(other entries NaN, flux_stderr 0)",
        "random_masses": "realization r uses masses.realization_key(seed, N, r); "
                         "the same masses for every k0 and n_tilde",
        "n_tilde_kac_means": _KAC_MEANS[cfg.model],
        "size_buckets": np.asarray(padded, dtype=np.int64),
        "size_buckets_note": "per N, the size of the compiled program that computed it "
                             "(inert padding, meanfield_jax._buckets); sizes with the same value "
                             "share one compiled program",
    }
    if cfg.model == "random_springs":
        attrs["deterministic_masses"] = _RANDOM_SPRINGS_NOTE
    attrs.update(_run_attrs(info))
    attrs.update(_config_attrs(cfg))
    ds.attrs.update(attrs)
    return add_fits(ds, cfg.fit_min_n, cfg.fit_max_n)


_RANDOM_SPRINGS_NOTE = ("random springs: every mass configuration has realizations (springs "
                        "from realization_key(seed, N, r), independent of the masses drawn "
                        "from it)")


def _sweep_coords(cfg: SweepConfig) -> dict:
    """The coordinates of a sweep's grid: masses, (coupling_alpha,) k0, n_tilde, N,
    realization."""
    coords = {"masses": list(cfg.masses)}
    if cfg.model == "power_law":  # named apart from the fitted exponent ``alpha`` of J ∝ N^-α
        coords["coupling_alpha"] = ("coupling_alpha", np.asarray(cfg.alpha, dtype=np.float64),
                                    {"long_name": "α of the springs k_ij = k/(Ñ|i − j|^α) "
                                                  "(config key alpha; inf: nearest "
                                                  "neighbours)"})
    coords.update({
        "k0": np.asarray(cfg.k0, dtype=np.float64),
        "n_tilde": cfg.n_tilde_labels(),
        "N": np.asarray(cfg.sizes).astype(np.int64),
        "realization": np.arange(cfg.max_realizations, dtype=np.int64),
    })
    return coords


def _config_attrs(cfg: SweepConfig) -> dict:
    """The configuration's keys as netCDF attributes (lists as arrays or joined text)."""
    attrs = {}
    for key, value in cfg.to_dict().items():
        if key in ("n_tilde",):
            attrs[key] = ", ".join(cfg.n_tilde_labels())
        elif key == "alpha":
            attrs[key] = np.asarray(cfg.alpha, dtype=np.float64)
        elif isinstance(value, list):
            attrs[key] = np.asarray(value) if not isinstance(value[0], str) else ", ".join(value)
        elif value is None:  # netCDF has no None (t_initial unset: (T_L + T_R)/2)
            attrs[key] = "default"
        elif isinstance(value, bool):  # nor booleans
            attrs[key] = int(value)
        else:
            attrs[key] = value
    return attrs


def _run_attrs(info: dict) -> dict:
    import jax

    return {"meanfield_jax_version": __version__, "jax_version": jax.__version__,
            "numpy_version": np.__version__, "devices": ", ".join(info["devices"]),
            "process_count": info["process_count"], "elapsed_s": info["elapsed_s"],
            "seconds_per_size": np.asarray(info["seconds_per_size"]),
            "seconds_per_size_note": "process 0's wall time per size in the last run, "
                                     "compilation included (0 for sizes restored from "
                                     "checkpoints)",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


_LANGEVIN_LONG_NAMES = {
    "flux_left": "left bath -> system energy flux (stochastic energetics)",
    "flux_right": "system -> right bath energy flux",
    "flux_left_stderr": "standard error of flux_left over trajectories",
    "flux_right_stderr": "standard error of flux_right over trajectories",
    "temperatures": "kinetic temperature T_n = m_n <v_n^2> (k_B = 1; NaN beyond N)",
    "temperatures_stderr": "standard error of T_n over trajectories",
    "positions_sq": "<q_n^2> (NaN beyond N)",
    "positions_sq_stderr": "standard error of <q_n^2> over trajectories",
    "energies": "energy profile <e_n> (kinetic + half of each pair's potential + on-site; "
                "NaN beyond N)",
    "energies_stderr": "standard error of <e_n> over trajectories",
    "magnetisation": "<|m|>, m = (1/N) sum exp(i theta_n)",
    "magnetisation_stderr": "standard error of <|m|> over trajectories",
    "magnetisation_sq": "<|m|^2>",
    "magnetisation_sq_stderr": "standard error of <|m|^2> over trajectories",
}


def _realization_mean(values, errors, axis):
    """Mean over realizations with its standard error: the sample standard error over
    R >= 2 realizations (disorder and noise together); for one realization, its own
    statistical error (over trajectories)."""
    stats = ensemble_mean(values, axis=axis)
    single = np.sum(np.where(np.isfinite(values), errors, 0.0), axis=axis)  # the one, if one
    stderr = np.where(stats.count == 1, single, stats.stderr)
    return stats.mean, stderr


def langevin_sweep_dataset(cfg: SweepConfig, tasks, res: TaskResults, info: dict):
    """The dataset of a nonlinear (Langevin) sweep from its per-task results.

    Dimensions as :func:`sweep_dataset`'s (``particle`` added for T_n, 1 … max N, NaN
    beyond each N). Per realization: ``flux`` = (J_L + J_R)/2, ``flux_error`` = (s_L +
    s_R)/2 (a bound on its standard error over trajectories: exact if the two baths'
    estimates are fully correlated), ``converged`` (1 where simulated with a finite J),
    ``flux_left``, ``flux_right``, ``temperatures`` and their standard errors over
    trajectories (rotors: the magnetisation too; with ``profiles``: ``positions_sq`` and
    ``energies``). Over realizations: ``flux_mean``, ``flux_stderr`` (sample
    standard error over R >= 2 realizations, else the realization's ``flux_error``),
    ``temperatures_mean``, ``temperatures_mean_stderr``, ``n_realizations``; the fit
    J ∝ N^−α (:func:`add_fits`). Attributes: the configuration, ``method = "langevin"``,
    the integrator and the run settings. No ``flux_asymptotic`` (a harmonic prediction).
    """
    import xarray as xr

    n_max = max(cfg.sizes)
    shape = (len(cfg.masses), len(cfg.alphas), len(cfg.k0), len(cfg.n_tilde), len(cfg.sizes),
             cfg.max_realizations)
    where = tuple(tasks)
    power_law = cfg.model == "power_law"
    dims = ("masses", "k0", "n_tilde", "N", "realization")
    if power_law:
        dims = ("masses", "coupling_alpha") + dims[1:]

    def grid(values, extra=()):
        out = np.full(shape + extra, np.nan)
        out[where] = values
        return out if power_law else out[:, 0]

    flux, err = grid(res.flux), grid(res.error)
    conv = np.zeros(shape, dtype=np.int8)
    conv[where] = res.converged
    conv = conv if power_law else conv[:, 0]
    good = np.where(conv.astype(bool), flux, np.nan)
    mean, stderr = _realization_mean(good, err, -1)
    variables = {
        "flux": (dims, flux, {"long_name": "heat flux J = (J_left + J_right)/2 (Langevin)",
                              "units": "energy/time"}),
        "flux_error": (dims, err, {"long_name": "statistical error of J over trajectories",
                                   "note": "(s_left + s_right)/2: a bound on the standard "
                                           "error of the mean of the two baths' estimates"}),
        "converged": (dims, conv, {"long_name": "1 where the system was simulated and J is "
                                                "finite (0: diverged, or not simulated)"}),
        "flux_mean": (dims[:-1], mean, {"long_name": "mean of J over realizations"}),
        "flux_stderr": (dims[:-1], stderr,
                        {"long_name": "standard error of flux_mean",
                         "note": "sample standard error over realizations (disorder and "
                                 "noise) for R >= 2, else the one realization's flux_error"}),
    }
    pdims = dims + ("particle",)
    for name, value in res.extra.items():
        per_site = value.ndim == 2
        long_name = _LANGEVIN_LONG_NAMES[name]
        if cfg.nonlinearity == "rotors":
            long_name = long_name.replace("<q_n^2>", "<cos theta_n>")
        variables[name] = (pdims if per_site else dims,
                           grid(value, (n_max,) if per_site else ()), {"long_name": long_name})
    temps = np.where(conv.astype(bool)[..., None], variables["temperatures"][1], np.nan)
    t_mean, t_err = _realization_mean(np.moveaxis(temps, -1, -2),
                                      np.moveaxis(variables["temperatures_stderr"][1], -1, -2),
                                      -1)
    variables["temperatures_mean"] = (dims[:-2] + ("N", "particle"), t_mean,
                                      {"long_name": "mean of T_n over realizations"})
    variables["temperatures_mean_stderr"] = (dims[:-2] + ("N", "particle"), t_err,
                                             {"long_name": "standard error of "
                                                           "temperatures_mean (as flux_stderr)"})
    nrep = np.zeros((len(cfg.masses), len(cfg.sizes)), dtype=np.int64)
    for i, kind in enumerate(cfg.masses):
        nrep[i] = cfg.realizations if kind in cfg.random_kinds() else 1
    variables["n_realizations"] = (("masses", "N"), nrep,
                                   {"long_name": "realizations computed per (masses, N)"})
    coords = _sweep_coords(cfg)
    coords["particle"] = np.arange(1, n_max + 1, dtype=np.int64)
    ds = xr.Dataset(variables, coords=coords)
    attrs = {
        "title": f"meanfield_jax Langevin heat-flux sweep ({cfg.nonlinearity} chains)",
        "model": cfg.model,
        "complete": 1,
        "config_json": json.dumps(cfg.to_dict(), sort_keys=True),
        "config_hash": cfg.config_hash(),
        "method": "langevin",
        "integrator": "BAOAB",
        "noise_key": "realization r at size N: jax.random.fold_in(masses.realization_key(seed, "
                     "N, r), 2), shared by every masses, alpha, k0 and n_tilde of (N, r)",
        "deterministic_masses": "identical/graded/alternating masses do not depend on the "
                                "realization: simulated once, stored at realization 0 "
                                "(other entries NaN; flux_stderr is the run's own error)",
        "random_masses": "realization r uses masses.realization_key(seed, N, r); "
                         "the same masses for every k0 and n_tilde",
        "n_tilde_kac_means": _KAC_MEANS[cfg.model],
        "n_diverged": int((res.done & ~res.converged).sum()),
        "n_diverged_note": "systems whose simulation gave a non-finite J (converged = 0; "
                           "excluded from the means)",
    }
    if cfg.model == "random_springs":
        attrs["deterministic_masses"] = _RANDOM_SPRINGS_NOTE
    attrs.update(_run_attrs(info))
    attrs.update(_config_attrs(cfg))
    ds.attrs.update(attrs)
    return add_fits(ds, cfg.fit_min_n, cfg.fit_max_n)


_KAC_MEANS = {
    "mean_field": "N - 1",
    "power_law": "(1/N) sum_i sum_(j != i) |i - j|^-alpha (networks.kac_factor)",
    "nearest_neighbour": "2 (N - 1) / N (networks.kac_factor(N, inf))",
    "random_springs": "(N - 1) / 2",
}


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


def langevin_dataset(result):
    """A :class:`meanfield_jax.LangevinResult` as an ``xarray.Dataset`` (dimension
    ``particle``; the run's settings in attrs)."""
    import xarray as xr

    particle = np.arange(1, result.n + 1)
    ds = xr.Dataset(
        {
            "flux_left": ((), result.flux_left,
                          {"long_name": "left bath -> system energy flux"}),
            "flux_right": ((), result.flux_right,
                           {"long_name": "system -> right bath energy flux"}),
            "flux_left_stderr": ((), result.flux_left_stderr),
            "flux_right_stderr": ((), result.flux_right_stderr),
            "temperatures": (("particle",), np.asarray(result.temperatures),
                             {"long_name": "kinetic temperature m_n <v_n^2> (k_B = 1)"}),
            "temperatures_stderr": (("particle",), np.asarray(result.temperatures_stderr)),
            "masses": (("particle",), np.asarray(result.masses)),
        },
        coords={"particle": particle},
    )
    attrs = {
        "gamma": result.gamma, "t_left": result.t_left, "t_right": result.t_right,
        "k_prime": result.k_prime, "system_kind": result.system_kind, "dt": result.dt,
        "n_steps": result.n_steps, "burn_in": result.burn_in,
        "n_trajectories": result.n_trajectories, "initial": result.initial,
        "integrator": result.integrator, "wall_time": result.wall_time,
    }
    attrs.update({f"system_{k}": v for k, v in result.system_params.items()})
    if result.nonlinearity:
        attrs["nonlinearity"] = result.nonlinearity
        attrs.update({f"nonlinear_{k}": v for k, v in result.nonlinear_params.items()})
    ds.attrs.update(attrs)
    rotors = result.nonlinearity == "rotors"
    for name, long_name in (("positions_sq", "<cos theta_n>" if rotors else "<q_n^2>"),
                            ("energies", "energy profile <e_n> (kinetic + local potential)")):
        if getattr(result, name) is not None:
            ds[name] = (("particle",), np.asarray(getattr(result, name)),
                        {"long_name": long_name})
            ds[name + "_stderr"] = (("particle",), np.asarray(getattr(result, name + "_stderr")))
    for name, long_name in (("magnetisation", "<|m|>, m = (1/N) sum exp(i theta_n)"),
                            ("magnetisation_sq", "<|m|^2>")):
        if getattr(result, name) is not None:
            ds[name] = ((), getattr(result, name), {"long_name": long_name})
            ds[name + "_stderr"] = ((), getattr(result, name + "_stderr"))
    return ds


def conductance_dataset(temperatures, result, hbar, system_params: dict):
    """κ(T) of :func:`meanfield_jax.thermal_conductance_with_error` as an ``xarray.Dataset``
    (dimension ``temperature``): ``conductance``, ``error_estimate``, ``converged`` and
    ``kappa_over_kappa0`` (κ₀ = πT/(6ħ), the quantum of thermal conductance); ħ and the
    system's parameters as attributes."""
    import xarray as xr

    t = np.asarray(temperatures, dtype=float)
    kappa = np.asarray(result.conductance)
    kappa0 = np.pi * t / (6.0 * hbar)
    ds = xr.Dataset(
        {
            "conductance": (("temperature",), kappa,
                            {"long_name": "thermal conductance kappa(T), k_B = 1"}),
            "error_estimate": (("temperature",), np.asarray(result.error_estimate)),
            "converged": (("temperature",), np.asarray(result.converged).astype(np.int8)),
            "kappa_over_kappa0": (("temperature",), kappa / kappa0,
                                  {"long_name": "kappa / (pi T / (6 hbar))"}),
        },
        coords={"temperature": t},
    )
    ds.attrs.update({"hbar": float(hbar), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime()),
                     "meanfield_jax_version": __version__})
    ds.attrs.update({f"system_{k}": v for k, v in system_params.items()})
    return ds
