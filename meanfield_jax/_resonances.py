"""Resonance peaks of the transmittance: exact maxima by autodiff-Newton, Lorentzian fits.

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
* Lorentzian fits: least squares of Eq. 28 (k0 > 0 or k' > 0) or Eq. 24 (free chain) to
  the exact T on a grid of ±``window`` half widths around the main peak, with
  ``optax.lbfgs`` (zoom line search) on (log N𝒜, center offset) scaled to O(1).

Costs: one maximization is O(N) per iteration (typically 3–8 iterations); seeding from poles
is O(N²) (the gap poles) and compiles once per N.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from . import _config  # noqa: F401
from ._green import chain_q, chain_transmittance, network_transmittance
from ._model import MeanFieldChain, _is_concrete, check_single_system
from ._poles import _Chain, _collective_roots, _gap_roots

__all__ = [
    "ResonanceResult",
    "Resonances",
    "LorentzianFit",
    "LorentzianFits",
    "resonance_frequency",
    "resonance_frequency_with_status",
    "find_resonances",
    "fit_lorentzians",
    "fit_lorentzian",
]

_EPS = float(np.finfo(np.float64).eps)
_MAX_NEWTON_ITERATIONS = 100
_MAX_WIDTH_ITERATIONS = 200


# ----------------------------------------------------------------------------- helpers


def _inverse_transmittance(system, omega):
    """u(ω) = 1/T(ω) (Eq. 17). Chain: |Q|²/(4γ²κ̄²), O(N); network: dense, O(N³)."""
    if isinstance(system, MeanFieldChain):
        q = chain_q(system, omega)
        return (q.real**2 + q.imag**2) / (4.0 * system.gamma**2 * system.kappa_bar**2)
    return 1.0 / network_transmittance(system, omega)


def _transmittance(system, omega):
    if isinstance(system, MeanFieldChain):
        return chain_transmittance(system, omega)
    return network_transmittance(system, omega)


def _frequency_scale(system):
    """A natural frequency of the system (absolute tolerances are relative to it)."""
    m_min = jnp.min(system.masses)
    if isinstance(system, MeanFieldChain):
        stiff = system.kappa_bar + system.k0 + system.k_prime
    else:
        stiff = jnp.max(jnp.abs(jnp.diag(system.stiffness))) + system.k_prime
    return jnp.sqrt(stiff / m_min) + system.gamma / m_min


def _chain_zero_bracket(chain, x):
    """(lo, hi): the consecutive zeros of T around ω = x >= 0 for a chain.

    T vanishes at every bulk frequency sqrt((Nk/Ñ + k0)/m_n) (1/α_n = ∞) and, when pinned
    (k0 + k' > 0), at ω = 0. For a free chain ω = 0 is an interior point (T even), so the
    lowest interval is (−ω_min, ω_min).
    """
    w = jnp.sort(jnp.sqrt((chain.kappa_bar + chain.k0) / chain.masses[1:-1]))
    if w.shape[0] == 0:
        pinned = (chain.k0 + chain.k_prime) > 0
        return jnp.where(pinned, 0.0, -jnp.inf), jnp.inf
    below = jnp.where(w < x, w, -jnp.inf)
    above = jnp.where(w > x, w, jnp.inf)
    lo = jnp.max(below)
    hi = jnp.min(above)
    pinned = (chain.k0 + chain.k_prime) > 0
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
    """

    omega: jax.Array
    height: jax.Array
    curvature_hwhm: jax.Array
    converged: jax.Array
    iterations: jax.Array


def _derivatives(system, w):
    """(u, u', u'') at ω = w by forward-over-forward autodiff (u = 1/T)."""
    one = jnp.ones_like(w)

    def first(x):
        return jax.jvp(lambda y: _inverse_transmittance(system, y), (x,), (one,))

    (u, du), (_, d2u) = jax.jvp(first, (w,), (one,))
    return u, du, d2u


def _maximize(system, omega0, lo, hi, radius0, rtol, max_iterations):
    """Guarded Newton ascent of T (Newton on u = 1/T) from omega0 inside (lo, hi)."""
    fixed = jax.lax.stop_gradient(system)
    scale = _frequency_scale(fixed)
    atol = 4.0 * _EPS * scale

    def u_fn(w):
        return _inverse_transmittance(fixed, w)

    derivatives = functools.partial(_derivatives, fixed)

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
    du_theta = jax.jvp(lambda x: _inverse_transmittance(system, x), (w_star,),
                       (jnp.ones_like(w_star),))[1]
    u_s, _, d2u_s = derivatives(w_star)
    d2u_s = jax.lax.stop_gradient(d2u_s)
    omega_c = w_star - (du_theta - jax.lax.stop_gradient(du_theta)) / jnp.where(d2u_s > 0, d2u_s, 1.0)
    u_c = _inverse_transmittance(system, omega_c)
    height = 1.0 / u_c
    curvature_hwhm = jnp.sqrt(2.0 * u_s / jnp.where(d2u_s > 0, d2u_s, jnp.inf))
    ok = ok & (d2u_s > 0) & jnp.isfinite(height)
    return ResonanceResult(omega_c, height, jax.lax.stop_gradient(curvature_hwhm), ok, it)


def _default_bracket(system, omega_guess):
    if isinstance(system, MeanFieldChain):
        return _chain_zero_bracket(system, jnp.abs(omega_guess))
    return -jnp.inf, jnp.inf


@jax.jit
def _resonance_frequency(system, omega_guess, max_step, rtol):
    fixed = jax.lax.stop_gradient(system)
    x = jnp.abs(omega_guess)
    lo, hi = _default_bracket(fixed, x)
    span = hi - lo
    default_radius = jnp.where(jnp.isfinite(span), 0.125 * span,
                               0.1 * x + 1e-3 * _frequency_scale(fixed))
    radius = jnp.where(jnp.isnan(max_step), default_radius, max_step)
    out = _maximize(system, x, lo, hi, radius, rtol, _MAX_NEWTON_ITERATIONS)
    return out._replace(omega=jnp.abs(out.omega))


def resonance_frequency_with_status(system, omega_guess, *, max_step=None, rtol=1e-14):
    """The local maximum of T(ω) (Eq. 17) nearest ``omega_guess``, with a status.

    Newton iterations on dT/dω = 0 (written for u = 1/T) with u', u'' from ``jax.grad``;
    trust region, monotone-ascent acceptance and a bracket between the zeros of T around
    the guess (for a chain: the bulk frequencies sqrt((Nk/Ñ + k0)/m_n), and 0 when pinned)
    keep every step safe. Converges quadratically; on the identical-mass chain the result
    agrees with the exact maximum of Eq. (20) to ~1e-15 relative. O(N) per iteration for a
    chain (O(N³) for a network), typically 3–8 iterations. Jitted once per N; vmappable over
    stacked systems and guesses. Differentiable (implicit function theorem) in the system.

    Args:
      system: MeanFieldChain or HarmonicNetwork.
      omega_guess: starting frequency (1/time); T is even, so |omega_guess| is used.
      max_step: initial trust radius (1/time); default 1/8 of the bracket (or 0.1|ω|).
      rtol: relative step tolerance (an absolute floor of 4 eps × frequency scale applies,
        and a stalled step at the rounding floor also counts as converged).

    Returns:
      :class:`ResonanceResult` (omega, height, curvature_hwhm, converged, iterations).

    Raises:
      ValueError: for a stacked batch passed without ``jax.vmap``.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 100, k=1.0, k0=1.0)
    >>> r = mf.resonance_frequency_with_status(chain, 1.0)
    >>> round(float(r.omega), 8), bool(r.converged)
    (1.00506345, True)
    """
    check_single_system(system, "resonance_frequency_with_status")
    max_step = jnp.nan if max_step is None else max_step
    return _resonance_frequency(system, jnp.asarray(omega_guess, jnp.float64),
                                jnp.asarray(max_step, jnp.float64), jnp.asarray(rtol, jnp.float64))


def resonance_frequency(system, omega_guess, **options):
    """Position ω_c and height T(ω_c) of the peak of T(ω) nearest ``omega_guess``.

    See :func:`resonance_frequency_with_status` for the method and options. Called on
    concrete values, raises ``RuntimeError`` if the iteration did not converge; under
    ``jit``/``vmap`` (traced status) use :func:`resonance_frequency_with_status`.

    Returns:
      (omega_c, T_max), float64 arrays.

    Raises:
      RuntimeError: Newton's method did not converge (concrete inputs only).
      ValueError, TypeError: as :func:`resonance_frequency_with_status`.

    >>> import meanfield_jax as mf
    >>> wc, tmax = mf.resonance_frequency(mf.MeanFieldChain([1.0] * 1000, k=1.0, k0=1.0), 1.0)
    >>> round(float(1000 * (wc - 1.0)), 4), round(float(tmax), 6)
    (0.5006, 1.0)
    """
    check_single_system(system, "resonance_frequency")
    r = resonance_frequency_with_status(system, omega_guess, **options)
    if _is_concrete(r.converged):
        ok = np.asarray(r.converged)
        if not np.all(ok):
            raise RuntimeError(
                f"resonance_frequency did not converge for {int(np.sum(~ok))} lane(s) after "
                f"{int(np.max(np.asarray(r.iterations)))} iterations; try another omega_guess "
                "or max_step, or inspect resonance_frequency_with_status(...)")
    return r.omega, r.height


# ----------------------------------------------------------------------------- half widths


def _half_width_side(system, omega_c, u_c, guess, direction, limit):
    """x > 0 with u(ω_c + direction·x) = 2 u_c (T at half maximum); x <= limit. rtsafe."""
    target = 2.0 * u_c

    def g(x):
        return _inverse_transmittance(system, omega_c + direction * x) - target

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


def _half_widths(system, omega_c, u_c, guess, lo, hi):
    """(left, right) half widths at half maximum of the peak at omega_c, and their status."""
    fixed = jax.lax.stop_gradient(system)
    omega_c = jax.lax.stop_gradient(omega_c)
    u_c = jax.lax.stop_gradient(u_c)
    # a free chain's peak at ω = 0 is symmetric: T is even
    right, ok_r = _half_width_side(fixed, omega_c, u_c, guess, 1.0, hi - omega_c)
    left, ok_l = _half_width_side(fixed, omega_c, u_c, guess, -1.0, omega_c - lo)
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


def _gap_poles(c):
    """(poles, valid) of the gaps between distinct bulk frequencies (``_poles._gap_roots``)."""
    out = _gap_roots(c)
    return out[0], out[3]


def _chain_poles(chain, include_gaps: bool):
    """Upper-half-plane poles of G_1N with Re >= 0: (poles, gap_index or −1, valid)."""
    c = _Chain(jax.lax.stop_gradient(chain))
    gap_z, gap_valid = _gap_poles(c)
    coll, _, _ = _collective_roots(c, gap_z, gap_valid)
    scale = jnp.max(jnp.abs(coll))
    zero_mode = (jnp.abs(coll) <= 1e3 * _EPS * scale) & (c.k0 + c.k_prime == 0)
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
    n = network.n
    m = network.masses
    ends = jnp.zeros(n, dtype=bool).at[0].set(True).at[-1].set(True)
    k_w = network.stiffness + jnp.diag(jnp.where(ends, network.k_prime, 0.0))
    gam = jnp.where(ends, network.gamma, 0.0)
    a = jnp.block([[jnp.zeros((n, n)), jnp.eye(n)], [-k_w / m[:, None], -jnp.diag(gam / m)]])
    lam = jnp.linalg.eigvals(a)
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


def _refine_seeds(system, x, radius, lo, hi, ok):

    def one(x, radius, lo, hi):
        r = _maximize(system, x, lo, hi, radius, 1e-14, _MAX_NEWTON_ITERATIONS)
        omega = jnp.abs(r.omega)
        guess = jnp.where(jnp.isfinite(r.curvature_hwhm) & (r.curvature_hwhm > 0),
                          r.curvature_hwhm, radius)
        left, right, ok_w = _half_widths(system, r.omega, 1.0 / r.height, guess, lo, hi)
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
    (:func:`resonance_frequency_with_status`) started at x with trust radius y inside the
    interval between the zeros of T around x; seeds that reach the same maximum are merged.
    For a chain the poles come from ``_poles``: one per gap between sorted bulk frequencies
    (the narrow peaks of disordered chains, widths down to 1e-10 and below) plus the six
    collective poles (the main Lorentzian peaks of Eqs. 24 and 28). For a network they are
    the eigenvalues of the damped state matrix (dense, O(N³), CPU).

    Cost (chain): O(N²) for the poles, O(N) per seed per Newton iteration, i.e. O(N²).

    Args:
      system: MeanFieldChain or HarmonicNetwork.
      threshold: keep peaks with T(ω_c) >= threshold.
      include_gap_poles: seed from the gap poles too (chain only). Default: True unless the
        bulk masses are all equal (concrete input), where no gap holds a pole.
      padded: return fixed-size arrays (one entry per seed, sorted, ``valid`` marking the
        peaks kept); jit/vmap friendly. Default: only the kept peaks (concrete input).

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
            if _is_concrete(system.masses):
                bulk = np.asarray(system.masses)[..., 1:-1]
                include_gap_poles = bool(bulk.size and not np.all(bulk == bulk[..., :1]))
        out = _find_chain(system, jnp.asarray(threshold, jnp.float64), bool(include_gap_poles))
    else:
        out = _find_network(system, jnp.asarray(threshold, jnp.float64))
    if padded or not _is_concrete(out.valid):
        return out
    keep = np.asarray(out.valid)
    return Resonances(*(jnp.asarray(np.asarray(f)[keep]) for f in out))


def _assemble(system, poles, x, radius, lo, hi, ok, threshold):
    omega, height, left, right, conv = _refine_seeds(system, x, radius, lo, hi, ok)
    hwhm = 0.5 * (left + right)
    keep = ok & jnp.isfinite(omega) & jnp.isfinite(hwhm)
    pole_width = jnp.where(jnp.isnan(poles.imag), jnp.inf, poles.imag)
    order, distinct = _deduplicate(omega, hwhm, pole_width, keep)
    valid = distinct & (height[order] >= threshold)
    return Resonances(omega[order], height[order], hwhm[order], left[order], right[order],
                      poles[order], conv[order], valid)


@functools.partial(jax.jit, static_argnums=2)
def _find_chain(chain, threshold, include_gaps):
    poles, gap_index, ok, w = _chain_poles(chain, include_gaps)
    x = jnp.maximum(poles.real, 0.0)
    lo_c, hi_c = jax.vmap(lambda xi: _chain_zero_bracket(chain, xi))(x)
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
    wf = jnp.sqrt((chain.kappa_bar + chain.k0) / chain.masses[1:-1])
    if wf.shape[0]:
        w_min, w_max = jnp.min(wf), jnp.max(wf)
        lo_first, _ = _chain_zero_bracket(chain, 0.5 * w_min)
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
    return _assemble(chain, poles, x, radius, lo, hi, ok, threshold)


@jax.jit
def _find_network(network, threshold):
    poles, ok = _network_poles(network)
    lo = jnp.full(poles.shape, -jnp.inf)
    hi = jnp.full(poles.shape, jnp.inf)
    x, radius = _seed_start(poles, lo, hi)
    return _assemble(network, poles, x, radius, lo, hi, ok, threshold)


# ----------------------------------------------------------------------------- Lorentzian fits


class LorentzianFit(NamedTuple):
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


class LorentzianFits(NamedTuple):
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


def _main_seed(chain):
    """The collective pole nearest the real axis (Re >= 0): the main Lorentzian peak."""
    poles, _, ok, _ = _chain_poles(chain, include_gaps=False)
    i = jnp.argmin(jnp.where(ok, poles.imag, jnp.inf))
    return jnp.maximum(poles[i].real, 0.0), poles[i].imag


@functools.partial(jax.jit, static_argnums=4)
def _fit_lorentzians(chain, omega_guess, window, grid, use_poles):
    fixed = jax.lax.stop_gradient(chain)
    if use_poles:
        x, radius = _main_seed(fixed)
        lo, hi = _chain_zero_bracket(fixed, x)
        span = hi - lo
    else:
        x = jnp.abs(omega_guess)
        lo, hi = _chain_zero_bracket(fixed, x)
        span = hi - lo
        radius = jnp.where(jnp.isfinite(span), 0.125 * span, 0.1 * x)
    radius = jnp.where(jnp.isfinite(span), jnp.minimum(radius, 0.25 * span), radius)
    peak = _maximize(fixed, x, lo, hi, radius, 1e-14, _MAX_NEWTON_ITERATIONS)
    omega_c = jnp.abs(peak.omega)
    left, right, ok_w = _half_widths(fixed, peak.omega, 1.0 / peak.height, peak.curvature_hwhm,
                                     lo, hi)
    hwhm = 0.5 * (left + right)
    n = fixed.n
    free = (fixed.k0 + fixed.k_prime) == 0
    omega = omega_c + hwhm * grid * window
    target = jax.vmap(lambda w: chain_transmittance(chain, w))(omega)

    def model(params):
        na = jnp.exp(params[0]) / hwhm  # N𝒜
        center = omega_c + params[1] * hwhm
        plus = 1.0 / (1.0 + (na * (omega - center)) ** 2)     # Eq. (28), Ω = +ω_c
        minus = 1.0 / (1.0 + (na * (omega + center)) ** 2)    # Eq. (28), Ω = −ω_c
        return jnp.where(free, plus, plus + minus)            # Eq. (24) when free

    def loss(params):
        return jnp.mean((model(params) - target) ** 2)

    params, ok_fit = _lbfgs(loss, jnp.zeros(2), 200, 1e-11)
    a_fit = jnp.exp(params[0]) / (hwhm * n)
    center = omega_c + params[1] * hwhm
    residual = jnp.sqrt(loss(params))
    return LorentzianFits(jnp.stack([-center, center]), a_fit, 1.0 / (n * hwhm), omega_c,
                          peak.height, hwhm, residual, peak.converged & ok_w & ok_fit)


def fit_lorentzians(system, *, omega_guess=None, window=3.0, num=201):
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
      :class:`LorentzianFits` (centers, A, A_exact, omega_c, height, hwhm, residual,
      converged).

    Raises:
      TypeError: if ``system`` is not a MeanFieldChain.
      ValueError: for ``num`` < 5, ``window`` <= 0, or a stacked batch passed without
        ``jax.vmap``.

    >>> import meanfield_jax as mf
    >>> fit = mf.fit_lorentzians(mf.MeanFieldChain([1.0] * 1000, k=1.0, k0=1.0))
    >>> round(float(fit.A), 3), round(float(fit.centers[1]), 6), bool(fit.converged)
    (1.996, 1.000501, True)
    """
    if not isinstance(system, MeanFieldChain):
        raise TypeError(f"fit_lorentzians needs a MeanFieldChain, got {type(system).__name__}")
    check_single_system(system, "fit_lorentzians")
    if num < 5:
        raise ValueError(f"num must be >= 5, got {num}")
    if not window > 0:
        raise ValueError(f"window must be > 0, got {window}")
    guess = jnp.nan if omega_guess is None else omega_guess
    grid = jnp.linspace(-1.0, 1.0, int(num))
    return _fit_lorentzians(system, jnp.asarray(guess, jnp.float64),
                            jnp.asarray(window, jnp.float64), grid, omega_guess is None)


@jax.jit
def _fit_lorentzian(omega, t, n):
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
    return LorentzianFit(center, hwhm, height, 1.0 / (n * hwhm), residual, ok)


def fit_lorentzian(omega, T, *, n=1):
    """Least-squares fit of one Lorentzian height/(1 + ((ω − center)/hwhm)²) to (ω, T) data.

    Parameters (center, log hwhm, log height), scaled by a first guess from the data
    (argmax and the points above half maximum), are fitted with ``optax.lbfgs``. Pass
    ``n`` = N to get Eq. (28)'s 𝒜 = 1/(N·hwhm). Jitted; vmappable over rows of data.

    Args:
      omega: (M,) frequencies covering one peak. T: (M,) transmittance values.
      n: the number of particles N (only used for ``A``).

    Returns:
      :class:`LorentzianFit`.

    >>> import jax.numpy as jnp, meanfield_jax as mf
    >>> w = jnp.linspace(0.9, 1.1, 101)
    >>> fit = mf.fit_lorentzian(w, 0.8 / (1 + ((w - 1.01) / 0.02) ** 2))
    >>> round(float(fit.center), 9), round(float(fit.hwhm), 9), round(float(fit.height), 9)
    (1.01, 0.02, 0.8)
    """
    omega = jnp.asarray(omega, jnp.float64)
    T = jnp.asarray(T, jnp.float64)
    if omega.shape != T.shape or omega.ndim != 1 or omega.shape[0] < 4:
        raise ValueError(f"omega and T must be 1-d arrays of equal length >= 4, got {omega.shape}, {T.shape}")
    return _fit_lorentzian(omega, T, jnp.asarray(n, jnp.float64))
