"""Peak search: the exact maxima of T(ω) and their half widths, by autodiff-Newton.

Peaks of T(ω) (Eq. 17) are the maxima of a rational function whose poles are the damped
normal modes coupled to the baths. For identical masses and k0 > 0 the two main peaks sit
at ±ω_c (Eq. 26) with Lorentzian shape 1/(1 + N²𝒜²(ω ∓ ω_c)²) (Eqs. 28–29); for k0 = 0
one peak sits at ω = 0 (Eq. 24).

Method
------
* Maxima: Newton's method on the stationarity condition dT/dω = 0, written for the
  inverse transmittance u(ω) = 1/T(ω) (same stationary points where T > 0; for the chain
  u = |Q|²/(4γ²κ̄²) is a polynomial-like O(N) expression, see ``_green``). Near a
  Lorentzian peak u is exactly quadratic, so the Newton step is exact there and converges
  quadratically elsewhere. u' and u'' come from ``jax.grad``/``jax.jvp`` (no finite
  differences). Every step is guarded: a trust region (doubled on full accepted steps,
  quartered on rejection), a monotone-ascent acceptance test (T must not decrease beyond
  rounding), and a bracket between consecutive zeros of T (the bulk frequencies
  sqrt((Nk/Ñ + k0)/m_n) and, when pinned, ω = 0) that the iterate never leaves. The loop is a
  ``lax.while_loop`` with an iteration cap and a status flag; finished vmapped lanes only
  repeat harmless evaluations.
* Differentiability: the converged ω_c is returned through one implicit-function step,
  ω_c = ω* − (∂_ω u(ω*; θ) − sg[·])/sg[∂²_ω u], whose value is exactly ω* and whose
  derivative is the implicit-function-theorem result dω_c/dθ = −∂_θ∂_ω u / ∂²_ω u. So
  ``jax.grad`` of the peak position and height with respect to k, k0, γ, masses works.
* Seeds for all peaks: the poles of G_1N (``_poles``): one per gap between sorted bulk
  frequencies (very narrow peaks of disordered chains) and the six collective poles.
  Each pole x + iy seeds a maximization started at x with trust radius ~y inside that
  pole's bracket.
* Widths: the exact half width at half maximum on each side, from a safeguarded
  Newton–bisection solve of u(ω) = 2 u(ω_c) (bracket expanded by doubling).

Lorentzian fits of the peaks (Eqs. 24, 28–29) live in ``_lorentzian``.

Costs: one maximization is O(N) per iteration (typically 3–8 iterations); seeding from poles
is O(N²) (the gap poles) and compiles once per N.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config
from ._failure import raise_if_not_converged
from ._buckets import buckets_enabled, pad_chain
from ._green import bulk_frequencies, chain_kappa_bar, chain_q, network_transmittance
from ._model import (
    MeanFieldChain,
    check_finite_omega,
    conserves_momentum,
    is_concrete,
    state_matrix,
    check_single_system,
)
from ._collective_zeros import collective_roots
from ._gap_zeros import gap_roots
from ._pole_chain import PoleChain

__all__ = [
    "ResonanceResult",
    "Resonances",
    "resonance_frequency",
    "resonance_frequency_with_error",
    "find_resonances",
    "MAX_NEWTON_ITERATIONS",
    "chain_pole_seeds",
    "chain_zero_bracket",
    "half_widths",
    "maximize",
]

_EPS = float(np.finfo(np.float64).eps)
MAX_NEWTON_ITERATIONS = 100
_MAX_WIDTH_ITERATIONS = 200


# ----------------------------------------------------------------------------- helpers


def _inverse_transmittance(system, omega, n=None):
    """u(ω) = 1/T(ω) (Eq. 17). Chain: |Q|²/(4γ²κ̄²), O(N); network: dense, O(N³). ``n``:
    the true N of a chain padded to a size bucket (``_buckets``; the padding is inert)."""
    if isinstance(system, MeanFieldChain):
        q = chain_q(system, omega, n)
        kappa_bar = chain_kappa_bar(system, n)
        return (q.real**2 + q.imag**2) / (4.0 * system.gamma**2 * kappa_bar**2)
    return 1.0 / network_transmittance(system, omega)


def _frequency_scale(system, n=None):
    """A natural frequency of the system (absolute tolerances are relative to it); ``n`` as
    in :func:`_inverse_transmittance` (padded particles carry the first mass: same m_min)."""
    m_min = jnp.min(system.masses)
    if isinstance(system, MeanFieldChain):
        stiff = chain_kappa_bar(system, n) + system.k0 + system.k_prime
    else:
        stiff = jnp.max(jnp.abs(jnp.diag(system.stiffness))) + system.k_prime
    return jnp.sqrt(stiff / m_min) + system.gamma / m_min


def chain_zero_bracket(chain, x, n=None):
    """(lo, hi): the consecutive zeros of T around ω = x >= 0 for a chain.

    T vanishes at every bulk frequency sqrt((Nk/Ñ + k0)/m_n) (1/α_n = ∞) and, when pinned
    (k0 + k' > 0), at ω = 0. For a free chain ω = 0 is an interior point (T even), so the
    lowest interval is (−ω_min, ω_min). ``n``: the true N of a padded chain (its padded
    bulk entries are no zeros of T).
    """
    bulk = chain.masses[1:-1]
    w = bulk_frequencies(chain_kappa_bar(chain, n) + chain.k0, bulk)
    if n is not None:
        w = jnp.where(jnp.arange(bulk.shape[0]) < n - 2, w, jnp.inf)
    w = jnp.sort(w)
    pinned = ~conserves_momentum(chain)
    if w.shape[0] == 0:
        return jnp.where(pinned, 0.0, -jnp.inf), jnp.inf
    below = jnp.where(w < x, w, -jnp.inf)
    above = jnp.where(w > x, w, jnp.inf)
    lo = jnp.max(below)
    hi = jnp.min(above)
    lo = jnp.where(jnp.isfinite(lo), lo, jnp.where(pinned, 0.0, -w[0]))
    return lo, hi


# ----------------------------------------------------------------------------- maximization


class ResonanceResult(NamedTuple):
    """A local maximum of T(ω).

    Attributes:
      omega: ω_c, the position of the maximum (1/time); differentiable (implicit function).
      height: T(ω_c), dimensionless, 0 <= T <= 1.
      curvature_hwhm: sqrt(−2 T/T'') at ω_c: the half width of the Lorentzian with the same
        curvature (exact HWHM for an exact Lorentzian).
      converged: True when Newton's steps reached the tolerance (or the rounding floor) at a
        point with T'' < 0; otherwise ``omega`` must not be trusted.
      iterations: Newton iterations used.
      error_estimate: |u'/u''| at the final point (u = 1/T): the size of the next Newton
        step, a first-order estimate of the error of ``omega`` (1/time); inf where T'' >= 0.
    """

    omega: jax.Array
    height: jax.Array
    curvature_hwhm: jax.Array
    converged: jax.Array
    iterations: jax.Array
    error_estimate: jax.Array


def _derivatives(system, w, n=None):
    """(u, u', u'') at ω = w by forward-over-forward autodiff (u = 1/T)."""
    one = jnp.ones_like(w)

    def first(x):
        return jax.jvp(lambda y: _inverse_transmittance(system, y, n), (x,), (one,))

    (u, du), (_, d2u) = jax.jvp(first, (w,), (one,))
    return u, du, d2u


def maximize(system, omega0, lo, hi, radius0, rtol, max_iterations, n=None):
    """Guarded Newton ascent of T (Newton on u = 1/T) from omega0 inside (lo, hi). ``n``: the
    true N of a chain padded to a size bucket."""
    fixed = jax.lax.stop_gradient(system)
    scale = _frequency_scale(fixed, n)
    atol = 4.0 * _EPS * scale

    def u_fn(w):
        return _inverse_transmittance(fixed, w, n)

    derivatives = functools.partial(_derivatives, fixed, n=n)

    def body(state):
        it, w, radius, p_prev, _, _ = state
        u, du, d2u = derivatives(w)
        newton = d2u > 0
        p_newton = -du / jnp.where(newton, d2u, 1.0)
        p = jnp.where(newton, p_newton, -jnp.sign(du) * radius)
        p = jnp.clip(p, -radius, radius)
        trial = w + p
        bound = jnp.where(trial <= lo, lo, hi)
        outside = (trial <= lo) | (trial >= hi)
        trial = jnp.where(outside, 0.5 * (w + bound), trial)
        p = trial - w
        u_trial = u_fn(trial)
        step = jnp.abs(p)
        tol = rtol * jnp.abs(w) + atol
        small = newton & (step <= tol)
        accept = jnp.isfinite(u_trial) & ((u_trial <= u * (1.0 + 8.0 * _EPS)) | small)
        w_new = jnp.where(accept, trial, w)
        full = step >= 0.99 * radius
        radius_new = jnp.where(accept, jnp.where(full, 2.0 * radius, radius), 0.25 * step)
        width = jnp.sqrt(2.0 * u / jnp.where(newton, d2u, 1.0))
        floor = newton & accept & (step <= 1e-8 * width) & (step >= 0.5 * p_prev)
        collapsed = radius_new <= tol
        finite = jnp.isfinite(u) & jnp.isfinite(du) & jnp.isfinite(d2u)
        ok = finite & newton & (small | floor | collapsed)
        done = ok | ~finite | (collapsed & ~newton)
        p_prev = jnp.where(accept, step, p_prev)
        return it + 1, w_new, radius_new, p_prev, done, ok

    def cond(state):
        it, _, _, _, done, _ = state
        return (it < max_iterations) & ~done

    init = (jnp.asarray(0), omega0, radius0, jnp.asarray(jnp.inf), jnp.asarray(False),
            jnp.asarray(False))
    it, w, _, _, _, ok = jax.lax.while_loop(cond, body, init)

    # Implicit-function step: value w exactly, derivative −∂θ∂ω u / ∂²ω u.
    w_star = jax.lax.stop_gradient(w)
    du_theta = jax.jvp(lambda x: _inverse_transmittance(system, x, n), (w_star,),
                       (jnp.ones_like(w_star),))[1]
    u_s, du_s, d2u_s = derivatives(w_star)
    d2u_s = jax.lax.stop_gradient(d2u_s)
    omega_c = w_star - (du_theta - jax.lax.stop_gradient(du_theta)) / jnp.where(d2u_s > 0, d2u_s, 1.0)
    u_c = _inverse_transmittance(system, omega_c, n)
    height = 1.0 / u_c
    curvature_hwhm = jnp.sqrt(2.0 * u_s / jnp.where(d2u_s > 0, d2u_s, jnp.inf))
    ok = ok & (d2u_s > 0) & jnp.isfinite(height)
    error = jnp.where(d2u_s > 0, jnp.abs(jax.lax.stop_gradient(du_s))
                      / jnp.where(d2u_s > 0, d2u_s, 1.0), jnp.inf)
    return ResonanceResult(omega_c, height, jax.lax.stop_gradient(curvature_hwhm), ok, it,
                           error)


def _default_bracket(system, omega_guess, n=None):
    if isinstance(system, MeanFieldChain):
        return chain_zero_bracket(system, jnp.abs(omega_guess), n)
    return -jnp.inf, jnp.inf


@_config.jit
def _resonance_frequency(system, omega_guess, max_step, rtol, n=None):
    """The resonance search, jitted; ``n``: the true N of a chain padded to a size bucket
    (one program per bucket, ``_buckets``)."""
    fixed = jax.lax.stop_gradient(system)
    x = jnp.abs(omega_guess)
    lo, hi = _default_bracket(fixed, x, n)
    span = hi - lo
    default_radius = jnp.where(jnp.isfinite(span), 0.125 * span,
                               0.1 * x + 1e-3 * _frequency_scale(fixed, n))
    radius = jnp.where(jnp.isnan(max_step), default_radius, max_step)
    out = maximize(system, x, lo, hi, radius, rtol, MAX_NEWTON_ITERATIONS, n)
    return out._replace(omega=jnp.abs(out.omega))


def resonance_frequency_with_error(system, omega_guess, *, max_step=None, rtol=1e-14
                                   ) -> ResonanceResult:
    """The local maximum of T(ω) (Eq. 17) nearest ``omega_guess``, with its status.

    Newton iterations on dT/dω = 0 (written for u = 1/T) with u', u'' from ``jax.grad``;
    trust region, monotone-ascent acceptance and a bracket between the zeros of T around
    the guess (for a chain: the bulk frequencies sqrt((Nk/Ñ + k0)/m_n), and 0 when pinned)
    keep every step safe. Converges quadratically; on the identical-mass chain the result
    agrees with the exact maximum of Eq. (20) to ~1e-15 relative. O(N) per iteration for a
    chain (O(N³) for a network), typically 3–8 iterations. Jitted once per size bucket for
    a chain (padded with inert particles, ``_buckets``; once per N for a network);
    vmappable over stacked systems and guesses. Differentiable (implicit function theorem) in the system.

    Args:
      system: MeanFieldChain or HarmonicNetwork.
      omega_guess: starting frequency (1/time); T is even, so |omega_guess| is used.
      max_step: initial trust radius (1/time); default 1/8 of the bracket (or 0.1|ω|).
      rtol: relative step tolerance (an absolute floor of 4 eps × frequency scale applies,
        and a stalled step at the rounding floor also counts as converged).

    Returns:
      :class:`ResonanceResult` (omega, height, curvature_hwhm, converged, iterations,
      error_estimate); never raises for non-convergence.

    Raises:
      ValueError: for a stacked batch passed without ``jax.vmap``.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 100, k=1.0, k0=1.0)
    >>> r = mf.resonance_frequency_with_error(chain, 1.0)
    >>> round(float(r.omega), 8), bool(r.converged), bool(r.error_estimate < 1e-12)
    (1.00506345, True, True)
    """
    return _resonance_with_error(system, omega_guess, max_step, rtol,
                                 "resonance_frequency_with_error")


def _resonance_with_error(system, omega_guess, max_step, rtol, what):
    check_single_system(system, what)
    max_step = jnp.nan if max_step is None else max_step
    args = (check_finite_omega(omega_guess, "omega_guess"), jnp.asarray(max_step, jnp.float64),
            jnp.asarray(rtol, jnp.float64))
    if isinstance(system, MeanFieldChain) and buckets_enabled():
        padded, n = pad_chain(system)
        return _resonance_frequency(padded, *args, n)
    return _resonance_frequency(system, *args)


def resonance_frequency(system, omega_guess, *, max_step=None, rtol=1e-14, throw: bool = True):
    """Position ω_c and height T(ω_c) of the peak of T(ω) nearest ``omega_guess``.

    See :func:`resonance_frequency_with_error` for the method and options.

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system; ``jax.vmap`` over a batch).
      omega_guess: start of Newton's search (1/time), near the wanted peak.
      max_step: trust radius of a Newton step; default as in
        :func:`resonance_frequency_with_error`.
      rtol: relative tolerance on ω_c.
      throw: raise on non-convergence (default); ``False`` skips the check.

    Returns:
      (omega_c, T_max), float64 arrays.

    Raises:
      NotConvergedError: (``throw=True``) Newton's method did not converge; under
        ``jit``/``vmap`` as a JAX runtime error naming it (package docstring).
        ``throw=False`` returns the values unchecked.
      ValueError, TypeError: as :func:`resonance_frequency_with_error`.

    >>> import meanfield_jax as mf
    >>> wc, tmax = mf.resonance_frequency(mf.MeanFieldChain([1.0] * 1000, k=1.0, k0=1.0), 1.0)
    >>> round(float(1000 * (wc - 1.0)), 4), round(float(tmax), 6)
    (0.5006, 1.0)
    """
    r = _resonance_with_error(system, omega_guess, max_step, rtol, "resonance_frequency")
    if throw:
        r = raise_if_not_converged(
            r, r.converged, "resonance_frequency",
            "try another omega_guess or max_step, or inspect resonance_frequency_with_error(...)")
    return r.omega, r.height


# ----------------------------------------------------------------------------- half widths


def _half_width_side(system, omega_c, u_c, guess, direction, limit, n=None):
    """x > 0 with u(ω_c + direction·x) = 2 u_c (T at half maximum); x <= limit. rtsafe.
    ``n``: the true N of a chain padded to a size bucket."""
    target = 2.0 * u_c

    def g(x):
        return _inverse_transmittance(system, omega_c + direction * x, n) - target

    # expand the bracket: g(0) = −u_c < 0
    guess = jnp.minimum(guess, 0.5 * limit)

    def grow_cond(s):
        it, lo, hi = s
        return (it < 60) & (g(hi) < 0) & (hi < limit)

    def grow_body(s):
        it, lo, hi = s
        return it + 1, hi, jnp.minimum(2.0 * hi, limit)

    _, lo, hi = jax.lax.while_loop(grow_cond, grow_body, (0, jnp.zeros_like(guess), guess))
    bracketed = g(hi) >= 0  # inf at a zero of T counts
    def g_and_dg(x):
        return jax.jvp(g, (x,), (jnp.ones_like(x),))

    def body(s):
        it, lo, hi, x, _ = s
        gx, dgx = g_and_dg(x)
        lo = jnp.where(gx < 0, x, lo)
        hi = jnp.where(gx >= 0, x, hi)
        newton = x - gx / jnp.where(dgx != 0, dgx, 1.0)
        use_newton = (dgx != 0) & (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        x_new = jnp.where(use_newton, newton, 0.5 * (lo + hi))
        return it + 1, lo, hi, x_new, jnp.abs(x_new - x)

    # ω_c + x is resolved only to ~eps·|ω_c|: an absolute floor for very narrow peaks
    floor = 8.0 * _EPS * jnp.abs(omega_c)

    def cond(s):
        it, lo, hi, x, step = s
        return ((it < _MAX_WIDTH_ITERATIONS) & (step > 4.0 * _EPS * x + floor)
                & (hi - lo > 4.0 * _EPS * hi + floor))

    x0 = jnp.where(jnp.isfinite(hi), 0.5 * (lo + hi), lo)
    it, lo, hi, x, step = jax.lax.while_loop(cond, body, (0, lo, hi, x0, jnp.asarray(jnp.inf)))
    ok = (bracketed & ((step <= 1e-10 * x + floor) | (hi - lo <= 1e-10 * hi + floor))
          & (it < _MAX_WIDTH_ITERATIONS))
    return x, ok


def half_widths(system, omega_c, u_c, guess, lo, hi, n=None):
    """(left, right) half widths at half maximum of the peak at omega_c, and their status.
    ``n``: the true N of a chain padded to a size bucket."""
    fixed = jax.lax.stop_gradient(system)
    omega_c = jax.lax.stop_gradient(omega_c)
    u_c = jax.lax.stop_gradient(u_c)
    # a free chain's peak at ω = 0 is symmetric: T is even
    right, ok_r = _half_width_side(fixed, omega_c, u_c, guess, 1.0, hi - omega_c, n)
    left, ok_l = _half_width_side(fixed, omega_c, u_c, guess, -1.0, omega_c - lo, n)
    return left, right, ok_l & ok_r


# ----------------------------------------------------------------------------- all peaks


class Resonances(NamedTuple):
    """Peaks of T(ω) on ω >= 0, sorted by frequency.

    Attributes:
      omega: peak positions ω_c (1/time).
      height: T(ω_c).
      hwhm: exact half width at half maximum, mean of the two sides (1/time).
      hwhm_left, hwhm_right: the two sides separately.
      pole: the pole x + iy of G_1N that seeded each peak (y ≈ HWHM for a Lorentzian);
        NaN for a peak reached only from the extra seeds below the lowest / above the
        highest bulk frequency (a broad hump with no pole of its own).
      converged: status of the maximization and of both half-width solves.
      valid: (padded output only) which entries are peaks above the threshold.
    """

    omega: jax.Array
    height: jax.Array
    hwhm: jax.Array
    hwhm_left: jax.Array
    hwhm_right: jax.Array
    pole: jax.Array
    converged: jax.Array
    valid: jax.Array


def chain_pole_seeds(chain, include_gaps: bool, n=None):
    """Upper-half-plane poles of G_1N with Re >= 0 (``_poles``): (poles, gap_index or −1,
    valid, distinct bulk frequencies). Gap poles only with ``include_gaps``. ``n``: the true
    N of a chain padded to a size bucket (its padded gaps are not valid)."""
    c = PoleChain.from_chain(jax.lax.stop_gradient(chain), n)
    out = gap_roots(c)
    gap_z, gap_valid = out.roots, out.valid
    coll, _, _ = collective_roots(c, gap_z, gap_valid)
    scale = jnp.max(jnp.abs(coll))
    zero_mode = (jnp.abs(coll) <= 1e3 * _EPS * scale) & conserves_momentum(c)
    coll_ok = (coll.real >= -1e-12 * scale) & (coll.imag > 0) & ~zero_mode
    if include_gaps:
        poles = jnp.concatenate([coll, gap_z])
        ok = jnp.concatenate([coll_ok, gap_valid & (gap_z.imag > 0)])
        gap_index = jnp.concatenate([jnp.full(coll.shape, -1), jnp.arange(gap_z.shape[0])])
    else:
        poles, ok, gap_index = coll, coll_ok, jnp.full(coll.shape, -1)
    return poles, gap_index, ok, c.w


def _network_poles(network):
    """Poles ω = −iλ of G for λ the eigenvalues of the damped state matrix (O(N³), CPU)."""
    lam = jnp.linalg.eigvals(state_matrix(network))
    poles = -1j * lam
    ok = (poles.real >= 0) & (poles.imag > 1e-300)
    return poles, ok


def _seed_start(poles, lo, hi):
    """Start point and trust radius of a pole's seed, strictly inside its bracket."""
    x = jnp.maximum(poles.real, 0.0)
    y = jnp.maximum(poles.imag, 1e-300)
    span = hi - lo
    radius = jnp.where(jnp.isfinite(span), jnp.minimum(y, 0.25 * span), y)
    x = jnp.where(jnp.isfinite(span), jnp.clip(x, lo + 0.01 * span, hi - 0.01 * span), x)
    return x, radius


def _refine_seeds(system, x, radius, lo, hi, ok, n=None):

    def one(x, radius, lo, hi):
        r = maximize(system, x, lo, hi, radius, 1e-14, MAX_NEWTON_ITERATIONS, n)
        omega = jnp.abs(r.omega)
        guess = jnp.where(jnp.isfinite(r.curvature_hwhm) & (r.curvature_hwhm > 0),
                          r.curvature_hwhm, radius)
        left, right, ok_w = half_widths(system, r.omega, 1.0 / r.height, guess, lo, hi, n)
        return omega, r.height, left, right, r.converged & ok_w

    omega, height, left, right, conv = jax.vmap(one)(x, radius, lo, hi)
    return omega, height, left, right, conv & ok


def _deduplicate(omega, hwhm, pole_width, keep):
    """Sort order and mask of distinct peaks.

    Seeds that climbed to the same maximum (within 1e-6 half widths) are merged; the one
    kept is the seed whose pole is nearest the real axis (the pole of that peak).
    """
    order = jnp.argsort(jnp.where(keep, omega, jnp.inf))
    w = omega[order]
    k = keep[order]
    h = hwhm[order]
    y = jnp.where(k, pole_width[order], jnp.inf)
    same = jnp.concatenate([jnp.array([False]),
                            (jnp.abs(w[1:] - w[:-1]) <= 1e-6 * jnp.minimum(h[1:], h[:-1])
                             + 16.0 * _EPS * jnp.abs(w[1:])) & k[:-1] & k[1:]])
    run = jnp.cumsum(~same) - 1  # run id of each sorted entry
    best = jax.ops.segment_min(y, run, num_segments=w.shape[0])
    is_best = y == best[run]
    first_best = jax.ops.segment_min(jnp.where(is_best, jnp.arange(w.shape[0]), w.shape[0]),
                                     run, num_segments=w.shape[0])
    distinct = k & (jnp.arange(w.shape[0]) == first_best[run])
    return order, distinct


def find_resonances(system, threshold=1e-3, *, include_gap_poles=None, padded=False):
    """All peaks of T(ω) (Eq. 17) on ω >= 0 with T_max >= threshold, with exact widths.

    Every pole x + iy (Im > 0, Re >= 0) of G_1N seeds one guarded Newton maximization
    (:func:`resonance_frequency_with_error`) started at x with trust radius y inside the
    interval between the zeros of T around x; seeds that reach the same maximum are merged.
    For a chain the poles come from ``_poles``: one per gap between sorted bulk frequencies
    (the narrow peaks of disordered chains, widths down to 1e-10 and below) plus the six
    collective poles (the main Lorentzian peaks of Eqs. 24 and 28). For a network they are
    the eigenvalues of the damped state matrix (dense, O(N³), CPU).

    Cost (chain): O(N²) for the poles, O(N) per seed per Newton iteration, i.e. O(N²).
    Jitted once per size bucket for a chain (padded with inert particles, ``_buckets``;
    once per N for a network).

    Args:
      system: MeanFieldChain or HarmonicNetwork.
      threshold: keep peaks with T(ω_c) >= threshold.
      include_gap_poles: seed from the gap poles too (chain only). Default: True unless the
        bulk masses are all equal (concrete input), where no gap holds a pole.
      padded: return fixed-size arrays (one entry per seed, sorted, ``valid`` marking the
        peaks kept; for a chain the length follows its size bucket B >= 3: B + 5 seeds
        with the gap poles, 8 without); jit/vmap friendly. Default: only the kept peaks (concrete input).

    Returns:
      :class:`Resonances`.

    Raises:
      ValueError: for a stacked batch passed without ``jax.vmap`` (use ``padded=True``).
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> r = mf.find_resonances(mf.MeanFieldChain([1.0] * 100, k=1.0, k0=1.0), threshold=0.5)
    >>> [round(float(w), 6) for w in r.omega], [round(float(h), 6) for h in r.hwhm]
    ([1.005063], [0.005102])
    """
    check_single_system(system, "find_resonances")
    if isinstance(system, MeanFieldChain):
        if include_gap_poles is None:
            include_gap_poles = True
            if is_concrete(system.masses):
                bulk = np.asarray(system.masses)[..., 1:-1]
                include_gap_poles = bool(bulk.size and not np.all(bulk == bulk[..., :1]))
        threshold = jnp.asarray(threshold, jnp.float64)
        if buckets_enabled():  # one program per size bucket (``_buckets``)
            padded_chain, n = pad_chain(system)
            out = _find_chain(padded_chain, threshold, bool(include_gap_poles), n)
        else:
            out = _find_chain(system, threshold, bool(include_gap_poles))
    else:
        out = _find_network(system, jnp.asarray(threshold, jnp.float64))
    if padded or not is_concrete(out.valid):
        return out
    keep = np.asarray(out.valid)
    return Resonances(*(jnp.asarray(np.asarray(f)[keep]) for f in out))


def _assemble(system, poles, x, radius, lo, hi, ok, threshold, n=None):
    omega, height, left, right, conv = _refine_seeds(system, x, radius, lo, hi, ok, n)
    hwhm = 0.5 * (left + right)
    keep = ok & jnp.isfinite(omega) & jnp.isfinite(hwhm)
    pole_width = jnp.where(jnp.isnan(poles.imag), jnp.inf, poles.imag)
    order, distinct = _deduplicate(omega, hwhm, pole_width, keep)
    valid = distinct & (height[order] >= threshold)
    return Resonances(omega[order], height[order], hwhm[order], left[order], right[order],
                      poles[order], conv[order], valid)


@_config.jit(static_argnums=2)
def _find_chain(chain, threshold, include_gaps, n=None):
    """find_resonances for a chain, jitted; ``n``: the true N of a chain padded to a size
    bucket (one program per bucket, ``_buckets``)."""
    poles, gap_index, ok, w = chain_pole_seeds(chain, include_gaps, n)
    x = jnp.maximum(poles.real, 0.0)
    lo_c, hi_c = jax.vmap(lambda xi: chain_zero_bracket(chain, xi, n))(x)
    safe = jnp.clip(gap_index, 0, max(w.shape[0] - 2, 0))
    if w.shape[0] >= 2:
        lo = jnp.where(gap_index >= 0, w[safe], lo_c)
        hi = jnp.where(gap_index >= 0, w[safe + 1], hi_c)
    else:
        lo, hi = lo_c, hi_c
    x, radius = _seed_start(poles, lo, hi)
    # T vanishes at both ends of every interval between its zeros, so each interval holds
    # a peak; the gap poles seed the inner gaps, and two extra seeds (no pole: NaN) cover
    # the intervals below the lowest and above the highest bulk frequency.
    wf = bulk_frequencies(chain_kappa_bar(chain, n) + chain.k0, chain.masses[1:-1])
    if wf.shape[0]:
        real = jnp.arange(wf.shape[0]) < (chain.n if n is None else n) - 2
        w_min = jnp.min(jnp.where(real, wf, jnp.inf))
        w_max = jnp.max(jnp.where(real, wf, -jnp.inf))
        lo_first, _ = chain_zero_bracket(chain, 0.5 * w_min, n)
        edge_x = jnp.stack([0.5 * (lo_first + w_min), 1.05 * w_max])
        edge_lo = jnp.stack([lo_first, w_max])
        edge_hi = jnp.stack([w_min, jnp.inf])
        edge_r = jnp.stack([0.25 * (w_min - lo_first), 0.05 * w_max])
        nan = jnp.full(2, jnp.nan + 1j * jnp.nan)
        poles = jnp.concatenate([poles, nan])
        x = jnp.concatenate([x, edge_x])
        radius = jnp.concatenate([radius, edge_r])
        lo = jnp.concatenate([lo, edge_lo])
        hi = jnp.concatenate([hi, edge_hi])
        ok = jnp.concatenate([ok, jnp.ones(2, bool)])
    return _assemble(chain, poles, x, radius, lo, hi, ok, threshold, n)


@_config.jit
def _find_network(network, threshold):
    poles, ok = _network_poles(network)
    lo = jnp.full(poles.shape, -jnp.inf)
    hi = jnp.full(poles.shape, jnp.inf)
    x, radius = _seed_start(poles, lo, hi)
    return _assemble(network, poles, x, radius, lo, hi, ok, threshold)
