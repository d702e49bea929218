"""Collective zeros of the chain's D: the modes outside the gaps, and their quadrature rule.

D·Π_distinct α_n is a polynomial of degree 2 N_d + 4 (N_d distinct bulk frequencies); the
gap zeros and their mirrors account for 2 N_d − 2 of its zeros. The remaining six
("collective": the two rigid-bulk modes of Eq. 19 and the relative end mode, or four for
N = 2) are found here by a deflated Aberth–Ehrlich iteration started from the
identical-mass model, refined by Newton steps on Q = −κ̄ D/ω, and turned into a quadrature
rule Σ_p t_p g(ω_p) ≈ Σ_k W_k g(ω_k) with an absolute error bound per zero (the section
comment below). Direct O(N) sums at ~200 points: O(N).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config  # noqa: F401
from . import _contour
from ._model import conserves_momentum
from ._pole_chain import PoleChain, residue_term
from ._solver_base import EPS, NOISE, aberth, blocked_sum, map_points

_MAX_ABERTH_ITERATIONS = 200
_NEWTON_REFINEMENTS = 3


def _poly_mul(p, q):
    return jnp.convolve(p, q)


def _model_polynomial(c: PoleChain):
    """Coefficients (highest first) of D·(κ_b − m̄ω²) for bulk masses replaced by their mean."""
    a1 = jnp.array([-c.m1, 1j * c.gamma, c.kappa_end])
    an = jnp.array([-c.mn, 1j * c.gamma, c.kappa_end])
    prod = _poly_mul(a1, an)  # degree 4
    if c.nb == 0:
        return prod * c.inv_b + jnp.concatenate([jnp.zeros(2), a1 + an])
    m_bar = c.bulk_mean_mass
    bulk = jnp.array([-m_bar + 0j, 0.0, c.kappa_bulk])
    total = (_poly_mul(jnp.concatenate([jnp.zeros(2), a1 + an]), bulk)
             + _poly_mul(prod, bulk) * c.inv_b
             + jnp.concatenate([jnp.zeros(2), prod]) * c.n_bulk)
    return total


def _aberth(logderiv, z0, iterations, scale, tol=4.0 * EPS):
    """Aberth–Ehrlich (``_solver_base.aberth``) given z ↦ P'/P (deflation inside logderiv),
    every pair of zeros interacting. O(P²) per sweep."""
    n = z0.shape[0]
    off = ~jnp.eye(n, dtype=bool)

    def correction(z):
        ld = jax.vmap(logderiv)(z)
        diff = z[:, None] - z[None, :]
        inter = jnp.sum(jnp.where(off, 1.0 / jnp.where(off, diff, 1.0), 0.0), axis=1)
        w = 1.0 / (ld - inter)
        return jnp.where(jnp.isfinite(w), w, 0.0)

    return aberth(correction, z0, iterations, scale, tol)


def _polynomial_roots(coeffs, iterations=300):
    """All roots of a small polynomial by Aberth iteration from a circle (GPU-safe)."""
    coeffs = coeffs.astype(jnp.complex128)
    deg = coeffs.shape[0] - 1
    radius = jnp.max(jnp.abs(coeffs[1:] / coeffs[0]) ** (1.0 / jnp.arange(1, deg + 1))) * 2.0
    angles = 2 * jnp.pi * jnp.arange(deg) / deg + 0.4
    z0 = radius * jnp.exp(1j * angles)
    dcoeffs = jnp.polyder(coeffs)

    def logderiv(z):
        return jnp.polyval(dcoeffs, z) / jnp.polyval(coeffs, z)

    z, _, _ = _aberth(logderiv, z0, iterations, 1e-3 * radius)
    return z


class _QParts(NamedTuple):
    """The factors of Q = e_1 A_N + e_N A_1 + A_1 A_N Σ_b at z, with their z-derivatives."""

    e1: jax.Array
    de1: jax.Array
    en: jax.Array
    den: jax.Array
    a1: jax.Array  # A_1
    da1: jax.Array
    an: jax.Array  # A_N
    dan: jax.Array
    bulk: jax.Array  # Σ_b = Σ_n ε_n/A_n over the distinct bulk frequencies
    dbulk: jax.Array
    d: jax.Array  # ω_u − z
    s: jax.Array  # ω_u + z


def _q_parts(c: PoleChain, z) -> _QParts:
    """The factors of Q at z in direct form (origin 0). O(N)."""
    sigma_end = c.k0 + c.k_prime
    sz = jnp.where(z == 0, 1.0, z)  # z = 0 only reached with σ = 0 (the zero mode)
    pin_end = sigma_end / sz
    dpin_end = -sigma_end / sz**2
    pin_bulk = c.k0 / sz
    dpin_bulk = -c.k0 / sz**2
    big_a1, big_an, d1, dn, _, _ = c.ends(z)
    e1 = pin_end + 1j * c.gamma - c.m1 * z
    en = pin_end + 1j * c.gamma - c.mn * z
    de1 = dpin_end - c.m1
    den = dpin_end - c.mn
    d = c.w - z
    s = c.w + z
    alpha = c.mb * d * s
    dalpha = c.mb * (d - s)
    eb = pin_bulk - c.mb * z
    deb = dpin_bulk - c.mb
    r = c.weight * eb / alpha
    dr = c.weight * (deb * alpha - eb * dalpha) / alpha**2
    return _QParts(e1, de1, en, den, big_a1, d1, big_an, dn, blocked_sum(r), blocked_sum(dr),
                   d, s)


def _q_and_derivative(c: PoleChain, z):
    """(Q(z), Q'(z), ω_u − z, ω_u + z): Q = A_1 A_N Σ_n ε_n/A_n (see _green) in direct
    form (origin 0), with the distances to the distinct bulk frequencies ω_u. O(N).

    Q = −κ̄ D/ω has the zeros of D except the momentum-conserving zero mode at ω = 0, and
    no cancellation near ω = 0, where the collective (Lorentzian) poles of width ~1/N sit.
    """
    p = _q_parts(c, z)
    q = p.e1 * p.an + p.en * p.a1 + p.a1 * p.an * p.bulk
    return q, _q_derivative(p), p.d, p.s


def _q_derivative(p: _QParts):
    return (p.de1 * p.an + p.e1 * p.dan + p.den * p.a1 + p.en * p.da1
            + (p.da1 * p.an + p.a1 * p.dan) * p.bulk + p.a1 * p.an * p.dbulk)


# Mirror-symmetric ends (m_1 = m_N). The ends' factors are then bitwise equal (A_1 = A_N =
# A, e_1 = e_N = e), so Q = A·R with R = 2e + A Σ_b, exactly and in floating point, and
# G_1N = −1/D = −½[1/A − h/S] with D = A·S, S = 2 + A h = −z R/κ̄: the end-antisymmetric
# modes (zeros of A) and the end-symmetric ones (zeros of S) decouple. Weak damping or weak
# coupling puts one of each a relative 1e-8 apart, where Q' = A'R + A R' varies by O(1) of
# itself, so the generic term (a function of Q'(z)) loses digits in proportion to
# |z|/separation under the zero's rounding error. Each zero is a simple zero of its own
# factor, and the residue of T at it is smooth in the position when D' is taken in the
# factored form: D'_f = 2A' at a zero of A (S = 2 there), and at a zero of S (A = −2/h)
# D'_f = A S' = −2A' + 4h'/h², with h = −(2 + zΣ_b)/κ̄ free of cancellation (the Q form).
# The residue term (``residue_term``, in the Q form: Q'_f = −κ̄ D'_f/z) then keeps full
# relative accuracy, the position error comes from the rounding noise of the zero's own
# factor (``_q_noise``), and the two zeros are not a near-degenerate pair (``_contour``).

def _is_antisymmetric(p: _QParts):
    """Is z a zero of A rather than of R (the smaller Newton step: |A R'| < |A' R|)?"""
    big_r = p.e1 + p.en + p.a1 * p.bulk
    d_r = p.de1 + p.den + p.da1 * p.bulk + p.a1 * p.dbulk
    return jnp.abs(p.a1 * d_r) < jnp.abs(p.da1 * big_r)


def _a_sensitivity(p: _QParts, z):
    """|A'||z|/|A|: how many digits A loses under a relative change of z (large near a
    zero of A)."""
    return jnp.abs(p.da1) * jnp.abs(z) / jnp.abs(p.a1)


def _h_cancellation(p: _QParts, z):
    """(2 + |zΣ_b|)/|2 + zΣ_b|: the cancellation of h = −(2 + zΣ_b)/κ̄ (large near a bulk
    frequency, where Σ_b has a near pole)."""
    return (2.0 + jnp.abs(z * p.bulk)) / jnp.abs(2.0 + z * p.bulk)


def _factored_q_derivative(c: PoleChain, p: _QParts, z):
    """Q' of mirror-symmetric ends in the better-conditioned of its forms at a zero z
    (section comment above). At a zero of A: −κ̄/z·2A' (R = 2e = −2κ̄/z there; e itself
    cancels at strong damping). At a zero of S: A R' (= Q', through A sensitive to z near a
    zero of A: relative rate |A'|/|A|) or −κ̄/z·(−2A' + 4h'/h²) (smooth, but its two terms
    may cancel), whichever loses fewer digits. Returns (Q', the relative rounding of the
    chosen form in units of ε: its cancellation ratio, 1 where no form cancels)."""
    sz = jnp.where(z == 0, 1.0, z)
    two_zb = 2.0 + z * p.bulk  # −κ̄ h
    dh_over_h2 = -c.kappa_bar * (p.bulk + z * p.dbulk) / two_zb**2  # h'/h²
    d_factored = -2.0 * p.da1 + 4.0 * dh_over_h2
    cancellation = jnp.maximum(
        (2.0 * jnp.abs(p.da1) + 4.0 * jnp.abs(dh_over_h2)) / jnp.abs(d_factored),
        2.0 * _h_cancellation(p, z))  # h enters squared
    use_factored = _a_sensitivity(p, z) > cancellation
    symmetric = jnp.where(use_factored, -c.kappa_bar / sz * d_factored, _q_derivative(p))
    antisymmetric = _is_antisymmetric(p)
    dq = jnp.where(antisymmetric, -2.0 * c.kappa_bar * p.da1 / sz, symmetric)
    return dq, jnp.where(use_factored & ~antisymmetric, cancellation, 1.0)


def mirror_end_weight(c: PoleChain, z):
    """a² + γ²z² (a = a_1 = a_N), the end factor of T_n's bath weights
    (``_poles.temperature_weights``), at a collective zero z of a chain with mirror-symmetric
    ends, in its smooth form (section comment above): a² + γ²z² = A(A − 2iγz), which is 0 at
    a zero of A and (−2/h)(−2/h − 2iγz) at a zero of S (A = −2/h there), where A itself is
    as sensitive to z as Q' is — where that form loses fewer digits than A(A − 2iγz) itself
    (h cancels near a bulk frequency). Returns (the weight, whether to use it instead of
    the generic form). Valid only where ``mirror_symmetric``. O(N)."""
    p = _q_parts(c, z)
    minus_two_over_h = 2.0 * c.kappa_bar / (2.0 + z * p.bulk)  # −2/h, h = −(2 + zΣ_b)/κ̄
    symmetric = minus_two_over_h * (minus_two_over_h - 2.0j * c.gamma * z)
    antisymmetric = _is_antisymmetric(p)
    use = antisymmetric | (_a_sensitivity(p, z) > 2.0 * _h_cancellation(p, z))
    return jnp.where(antisymmetric, 0.0, symmetric), use


def mirror_symmetric(c: PoleChain):
    """m_1 = m_N exactly: the ends' factors are bitwise equal (section comment above)."""
    return c.m1 == c.mn


def _collective_term(c: PoleChain, z, with_dq=False):
    """Residue contribution t_p at a zero z of Q (equal to term_from_sums, in the Q form);
    ``with_dq``: (t_p, Q'(z), the relative rounding of Q' in units of ε). For
    mirror-symmetric ends Q' is the factored Q'_f (section comment above): the term then
    keeps full relative accuracy under the zero's rounding error (|t'|·δω ~ ε|t|, where Q'
    itself gives ~ε|t|·|z|/separation)."""
    p = _q_parts(c, z)
    mirror = mirror_symmetric(c)
    dq_f, cancellation = _factored_q_derivative(c, p, z)
    dq = jnp.where(mirror, dq_f, _q_derivative(p))
    cancellation = jnp.where(mirror, cancellation, 1.0)
    ends = c.ends(z)
    h = c.inv_b + blocked_sum(c.weight / (c.mb * p.d * p.s))
    term = residue_term(ends, c.gamma, z, h, dq, lambda: -c.gamma * c.kappa_bar,
                        lambda: c.gamma * c.kappa_bar)
    return (term, dq, cancellation) if with_dq else term


def collective_roots(c: PoleChain, gap_zeros, gap_valid):
    """The zeros of D not in a gap, by Aberth iteration deflated by the gap zeros:
    (zeros (6,), last relative correction, iterations).

    Works on P = ω Q Π_distinct α_n, a polynomial with the zeros of D (and ω = 0 when
    k0 = k' = 0): P'/P = Q'/Q + 1/ω + Σ α_n'/α_n, minus the known gap zeros and mirrors.
    """
    z0 = _polynomial_roots(_model_polynomial(c))
    g = gap_zeros
    gv = gap_valid

    def logderiv(z):
        q, dq, d, s = _q_and_derivative(c, z)
        poles = jnp.sum(jnp.where(c.distinct, -1.0 / d + 1.0 / s, 0.0))
        deflate = jnp.sum(jnp.where(gv, 1.0 / (z - g) + 1.0 / (z + jnp.conj(g)), 0.0))
        return dq / q + 1.0 / z + poles - deflate

    scale = jnp.sqrt(c.kappa_end / jnp.minimum(c.m1, c.mn)) + c.gamma / jnp.minimum(c.m1, c.mn)
    z, rel, it = _aberth(logderiv, z0.astype(jnp.complex128), _MAX_ABERTH_ITERATIONS, scale)
    return z, rel, it


# ---------------------------------------------------- collective residues, clusters, errors
#
# The collective zeros are found by Aberth iteration on Q in the direct form (origin 0), so
# each is located to an absolute accuracy set by the rounding noise of Q there:
# |δω_p| ≈ η_Q(ω_p)/|Q'(ω_p)|, η_Q a running bound on that noise (_q_noise). Two regimes need
# more than the residue formula:
#
# * Near-degenerate pairs. Strong damping (or weak coupling) with (nearly) equal end masses
#   puts two zeros of D a relative 1e-8…1e-15 apart (the two ends' overdamped modes
#   ω ≈ iγ/m, split by the coupling). Their residues are large, nearly opposite, and
#   their sum depends on the split, which rounding moves by O(1) of itself: the plain
#   residue sum was wrong by up to 3% while looking converged. A pair closer than
#   _contour.CLUSTER_RATIO times its distance to every other pole of T is therefore replaced
#   by the contour integral (1/4π)∮T dω around it (= the sum of its two residue terms), by
#   the trapezoidal rule on a circle of radius √(d_pair·d_other), which converges like
#   (d_pair/d_other)^(M/2) and never needs the split (module ``_contour``, shared with the
#   network solver). T(ω) = −4γ²κ̄²/(Q(ω)Q(−ω)) is evaluated on the circle, well away
#   from its zeros. A candidate pair (up to _contour.CANDIDATE_RATIO) gets both forms and
#   keeps the one with the smaller bound (_contour.circle_chosen). With exactly equal end
#   masses the close pair is a zero of A and a zero of R (the mirror section above): two
#   simple zeros, never a pair.
# * Ill-conditioned single zeros. The error of t_p from the position error is
#   |t_p'(ω_p)|·|δω_p|; it enters the error estimate, so that a result spoiled by
#   cancellation among the collective terms (extreme γ, k, k0) says so instead of looking
#   converged.
#
# Both are written as one quadrature rule: Σ_p t_p g(ω_p) ≈ Σ_k W_k g(ω_k) for any g
# analytic near the collective zeros (g = 1 for J, g = weights/α_n² for T_n), with nodes
# ω_k = the zero itself (weight t_p) or the circle's points.

def _q_noise(c: PoleChain, z):
    """First-order bound on the rounding noise of Q(z) as _q_and_derivative forms it:
    each factor's own noise (eps × the sum of its summands' sizes) times the sizes of the
    factors it multiplies. O(N)."""
    az = jnp.abs(z)
    sz = jnp.where(z == 0, 1.0, z)
    sigma_end = c.k0 + c.k_prime
    big_a1, big_an, _, _, _, _ = c.ends(z)
    e1 = sigma_end / sz + 1j * c.gamma - c.m1 * z
    en = sigma_end / sz + 1j * c.gamma - c.mn * z
    noise_e1 = jnp.abs(sigma_end / sz) + c.gamma + c.m1 * az
    noise_en = jnp.abs(sigma_end / sz) + c.gamma + c.mn * az
    noise_a1 = c.kappa_end + c.m1 * az**2 + c.gamma * az
    noise_an = c.kappa_end + c.mn * az**2 + c.gamma * az
    alpha = c.mb * (c.w - z) * (c.w + z)
    alpha = jnp.where(alpha == 0, 1.0, alpha)
    eb = c.k0 / sz - c.mb * z
    r = c.weight * eb / alpha
    bulk = jnp.abs(jnp.sum(r))
    noise_bulk = jnp.sum(jnp.abs(r)) + jnp.sum(c.weight * (jnp.abs(c.k0 / sz) + c.mb * az)
                                               / jnp.abs(alpha))
    a1, an = jnp.abs(big_a1), jnp.abs(big_an)
    generic = (noise_e1 * an + jnp.abs(e1) * noise_an + noise_en * a1
               + jnp.abs(en) * noise_a1 + noise_a1 * an * bulk + a1 * noise_an * bulk
               + a1 * an * noise_bulk)
    # mirror-symmetric ends: Q = A·R, R = 2e + A Σ_b, in floating point too (the section
    # comment above _mirror_symmetric), so the noise of A enters as δA·(R + A Σ_b) and that
    # of R (its own summands' noise and its sum's rounding) as A·δR
    big_r = jnp.abs(e1 + en + big_a1 * jnp.sum(r))
    noise_r = (noise_e1 + noise_en + jnp.abs(e1) + jnp.abs(en) + noise_a1 * bulk
               + a1 * noise_bulk + a1 * bulk)
    mirror = a1 * (noise_r + big_r) + noise_a1 * (big_r + a1 * bulk)
    return NOISE * jnp.where(mirror_symmetric(c), mirror, generic)


def _transmittance_q_form(c: PoleChain, z):
    """T(z) = 4γ²z² G_1N(z) G_1N(−z) = −4γ²κ̄²/(Q(z)Q(−z)) at complex z, and (|Q(z)|,
    |Q(−z)|) for its noise bound. O(N)."""
    pm = jnp.stack([z, -z])  # one vmapped evaluation: a smaller program than two
    q = jax.vmap(lambda x: _q_and_derivative(c, x)[0])(pm)
    value = -4.0 * c.gamma**2 * c.kappa_bar**2 / (q[0] * q[1])
    return value, jnp.abs(q)


def _collective_rule(c: PoleChain, c_fixed: PoleChain, coll, mask, other_poles, last_step):
    """Quadrature rule for the collective zeros ``coll`` (P,) (module section above):
    (nodes (P, M), weights (P, M), an absolute error bound of Σ weights per zero (P,), and
    the (P,) mask of zeros that belong to a near-degenerate pair). O(P·M·N).

    ``other_poles``: every other pole of T (gap zeros, their mirrors and all conjugates);
    ``last_step``: the size of each zero's last Newton step (its position error where that
    exceeds the rounding bound, e.g. when the iteration stalled). Error bounds are formed
    on the gradient-stopped ``c_fixed``; the weights carry the derivatives.
    """
    p = coll.shape[0]
    zf = jax.lax.stop_gradient(coll)
    live = mask
    # mirror-symmetric ends: a zero of A and a zero of R are no pair (section comment above)
    antisymmetric = mirror_symmetric(c_fixed) & jax.vmap(
        lambda z: _is_antisymmetric(_q_parts(c_fixed, z)))(jnp.where(live, zf, 1.0))
    pairs = _contour.near_pairs(zf, live, other_poles, family=antisymmetric)
    follower = pairs.follower

    # single zeros: residue term and the first-order effect of the position error
    def single(z, step, noise):
        # one evaluation of the term gives it, its z-derivative and Q' (smaller program)
        (term, dq, cancellation), (dterm, _, _) = jax.jvp(
            lambda x: _collective_term(c, x, with_dq=True), (z,), (jnp.ones_like(z),))
        dterm, dq, cancellation = jax.lax.stop_gradient((dterm, dq, cancellation))
        delta = jnp.maximum(noise / jnp.abs(dq), step)
        return term, (jnp.abs(dterm) * delta
                      + NOISE * cancellation * jnp.abs(jax.lax.stop_gradient(term)))

    # pairs: trapezoidal rule on a circle around the pair (_contour); rows that are not a
    # pair's lead get a pole-free circle too, so that no NaN reaches the gradients of the
    # weights they do not use
    m = _contour.CIRCLE_POINTS
    nodes_c, unit = _contour.circle_nodes(pairs, m)
    t_vals, q_abs = map_points(lambda z: _transmittance_q_form(c, z), jnp.ravel(nodes_c),
                                c.nb)
    t_vals, q_abs = jax.tree_util.tree_map(lambda x: x.reshape(nodes_c.shape + x.shape[1:]),
                                           (t_vals, q_abs))
    # Q's rounding noise at the zeros and at ± the circle nodes, in one vmapped evaluation
    # (every point is gradient-stopped: the bounds carry no derivative)
    safe = jnp.where(live, zf, 1.0)
    nodes_f = jax.lax.stop_gradient(jnp.ravel(nodes_c))
    noise = map_points(lambda z: _q_noise(c_fixed, z),
                        jnp.concatenate([safe, nodes_f, -nodes_f]), c.nb)
    noise_zero, noise_nodes = noise[:p], noise[p:].reshape((2,) + nodes_c.shape)
    t_rel = jax.lax.stop_gradient(noise_nodes[0] / q_abs[..., 0] + noise_nodes[1] / q_abs[..., 1])
    terms, term_err = jax.vmap(single)(jnp.where(live, coll, 1.0),
                                       jax.lax.stop_gradient(last_step), noise_zero)
    w_c, circle_err = _contour.circle_rule(t_vals, t_rel, pairs.radius, unit)

    first = jnp.arange(m) == 0
    term_err = jnp.where(live, term_err, 0.0)
    chosen = _contour.circle_chosen(pairs.lead, pairs.strict, circle_err,
                                    term_err + term_err[pairs.partner])
    dropped = follower & chosen[pairs.partner]
    nodes = jnp.where(chosen[:, None], nodes_c, coll[:, None])
    weights = jnp.where(chosen[:, None], w_c,
                        jnp.where(first[None, :] & live[:, None] & ~dropped[:, None],
                                  terms[:, None], 0.0))
    error = jnp.where(chosen, circle_err, jnp.where(live & ~dropped, term_err, 0.0))
    return nodes, weights, error, chosen | dropped


class ChainPoles(NamedTuple):
    """Poles of G_1N in the upper half plane with their residue terms (see module doc).

    Gap poles are origin + τ (origin: a bulk frequency, τ: full relative precision); only
    the gap poles with Re ω > 0 are listed, each stands for itself and its mirror −ω̄.
    The collective poles enter J and T_n through a quadrature rule (collective_nodes,
    collective_weights): Σ_p t_p g(ω_p) = Σ_k W_k g(ω_k) for analytic g (see
    _collective_rule), with collective_error an absolute error bound of each zero's part.
    """

    gap_origin: jax.Array
    gap_tau: jax.Array
    gap_terms: jax.Array
    gap_valid: jax.Array
    gap_ok: jax.Array
    gap_iterations: jax.Array
    collective: jax.Array
    collective_mask: jax.Array  # False for the momentum zero mode (not a pole of T)
    collective_nodes: jax.Array  # (6, M)
    collective_weights: jax.Array  # (6, M)
    collective_error: jax.Array  # (6,)
    collective_clustered: jax.Array  # (6,) member of a near-degenerate pair
    collective_rel_step: jax.Array
    collective_iterations: jax.Array


def poles_from_gaps(c: PoleChain, c_fixed: PoleChain, gap_z, gap_terms, gap_ok, gap_valid,
                    gap_iters, origins, taus) -> ChainPoles:
    """ChainPoles from the gap zeros (as gap_roots returns them, with offsets): adds the
    collective zeros (deflated Aberth iteration, Newton refinement) and their quadrature
    rule. Direct O(N) sums at ~200 points: O(N)."""
    coll, coll_rel, coll_iters = collective_roots(
        c_fixed, jax.lax.stop_gradient(gap_z), gap_valid)
    coll = jax.lax.stop_gradient(coll)
    # the zero mode ω = 0 (k0 = k' = 0) is a zero of P but not a pole of T: no term. Exactly
    # one zero is it (the one nearest 0); other small zeros (strong damping: ~ik/γ) are poles.
    nearest_zero = jnp.arange(coll.shape[0]) == jnp.argmin(jnp.abs(coll))
    is_zero_mode = nearest_zero & conserves_momentum(c)

    def newton(cc, z):
        q, dq, _, _ = _q_and_derivative(cc, z)
        step = jnp.where(dq == 0, 0.0, q / jnp.where(dq == 0, 1.0, dq))
        return jnp.where(jnp.isfinite(step), step, 0.0)

    safe = jnp.where(is_zero_mode, 1.0, coll)
    # Newton steps on Q from Aberth's zeros (its stopping rule is absolute, on the largest
    # zero's scale: small zeros gain digits here). Each step starts from gradient-stopped
    # zeros, so the last one is the differentiable step: at a converged zero it changes
    # nothing but carries the implicit-function derivative. One loop (not unrolled, the
    # last step included): one copy of Q in the program.
    def refine(_, state):
        z = jax.lax.stop_gradient(state[0])
        step = jax.vmap(lambda x: newton(c, x))(z)
        return z - step, step

    safe, last_step = jax.lax.fori_loop(0, _NEWTON_REFINEMENTS + 1, refine,
                                        (safe, jnp.zeros_like(safe)))
    coll = jnp.where(is_zero_mode, 0.0, safe)
    gv = jax.lax.stop_gradient(jnp.where(gap_valid, gap_z, jnp.inf))
    others = jnp.concatenate([gv, -jnp.conj(gv), jnp.conj(gv), -gv])
    nodes, weights, error, clustered = _collective_rule(c, c_fixed, coll, ~is_zero_mode, others,
                                                        jnp.abs(last_step))
    return ChainPoles(origins, taus, gap_terms, gap_valid, gap_ok, gap_iters, coll,
                      ~is_zero_mode, nodes, weights, error, clustered, coll_rel, coll_iters)
