"""The simulation pipeline: a Langevin run from a validated config to a netCDF file.

:func:`prepare_simulation` validates the parsed configuration (``_simulate_config``) and the
output and checkpoint paths, computing nothing; :func:`run_simulation` runs
:func:`meanfield_jax.simulate` with a checkpoint, computes the exact J and T_n of the same
chain for comparison (:func:`meanfield_jax.heat_flux`, :func:`meanfield_jax.local_temperatures`,
Eqs. 16 and 31), writes the result to netCDF atomically and removes the checkpoint.

Reruns: an interrupted run (SIGINT / SIGTERM: exit 130 / 143 and one line; SIGKILL) resumes
from its checkpoint, bit for bit. A checkpoint of a finished run (the process ended between
the last checkpoint and writing OUT) is reported as such and its stored result written,
without stepping. ``--fresh`` discards the checkpoint. A checkpoint of different parameters
is an error.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ._configfile import fail
from ._io import check_writable, write_netcdf
from ._simulate_config import WHAT, config_to_run
from .nonlinear import FPUTSystem, RotorSystem

__all__ = ["prepare_simulation", "run_simulation", "SimulationRun", "EXACT_MAX_N"]

#: Largest N for the exact comparison: exact J, T_n cost O(N²) (residues).
EXACT_MAX_N = 10_000


class SimulationRun(NamedTuple):
    """A validated simulation: the chain, :func:`meanfield_jax.simulate`'s keyword
    arguments (without ``checkpoint``), the checkpoint path and its write interval."""

    system: object
    kwargs: dict
    checkpoint: str
    checkpoint_interval: float


def prepare_simulation(config: dict, out: str, *, fresh: bool = False) -> SimulationRun:
    """Validate a parsed ``simulate`` config and the paths; nothing is computed.

    The checkpoint defaults to ``OUT.partial.npz``; ``fresh`` deletes an existing one.

    Raises:
      ValueError: naming the key or path at fault.
    """
    system, kwargs = config_to_run(config)  # validation first: nothing computed on a bad config
    check_writable(out, "--out")
    checkpoint = kwargs.pop("checkpoint") or out + ".partial.npz"
    if os.path.abspath(checkpoint) == os.path.abspath(out):
        fail(WHAT, "checkpoint", f"must differ from --out ({out})")
    check_writable(checkpoint, "checkpoint")
    if fresh and os.path.exists(checkpoint):
        os.unlink(checkpoint)
    return SimulationRun(system, kwargs, checkpoint, kwargs["checkpoint_interval"])


def _exact(system):
    """(J, T_n, None) from the exact solvers, or (None, None, reason)."""
    from ._transport import heat_flux_with_error, local_temperatures_with_error

    if isinstance(system, (FPUTSystem, RotorSystem)):
        return None, None, "none for a nonlinear system (meanfield_jax.nonlinear)"
    if system.n > EXACT_MAX_N:
        return None, None, f"skipped for N > {EXACT_MAX_N} (O(N²); --no-exact to silence)"
    flux = heat_flux_with_error(system)
    temps = local_temperatures_with_error(system)
    if not (bool(flux.converged) and bool(temps.converged)):
        return None, None, "the exact solver did not converge for this system"
    return float(flux.flux), np.asarray(temps.temperatures, dtype=np.float64), None


def run_simulation(run: SimulationRun, out: str, *, progress: bool | None = None,
                   exact: bool = True):
    """Simulate, compare with the exact values, write ``out`` (netCDF), drop the checkpoint.

    Returns:
      (result, exact_flux, exact_temperatures, reason): the :class:`LangevinResult`, the
      exact J and T_n (None where skipped) and why they were skipped (or None).
    """
    from ._langevin import simulate

    result = simulate(run.system, checkpoint=run.checkpoint, progress=progress, **run.kwargs)
    exact_flux = exact_temps = reason = None
    if exact:
        exact_flux, exact_temps, reason = _exact(run.system)
    ds = result.to_xarray()
    if exact_flux is not None:
        ds["flux_exact"] = ((), exact_flux, {"long_name": "exact heat flux J (Eq. 16, "
                                                          "meanfield_jax.heat_flux)"})
        ds["temperatures_exact"] = (("particle",), exact_temps,
                                    {"long_name": "exact T_n (Eq. 31, local_temperatures)"})
    write_netcdf(ds, out)
    if os.path.exists(run.checkpoint):
        os.unlink(run.checkpoint)
    return result, exact_flux, exact_temps, reason
