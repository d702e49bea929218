"""Lorentzian fits: one Lorentzian to a T(ω) curve, and Eqs. (24)/(28) to a system's peaks.

* :func:`fit_lorentzian_curve` fits height/(1 + ((ω − center)/hwhm)²) to given (ω, T) data.
* :func:`fit_resonance_lorentzians` finds a chain's main peak exactly (``_resonances``) and
  fits Eq. (28) (k0 > 0 or k' > 0) or Eq. (24) (free chain) to the exact T on a grid of
  ±``window`` half widths around it.

Both minimize the mean squared misfit with ``optax.lbfgs`` (zoom line search) on
parameters scaled to O(1); both are jitted and vmappable.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu

from . import _config
from ._buckets import buckets_enabled, pad_chain
from ._green import chain_transmittance
from ._model import MeanFieldChain, check_finite_omega, check_single_system, conserves_momentum
from ._resonances import (
    MAX_NEWTON_ITERATIONS,
    chain_pole_seeds,
    chain_zero_bracket,
    half_widths,
    maximize,
)

__all__ = [
    "LorentzianCurveFit",
    "ResonanceLorentzianFit",
    "fit_lorentzian_curve",
    "fit_resonance_lorentzians",
]


class LorentzianCurveFit(NamedTuple):
    """Least-squares fit of height / (1 + ((ω − center)/hwhm)²) to data.

    Attributes:
      center, hwhm, height: fitted parameters (1/time, 1/time, dimensionless).
      A: 1/(n · hwhm), Eq. (28)'s 𝒜 when ``n`` = N was given (else 1/hwhm).
      residual: root-mean-square misfit on the data.
      converged: L-BFGS reached the gradient tolerance.
    """

    center: jax.Array
    hwhm: jax.Array
    height: jax.Array
    A: jax.Array
    residual: jax.Array
    converged: jax.Array


class ResonanceLorentzianFit(NamedTuple):
    """Fit of Eq. (28) (or Eq. 24 for a free chain) to the exact T(ω) of one system.

    Attributes:
      centers: (2,) fitted peak positions (−Ω, +Ω) (1/time); Ω ≈ 0 for a free chain.
      A: fitted 𝒜 (time), each peak being 1/(1 + N²𝒜²(ω ∓ Ω)²) (Eq. 28); for a free
        chain (k0 = k' = 0) the single peak 1/(1 + N²𝒜²ω²) (Eq. 24, 𝒜 → m/2γ).
      A_exact: 1/(N · HWHM) from the exact half width of T at its maximum.
      omega_c: exact position of the maximum (Newton); height: T(omega_c).
      hwhm: exact half width at half maximum (mean of both sides).
      residual: RMS misfit of the fit on the window; converged: all steps converged.
    """

    centers: jax.Array
    A: jax.Array
    A_exact: jax.Array
    omega_c: jax.Array
    height: jax.Array
    hwhm: jax.Array
    residual: jax.Array
    converged: jax.Array


def _lbfgs(loss, params, max_iterations, gtol):
    """Minimize ``loss`` with optax.lbfgs (zoom line search) in a while_loop."""
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def body(carry):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(params, updates), state

    def cond(carry):
        _, state = carry
        count = otu.tree_get(state, "count")
        grad = otu.tree_get(state, "grad")
        return (count == 0) | ((count < max_iterations) & (otu.tree_norm(grad) >= gtol))

    params, state = jax.lax.while_loop(cond, body, (params, opt.init(params)))
    grad = jax.grad(loss)(params)
    ok = (otu.tree_norm(grad) < gtol * 10.0) & jnp.isfinite(loss(params))
    return params, ok


def _main_seed(chain, n=None):
    """The collective pole nearest the real axis (Re >= 0): the main Lorentzian peak."""
    poles, _, ok, _ = chain_pole_seeds(chain, False, n)
    i = jnp.argmin(jnp.where(ok, poles.imag, jnp.inf))
    return jnp.maximum(poles[i].real, 0.0), poles[i].imag


@_config.jit(static_argnums=4)
def _fit_resonance(chain, omega_guess, window, grid, use_poles, n=None):
    """The fit, jitted; ``n``: the true N of a chain padded to a size bucket (one program
    per bucket, ``_buckets``)."""
    fixed = jax.lax.stop_gradient(chain)
    if use_poles:
        x, radius = _main_seed(fixed, n)
        lo, hi = chain_zero_bracket(fixed, x, n)
        span = hi - lo
    else:
        x = jnp.abs(omega_guess)
        lo, hi = chain_zero_bracket(fixed, x, n)
        span = hi - lo
        radius = jnp.where(jnp.isfinite(span), 0.125 * span, 0.1 * x)
    radius = jnp.where(jnp.isfinite(span), jnp.minimum(radius, 0.25 * span), radius)
    peak = maximize(fixed, x, lo, hi, radius, 1e-14, MAX_NEWTON_ITERATIONS, n)
    omega_c = jnp.abs(peak.omega)
    left, right, ok_w = half_widths(fixed, peak.omega, 1.0 / peak.height, peak.curvature_hwhm,
                                    lo, hi, n)
    hwhm = 0.5 * (left + right)
    omega = omega_c + hwhm * grid * window
    target = jax.vmap(lambda w: chain_transmittance(chain, w, n))(omega)
    n_true = fixed.n if n is None else n
    free = conserves_momentum(fixed)

    def model(params):
        na = jnp.exp(params[0]) / hwhm  # N𝒜
        center = omega_c + params[1] * hwhm
        plus = 1.0 / (1.0 + (na * (omega - center)) ** 2)     # Eq. (28), Ω = +ω_c
        minus = 1.0 / (1.0 + (na * (omega + center)) ** 2)    # Eq. (28), Ω = −ω_c
        return jnp.where(free, plus, plus + minus)            # Eq. (24) when free

    def loss(params):
        return jnp.mean((model(params) - target) ** 2)

    params, ok_fit = _lbfgs(loss, jnp.zeros(2), 200, 1e-11)
    a_fit = jnp.exp(params[0]) / (hwhm * n_true)
    center = omega_c + params[1] * hwhm
    residual = jnp.sqrt(loss(params))
    return ResonanceLorentzianFit(jnp.stack([-center, center]), a_fit, 1.0 / (n_true * hwhm),
                                  omega_c, peak.height, hwhm, residual,
                                  peak.converged & ok_w & ok_fit)


def fit_resonance_lorentzians(system, *, omega_guess=None, window=3.0, num=201):
    """Fit Eq. (28) (Eq. 24 for k0 = k' = 0) to the exact T(ω) around the main peaks.

    The main peak is found exactly first (seeded by the collective pole nearest the real
    axis, or by ``omega_guess``; Newton as in :func:`resonance_frequency`), with its exact
    half width; then (log N𝒜, Ω) are fitted by least squares to T on ``num`` points
    spanning ω_c ± ``window`` half widths, with ``optax.lbfgs``. For a pure Lorentzian the
    fit returns 𝒜 = 1/(N·HWHM) exactly; the paper's asymptotic value is Eq. (29)
    (``analytic.amplitude_A``). Vmappable over stacked chains (realizations).

    Cost: O(N²) for the pole seed (skip it with ``omega_guess``), O(N·num) per L-BFGS step.

    Args:
      system: MeanFieldChain.
      omega_guess: start of the peak search; default: from the poles of G_1N.
      window: half-width of the fit window in units of the exact HWHM.
      num: number of grid points.

    Returns:
      :class:`ResonanceLorentzianFit` (centers, A, A_exact, omega_c, height, hwhm, residual,
      converged).

    Raises:
      TypeError: if ``system`` is not a MeanFieldChain.
      ValueError: for ``num`` < 5, ``window`` <= 0, or a stacked batch passed without
        ``jax.vmap``.

    >>> import meanfield_jax as mf
    >>> fit = mf.fit_resonance_lorentzians(mf.MeanFieldChain([1.0] * 1000, k=1.0, k0=1.0))
    >>> round(float(fit.A), 3), round(float(fit.centers[1]), 6), bool(fit.converged)
    (1.996, 1.000501, True)
    """
    if not isinstance(system, MeanFieldChain):
        raise TypeError(f"fit_resonance_lorentzians needs a MeanFieldChain, got "
                        f"{type(system).__name__}")
    check_single_system(system, "fit_resonance_lorentzians")
    if num < 5:
        raise ValueError(f"num must be >= 5, got {num}")
    if not window > 0:
        raise ValueError(f"window must be > 0, got {window}")
    guess = jnp.nan if omega_guess is None else check_finite_omega(omega_guess, "omega_guess")
    grid = jnp.linspace(-1.0, 1.0, int(num))
    args = (jnp.asarray(guess, jnp.float64), jnp.asarray(window, jnp.float64), grid,
            omega_guess is None)
    if buckets_enabled():  # one program per size bucket (``_buckets``)
        padded, n = pad_chain(system)
        return _fit_resonance(padded, *args, n)
    return _fit_resonance(system, *args)


@_config.jit
def _fit_curve(omega, t, n):
    i = jnp.argmax(t)
    height0 = t[i]
    center0 = omega[i]
    above = t >= 0.5 * height0
    span = jnp.max(jnp.where(above, omega, -jnp.inf)) - jnp.min(jnp.where(above, omega, jnp.inf))
    hwhm0 = jnp.maximum(0.5 * span, 0.5 * jnp.min(jnp.abs(jnp.diff(omega))))
    norm = jnp.mean(t**2)

    def unpack(params):
        return center0 + params[0] * hwhm0, hwhm0 * jnp.exp(params[1]), height0 * jnp.exp(params[2])

    def loss(params):
        center, hwhm, height = unpack(params)
        return jnp.mean((height / (1.0 + ((omega - center) / hwhm) ** 2) - t) ** 2) / norm

    params, ok = _lbfgs(loss, jnp.zeros(3), 500, 1e-11)
    center, hwhm, height = unpack(params)
    residual = jnp.sqrt(loss(params) * norm)
    return LorentzianCurveFit(center, hwhm, height, 1.0 / (n * hwhm), residual, ok)


def fit_lorentzian_curve(omega, T, *, n=1):
    """Least-squares fit of one Lorentzian height/(1 + ((ω − center)/hwhm)²) to (ω, T) data.

    Parameters (center, log hwhm, log height), scaled by a first guess from the data
    (argmax and the points above half maximum), are fitted with ``optax.lbfgs``. Pass
    ``n`` = N to get Eq. (28)'s 𝒜 = 1/(N·hwhm). Jitted; vmappable over rows of data.

    Args:
      omega: (M,) frequencies covering one peak. T: (M,) transmittance values.
      n: the number of particles N (only used for ``A``).

    Returns:
      :class:`LorentzianCurveFit`.

    Raises:
      ValueError: unless ``omega`` and ``T`` are 1-d arrays of equal length >= 4.

    >>> import jax.numpy as jnp, meanfield_jax as mf
    >>> w = jnp.linspace(0.9, 1.1, 101)
    >>> fit = mf.fit_lorentzian_curve(w, 0.8 / (1 + ((w - 1.01) / 0.02) ** 2))
    >>> round(float(fit.center), 9), round(float(fit.hwhm), 9), round(float(fit.height), 9)
    (1.01, 0.02, 0.8)
    """
    omega, T = check_finite_omega(omega), check_finite_omega(T, "T")
    if omega.shape != T.shape or omega.ndim != 1 or omega.shape[0] < 4:
        raise ValueError(f"omega and T must be 1-d arrays of equal length >= 4, got "
                         f"{omega.shape}, {T.shape}")
    return _fit_curve(omega, T, jnp.asarray(n, jnp.float64))
