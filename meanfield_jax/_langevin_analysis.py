"""Analyses built on Langevin runs: Richardson extrapolation in dt and thermal rectification.

Richardson: BAOAB's stationary averages carry a bias c h² + O(h⁴) (``_langevin``'s module
docstring; for nonlinear forces too). Two runs at h and h/r give
X₀ = (r² X(h/r) − X(h)) / (r² − 1), with standard error
√(r⁴ σ²(h/r) + σ²(h)) / (r² − 1) for independent runs (runs sharing a key are positively
correlated, so the same formula then overstates the error).

Rectification: R = (|J₊| − |J₋|) / |J₋|, J₊ with the baths as given (T_L on particle 1,
T_R on particle N), J₋ with T_L and T_R swapped, each J the mean of the two baths' fluxes
(the stationary state has J_left = J_right). For a harmonic system J₋ = −J₊ exactly (J is
linear in ΔT, Eq. 16), so R = 0 up to noise; nonlinear, graded systems rectify.
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import jax
import numpy as np

from ._langevin import LangevinResult, simulate

__all__ = ["Extrapolated", "richardson", "Rectification", "rectification"]

_FIELDS = ("flux_left", "flux_right", "temperatures", "positions_sq", "energies")


class Extrapolated(NamedTuple):
    """Richardson-extrapolated (dt → 0) observables with standard errors (None where the
    runs did not keep a profile). Arrays are (N,); fluxes are floats."""

    flux_left: Any
    flux_left_stderr: Any
    flux_right: Any
    flux_right_stderr: Any
    temperatures: Any
    temperatures_stderr: Any
    positions_sq: Any
    positions_sq_stderr: Any
    energies: Any
    energies_stderr: Any


def richardson(coarse: LangevinResult, fine: LangevinResult) -> Extrapolated:
    """Extrapolate the observables of two runs at dt = h (``coarse``) and h/r (``fine``) to
    dt → 0, removing the O(h²) bias: X₀ = (r² X_fine − X_coarse)/(r² − 1).

    Args:
      coarse: a :class:`LangevinResult` at time step h.
      fine: a :class:`LangevinResult` of the same system at h/r (r > 1), with an
        independent key.

    Returns:
      An :class:`Extrapolated`: every observable both runs kept, extrapolated, with its
      standard error propagated from the two runs' (independent) errors.

    Raises:
      TypeError: if either is not a :class:`LangevinResult`.
      ValueError: if ``fine.dt`` is not smaller than ``coarse.dt``, or the runs are of
        different systems (masses, baths or nonlinearity).

    >>> import jax, meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0, 1.2], t_left=1.0, t_right=0.0)
    >>> runs = [mf.simulate(chain, jax.random.PRNGKey(i), 4, dt, 400, 200)
    ...         for i, dt in enumerate((0.2, 0.1))]
    >>> x = richardson(*runs)
    >>> x.temperatures.shape
    (2,)
    """
    for name, r in (("coarse", coarse), ("fine", fine)):
        if not isinstance(r, LangevinResult):
            raise TypeError(f"{name} must be a LangevinResult, got {type(r).__name__}")
    if not fine.dt < coarse.dt:
        raise ValueError(f"fine.dt = {fine.dt} must be < coarse.dt = {coarse.dt}")
    same = (np.array_equal(coarse.masses, fine.masses)
            and (coarse.gamma, coarse.t_left, coarse.t_right, coarse.k_prime, coarse.system_kind,
                 coarse.nonlinearity) == (fine.gamma, fine.t_left, fine.t_right, fine.k_prime,
                                          fine.system_kind, fine.nonlinearity)
            and coarse.system_params == fine.system_params
            and coarse.nonlinear_params == fine.nonlinear_params)
    if not same:
        raise ValueError("coarse and fine must be runs of the same system (masses, baths, "
                         "couplings and nonlinearity)")
    r2 = (coarse.dt / fine.dt) ** 2
    out = {}
    for f in _FIELDS:
        xc, xf = getattr(coarse, f), getattr(fine, f)
        if xc is None or xf is None:
            out[f], out[f + "_stderr"] = None, None
            continue
        ec, ef = getattr(coarse, f + "_stderr"), getattr(fine, f + "_stderr")
        value = (r2 * np.asarray(xf) - np.asarray(xc)) / (r2 - 1.0)
        err = np.sqrt(r2 * r2 * np.asarray(ef) ** 2 + np.asarray(ec) ** 2) / (r2 - 1.0)
        if np.ndim(value) == 0:
            value, err = float(value), float(err)
        out[f], out[f + "_stderr"] = value, err
    return Extrapolated(**out)


class Rectification(NamedTuple):
    """R = (|J₊| − |J₋|)/|J₋| with its standard error, and the two runs.

    Attributes:
      ratio, stderr: R and its standard error (first-order propagation).
      flux_forward, flux_forward_stderr: J₊ (baths as given).
      flux_reverse, flux_reverse_stderr: J₋ (T_L and T_R swapped; negative when T_L > T_R).
      forward, reverse: the two :class:`LangevinResult` objects.
    """

    ratio: float
    stderr: float
    flux_forward: float
    flux_forward_stderr: float
    flux_reverse: float
    flux_reverse_stderr: float
    forward: LangevinResult
    reverse: LangevinResult


def _flux(result: LangevinResult) -> tuple[float, float]:
    """(J, its standard error): the mean of the two baths' fluxes; the error is the larger
    of theirs (var((a + b)/2) <= max(var a, var b) whatever their correlation)."""
    return (0.5 * (result.flux_left + result.flux_right),
            max(result.flux_left_stderr, result.flux_right_stderr))


def rectification(system, key, n_trajectories: int, dt: float, n_steps: int, burn_in: int,
                  *, checkpoint=None, **simulate_kwargs) -> Rectification:
    """Thermal rectification of ``system``: runs it with its baths as given and swapped.

    Each run is :func:`meanfield_jax.simulate` with its own key (split from ``key``), so the
    two fluxes are independent. Cost: two runs.

    Args:
      system: any system :func:`meanfield_jax.simulate` takes (its T_L ≠ T_R).
      key, n_trajectories, dt, n_steps, burn_in, simulate_kwargs: as for ``simulate``.
      checkpoint: a path prefix: the runs checkpoint to ``PREFIX.forward.npz`` and
        ``PREFIX.reverse.npz`` (each resumable as ``simulate``'s).

    Returns:
      A :class:`Rectification`: R = (|J₊| − |J₋|)/|J₋| with its standard error, both fluxes
      and both runs. R is 0 within its error for any harmonic system.

    Raises:
      ValueError: for T_L = T_R (nothing to rectify), or as ``simulate``.

    >>> import jax, meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0, 2.0], t_left=1.0, t_right=0.5)
    >>> r = rectification(chain, jax.random.PRNGKey(0), 4, 0.1, 400, 200)
    >>> r.flux_forward > 0 > r.flux_reverse
    True
    """
    t_left, t_right = float(np.asarray(system.t_left)), float(np.asarray(system.t_right))
    if t_left == t_right:
        raise ValueError(f"rectification needs t_left != t_right, got both {t_left!r}")
    swapped = system.replace(t_left=t_right, t_right=t_left)
    k_forward, k_reverse = jax.random.split(key)
    runs = []
    for tag, s, k in (("forward", system, k_forward), ("reverse", swapped, k_reverse)):
        ck = None if checkpoint is None else f"{os.fspath(checkpoint)}.{tag}.npz"
        runs.append(simulate(s, k, n_trajectories, dt, n_steps, burn_in, checkpoint=ck,
                             **simulate_kwargs))
    (jp, ep), (jm, em) = _flux(runs[0]), _flux(runs[1])
    ratio = (abs(jp) - abs(jm)) / abs(jm)
    stderr = abs(jp / jm) * math.sqrt((ep / jp) ** 2 + (em / jm) ** 2)
    return Rectification(ratio, stderr, jp, ep, jm, em, runs[0], runs[1])
