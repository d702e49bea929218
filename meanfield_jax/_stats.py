"""Statistics of ensembles and sweeps: means with standard errors, power-law fits.

NumPy only, O(size of the input); NaN marks missing values (realizations not computed).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["EnsembleMean", "ensemble_mean", "fit_power_law"]


class EnsembleMean(NamedTuple):
    """Mean over realizations with its standard error (std / sqrt(R), ddof = 1)."""

    mean: np.ndarray
    stderr: np.ndarray
    count: np.ndarray


def ensemble_mean(values, axis: int = -1) -> EnsembleMean:
    """Mean, standard error and count over an axis, ignoring NaN (unfilled realizations).

    The standard error is 0 for a single value (deterministic masses), NaN for none.
    O(size of ``values``).

    Args:
      values: array of realizations (NaN where a realization is missing).
      axis: the realization axis (default: the last).

    Returns:
      :class:`EnsembleMean` (mean, stderr = std/√count with ddof = 1, count), NumPy arrays
      with ``axis`` removed.

    Raises:
      ValueError: for values that are not numbers, or an ``axis`` out of range (NumPy's
        ``AxisError``).

    >>> import meanfield_jax as mf
    >>> m = mf.ensemble_mean([1.0, 2.0, 3.0, float("nan")])
    >>> float(m.mean), round(float(m.stderr), 12), int(m.count)
    (2.0, 0.57735026919, 3)
    """
    values = np.asarray(values, dtype=np.float64)
    count = np.sum(np.isfinite(values), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(values, axis=axis)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        dev = np.where(np.isfinite(values), values - np.expand_dims(mean, axis), 0.0)
        var = np.sum(dev**2, axis=axis) / np.maximum(count - 1, 1)
        stderr = np.where(count > 1, np.sqrt(var / np.maximum(count, 1)),
                          np.where(count == 1, 0.0, np.nan))
    return EnsembleMean(mean, stderr, count)


def fit_power_law(n, mean, stderr=None, *, min_n=0.0, max_n=math.inf):
    """Least-squares fit of log J = c − α log N over min_n <= N <= max_n.

    Weighted by the relative standard errors (σ_log J = stderr / mean) where every point in
    range has one > 0 (random masses), unweighted otherwise (deterministic masses). The
    standard error of α is scaled by the residuals (reduced χ²), so it also reflects
    curvature of log J(log N). O(number of sizes).

    Args:
      n: sizes N (1-d array).
      mean: J at each size (mean over realizations); non-positive or NaN entries are
        skipped.
      stderr: standard errors of ``mean`` (optional weights).
      min_n, max_n: the range of N fitted.

    Returns:
      (alpha, alpha_stderr, c, points); NaN where fewer than 2 (stderr: 3) points are usable.

    Raises:
      ValueError: if ``n``, ``mean`` (and ``stderr``) do not have the same shape.

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
