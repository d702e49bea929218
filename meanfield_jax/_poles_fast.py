"""The mean-field chain's heat flux by residues in O(N): every bulk sum from ``_cauchy``.

Same poles, same residue terms and same collective-zero treatment as ``_poles`` (read its
module docstring first); only the O(N) sums over the bulk poles at each gap zero change.

Bulk sum as Cauchy sums. With ω_n the distinct bulk frequencies, m_n = κ_b/ω_n² and
c_n = weight_n ω_n/(2κ_b) (partial fractions of 1/(m_n(ω_n − ω)(ω_n + ω))),

    h(ω) − 1/b = Σ_n c_n/(ω_n − ω)  +  Σ_n c_n/(ω_n + ω)  =  S(ω) + M(ω).

* S is a 1-D Cauchy sum over the sources ω_n (weights −c_n): ``_cauchy.build_tree`` once per
  chain, then one ``evaluate_tree`` per round at every gap's current iterate, with the near
  field summed on the exact pole distances (ω_n − ω_origin) − τ and an a-priori far-field
  bound per target (S and S', with the part left of the gap for the secular model).
* M (the mirror poles −ω_n, all at distance ≥ 2ω_min from the band) is analytic over the
  band: Chebyshev interpolants of M and M' of degree _MIRROR_DEGREE − 1 on _MIRROR_PANELS
  geometric panels of [ω_min, ω_max], built from direct sums at the nodes (O(N·K·p)).
  Hermite's formula for each pole −ω_n gives the bound |M − I M| ≤ 2(ρ_x/ρ_s)^p Σ c_n/|ω + ω_n|,
  ρ_s the Bernstein parameter of the nearest mirror pole −ω_min in the panel's coordinate
  (≥ 12 for K = 16 even at ω_max/ω_min = 100), and with the double-pole factor
  (1 + p(r_k + |Im ω|/a_k)) for M' (r_k = b_k/a_k, the panel's ratio); Σ c_n/|ω + ω_n|^j is
  bounded by its value at the panel's left end a_k.

Gap zeros. The iteration of ``_gap_zeros.gap_step`` runs over all gaps in lock-step: one
round evaluates S, S' (all, left part) at every gap's iterate (one O(N) tree pass); converged
gaps keep their τ (masked); the loop ends when every gap has converged (typically 5–7
rounds) or after _MAX_ROUNDS. A last pass at the converged τ gives F, F' for one Newton step
δ = −F/F' and h, h' for the residue term, carried to the zero to first order
(h + h'δ; the h''δ term is not formed: it enters the error estimate). No exact O(N) pass.

Error estimate (added to ``_poles.flux_from_poles``'s): for each gap zero the tree's and the
mirror's bounds δF ≥ |F error| and δF' ≥ |F' error| (far-field truncation + rounding
allowance) move the zero by at most δω = δF/|F'| and the term by

    |∂t/∂h| δF + |∂t/∂h'| (δF' + |h''| |δ|) + |dt/dω| δω,

|dt/dω| ≤ |∂t/∂ω| + |∂t/∂h||h'| + |∂t/∂h'||h''|, with |h''| ≤ 2 Σ c_n/|ω_n − ω|³ bounded by
2 (Σ c_n/|ω_n − ω|²)/min_n |ω_n − ω| (the tree's magnitude; the nearest pole is a gap end)
plus the mirror's 2 M2_k/(a_k + ω_min). The partial derivatives come from forward-mode
derivatives of ``_pole_chain.term_from_sums`` (O(1) per zero). A gap counts as converged when
its last step, its Newton step and δω are below 1e-7 |τ| and it lies inside its gap; the
flux is converged when its total error estimate is below CONVERGED_RTOL |J|, as on the
O(N²) path — a far-field bound too large for the requested accuracy makes it False.

Cost: O(N(p + 3B)) per round (``_cauchy``), O(N·K·p) for the mirror table, O(N) for the
collective zeros (direct sums at ~200 points) — O(N) in all, memory O(N). jit and vmap as
the O(N²) path. Derivatives are the O(N²) path's (a custom JVP rule: the zeros take no
implicit-function step here), so a differentiated call costs O(N²), as before.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config  # noqa: F401
from ._cauchy import (
    DEFAULT_DEGREE,
    DEFAULT_LEAF,
    build_tree,
    double_pole_sums,
    evaluate_tree,
)
from ._collective_zeros import poles_from_gaps
from ._gap_zeros import gap_step
from ._green import bulk_frequencies
from ._pole_chain import PoleChain, end_terms, term_from_sums
from ._poles import (
    bulk_temperature_sums,
    chain_pole_sum,
    collective_factors,
    flux_by_residues,
    flux_from_poles,
    pole_sum_from_poles,
    temperature_weights,
    temperatures_by_residues,
    temperatures_from_bulk,
)
from ._solver_base import (
    EPS,
    bernstein_log_rho,
    blocked_sum,
    chebyshev_nodes,
    chebyshev_to_coefficients,
    clenshaw,
    lebesgue_bound,
    sum_levels,
)

_MAX_ROUNDS = 40
_MIRROR_PANELS = 16
_MIRROR_DEGREE = 24
_STEP_RTOL = 1e-7  # as _gap_zeros._solve_gap: quadratic convergence below this step size


class _Mirror(NamedTuple):
    edges: jax.Array  # (K + 1,) panel ends a_0 = ω_min < … < a_K = ω_max (geometric)
    coef: jax.Array  # (K, 2, p) Chebyshev coefficients of M and M' per panel
    mag: jax.Array  # (K,) Σ c_n/(a_k + ω_n)
    mag2: jax.Array  # (K,) Σ c_n/(a_k + ω_n)²
    log_rho_s: jax.Array  # (K,) log ρ of the nearest mirror pole −ω_min in panel coordinates
    sum_levels: jax.Array  # () rounding factor of the node values' blocked sums over N


def _mirror_table(w, c, lo, hi) -> _Mirror:
    """Interpolants of M(ω) = Σ c_n/(ω + ω_n) and M' on geometric panels of [lo, hi].
    O(N·K·p)."""
    k, p = _MIRROR_PANELS, _MIRROR_DEGREE
    ratio = hi / lo
    edges = lo * ratio ** (jnp.arange(k + 1) / k)
    edges = edges.at[0].set(lo).at[-1].set(hi)
    a, b = edges[:-1], edges[1:]
    mid, half = 0.5 * (a + b), 0.5 * (b - a)
    x = mid[:, None] + half[:, None] * jnp.asarray(chebyshev_nodes(p))  # (K, p)
    points = jnp.concatenate([x, a[:, None]], axis=1)  # + the left ends (bounds)

    def sums(xs):  # blocked: rounding ≤ sum_levels(N) ε Σ|·| (added in _mirror_eval)
        inv = 1.0 / (xs[:, None] + w[None, :])
        ci = c * inv
        return blocked_sum(ci), -blocked_sum(ci * inv)

    val, der = jax.lax.map(sums, points)  # (K, p + 1)
    to_coef = jnp.asarray(chebyshev_to_coefficients(p))
    coef = jnp.stack([val[:, :p] @ to_coef.T, der[:, :p] @ to_coef.T], axis=1)
    t_s = (lo + mid) / half  # |t| of the mirror pole −lo (real, beyond −1)
    log_rho_s = bernstein_log_rho(t_s)
    return _Mirror(edges, coef, val[:, p], -der[:, p], log_rho_s,
                   jnp.asarray(float(sum_levels(w.shape[0]))))


def _mirror_eval(mirror: _Mirror, omega, lo):
    """(M, M', bound on |M error|, bound on |M' error|, |M''| bound) at complex ω. O(p)."""
    k, p = _MIRROR_PANELS, _MIRROR_DEGREE
    edges = mirror.edges
    panel = jnp.clip(jnp.searchsorted(edges, omega.real, side="right") - 1, 0, k - 1)
    a, b = edges[panel], edges[panel + 1]
    mid, half = 0.5 * (a + b), 0.5 * (b - a)
    t = (omega - mid) / half

    value = clenshaw(mirror.coef[panel, 0], t)
    deriv = clenshaw(mirror.coef[panel, 1], t)
    a_x = 0.5 * (jnp.abs(t - 1.0) + jnp.abs(t + 1.0))
    log_rho_x = jnp.log(a_x + jnp.sqrt(jnp.maximum((a_x - 1.0) * (a_x + 1.0), 0.0)))
    factor = 2.0 * jnp.exp(p * (log_rho_x - mirror.log_rho_s[panel]))
    # |ω + ω_n| ≥ Re ω + ω_n ≥ a_k + ω_n inside the panel (else: no bound)
    inside = omega.real >= a
    mag, mag2 = mirror.mag[panel], mirror.mag2[panel]
    growth = jnp.exp((p - 1) * log_rho_x)  # |T_q(t)| ≤ ρ_x^(p−1): rounding of the coefficients
    # and of the node values (blocked sums of N positive terms, interpolated: × Lebesgue)
    rounding = (16.0 + mirror.sum_levels) * EPS * lebesgue_bound(p) * growth
    err = factor * mag + rounding * mag
    derr = factor * (1.0 + p * (b / a + jnp.abs(omega.imag) / a)) * mag2 + rounding * mag2
    err = jnp.where(inside, err, jnp.inf)
    derr = jnp.where(inside, derr, jnp.inf)
    d2_bound = 2.0 * mag2 / (a + lo)
    return value, deriv, err, derr, d2_bound


class _Sums(NamedTuple):
    f: jax.Array  # F = h + 1/A_1 + 1/A_N
    dfl: jax.Array  # F' split (left poles + half the smooth part)
    dfr: jax.Array
    h: jax.Array
    dh: jax.Array
    df: jax.Array  # F'
    err: jax.Array  # bound on |F error| (= |h error|)
    derr: jax.Array  # bound on |F' error|
    d2h: jax.Array  # bound on |h''|


def _sums(c: PoleChain, tree, mirror, lo, origin_index, tau, split, dmin) -> _Sums:
    r = evaluate_tree(tree, origin_index, tau, split, p=DEFAULT_DEGREE, leaf=DEFAULT_LEAF)
    omega = c.w[origin_index] + tau
    m, dm, merr, mderr, m2 = _mirror_eval(mirror, omega, lo)
    bulk = r.value + m
    dh = r.derivative + dm
    rest, drest = end_terms(c, omega)  # 1/b + 1/A_1 + 1/A_N
    dleft = r.derivative_left + 0.5 * (dm + drest)
    df = dh + drest
    d2h = 2.0 * r.magnitude_derivative / dmin + m2
    return _Sums(bulk + rest, dleft, df - dleft, c.inv_b + bulk, dh, df, r.error + merr,
                 r.derivative_error + mderr, d2h)


class FastGapRoots(NamedTuple):
    """Result of :func:`fast_gap_roots`, one entry per gap (fields as
    ``_gap_zeros.GapRoots``, then the tree's bounds)."""

    roots: jax.Array  # origin + τ (0 for invalid gaps)
    terms: jax.Array  # residue terms
    ok: jax.Array
    valid: jax.Array
    rounds: jax.Array
    origins: jax.Array  # the bulk frequency each zero is measured from
    taus: jax.Array  # full-precision offsets
    term_error: jax.Array  # bound on each term's error from the far-field and mirror bounds
    root_error: jax.Array  # bound on each zero's position error δω
    sources: jax.Array  # (nb,) the tree's sources: the distinct frequencies, then padding


def fast_gap_roots(c: PoleChain) -> FastGapRoots:
    """Gap zeros and residue terms with all bulk sums from the tree (module docstring).
    O(N) per round."""
    nb = c.nb
    n_gaps = nb - 1
    n_u = c.n_unique
    gaps = jnp.arange(n_gaps)
    valid = gaps < n_u - 1
    w_last = c.w[n_u - 1]
    lo = c.w[0]
    span = w_last - lo
    spacing = jnp.where(span > 0, span / jnp.maximum(n_u - 1, 1), 1e-3 * lo)
    # tree sources: the distinct frequencies, the padding continued at the mean spacing
    # (weight 0; keeps the tree's boxes evenly filled)
    index = jnp.arange(nb)
    d = jnp.where(index < n_u, c.w, w_last + spacing * (index - n_u + 1))
    cw = jnp.where(c.distinct, c.weight * c.w / (2.0 * c.kappa_bulk), 0.0)
    tree = build_tree(d, -cw, p=DEFAULT_DEGREE, leaf=DEFAULT_LEAF)
    hi = jnp.where(span > 0, w_last, lo * (1.0 + 1e-3))
    mirror = _mirror_table(jnp.where(c.distinct, c.w, 1.0), cw, lo, hi)

    wl, wr = d[gaps], d[gaps + 1]
    half = 0.5 * (wr - wl)
    split = gaps + 1
    # which half holds the zero: Re F rises from −∞ to +∞ across the gap
    mid = _sums(c, tree, mirror, lo, gaps, half + 0j, split, jnp.abs(half))
    origin_left = mid.f.real > 0
    o_index = jnp.where(origin_left, gaps, gaps + 1)
    origin = d[o_index]
    dl, dr = wl - origin, wr - origin  # exact (Sterbenz)
    lo_t, hi_t = jnp.minimum(dl, dr), jnp.maximum(dl, dr)
    tau0 = jnp.where(origin_left, half, -half) + 0j

    def dmin_of(tau):
        return jnp.maximum(jnp.minimum(jnp.abs(tau - dl), jnp.abs(tau - dr)), 1e-300)

    def cond(state):
        it, _, active, _ = state
        return (it < _MAX_ROUNDS) & jnp.any(active)

    def body(state):
        it, tau, active, rounds = state
        s = _sums(c, tree, mirror, lo, o_index, tau, split, dmin_of(tau))
        new = gap_step((s.f, s.dfl, s.dfr), dl, dr, lo_t, hi_t, tau)
        step = jnp.abs(new - tau)
        tau = jnp.where(active, new, tau)
        rounds = rounds + active.astype(jnp.int32)
        active = active & (step > _STEP_RTOL * jnp.abs(tau))
        return it + 1, tau, active, rounds

    _, tau, active, rounds = jax.lax.while_loop(
        cond, body, (0, tau0, valid, jnp.zeros(n_gaps, jnp.int32)))

    # last pass: Newton step and the residue term (first order in the step)
    dmin = dmin_of(tau)
    s = _sums(c, tree, mirror, lo, o_index, tau, split, dmin)
    delta = -s.f / s.df
    delta = jnp.where(valid & jnp.isfinite(delta), delta, 0.0)
    omega = origin + tau + delta
    h = s.h + s.dh * delta

    def term_and_partials(om, hh, dhh):
        def t(x, y, z):
            return term_from_sums(c, x, y, z)

        value = t(om, hh, dhh)
        one = jnp.ones_like(om)
        _, t_w = jax.jvp(lambda x: t(x, hh, dhh), (om,), (one,))
        _, t_h = jax.jvp(lambda y: t(om, y, dhh), (hh,), (one,))
        _, t_dh = jax.jvp(lambda z: t(om, hh, z), (dhh,), (one,))
        return value, t_w, t_h, t_dh

    term, t_w, t_h, t_dh = jax.vmap(term_and_partials)(omega, h, s.dh)
    delta_omega = s.err / jnp.abs(s.df)
    dt_domega = jnp.abs(t_w) + jnp.abs(t_h) * jnp.abs(s.dh) + jnp.abs(t_dh) * s.d2h
    term_error = (jnp.abs(t_h) * s.err + jnp.abs(t_dh) * (s.derr + s.d2h * jnp.abs(delta))
                  + dt_domega * delta_omega)
    tau_new = tau + delta
    ok = (~active & (jnp.abs(delta) <= _STEP_RTOL * jnp.abs(tau_new))
          & (delta_omega <= _STEP_RTOL * jnp.abs(tau_new))
          & (tau_new.real > lo_t) & (tau_new.real < hi_t))
    term = jnp.where(valid, term, 0.0)
    term_error = jnp.where(valid, term_error, 0.0)
    roots = jnp.where(valid, omega, 0.0)
    return FastGapRoots(roots, term, ok | ~valid, valid, rounds, origin, tau_new, term_error,
                        jnp.where(valid, delta_omega, 0.0), d)


def flux_by_residues_fast(chain, n=None):
    """J (ΔT included), error estimate and status for a MeanFieldChain in O(N) time and
    memory (module docstring): the same ResidueResult as ``_poles.flux_by_residues``, with the
    far-field bounds' effect on every gap term added to ``error_estimate``.

    ``n``: the true N of a chain padded to a size bucket (``_buckets``); default chain.n.

    Derivatives (``jax.grad``, ``jax.jvp``, forward or reverse) are those of the O(N²) path
    (``_poles.flux_by_residues``, whose zeros and terms are carried to first order): a
    differentiated call costs O(N²) and returns that path's values (equal to ~1e-16
    relative, tests/test_poles_fast.py); an undifferentiated call stays O(N).
    """
    if n is None:
        return _fast_plain(chain)
    return _fast_padded(chain, n)


def _with_quadratic_derivatives(fast, quadratic):
    """(plain, padded): ``fast(chain, n)`` as two custom-JVP functions, of (chain) and of
    (chain, n), whose values and tangents under differentiation are those of
    ``quadratic(chain, n=None)``, the O(N²) path (same result type): a differentiated call
    costs O(N²), an undifferentiated one stays O(N)."""
    def rule(primals, tangents):
        return jax.jvp(quadratic, primals, tangents)

    plain = jax.custom_jvp(lambda chain: fast(chain, None))
    padded = jax.custom_jvp(lambda chain, n: fast(chain, n))
    plain.defjvp(rule)
    padded.defjvp(rule)
    return plain, padded


def _flux_fast(chain, n):
    c = PoleChain.from_chain(chain, n)
    if c.nb < 2:  # no gaps: nothing for the tree to do
        return flux_by_residues(chain, n)
    return _fast_poles_and_flux(chain, c)[2]


def _fast_poles_and_flux(chain, c: PoleChain):
    """(FastGapRoots, ChainPoles, flux ResidueResult) on the O(N) path."""
    g = fast_gap_roots(c)
    poles = poles_from_gaps(c, c, g.roots, g.terms, g.ok, g.valid, g.rounds, g.origins, g.taus)
    extra = 2.0 * jnp.sum(g.term_error)  # each gap term stands for itself and its mirror
    return g, poles, flux_from_poles(chain, poles, c=c, extra_error=extra, terms_bounded=True)


_fast_plain, _fast_padded = _with_quadratic_derivatives(_flux_fast, flux_by_residues)


def chain_pole_sum_fast(chain, n=None):
    """The chain's :class:`~meanfield_jax._quantum.PoleSum` from the O(N) path: the same
    poles, terms and bounds as :func:`flux_by_residues_fast` (the far-field bounds as the
    extra error). O(N); not differentiable (the callers differentiate the O(N²) path)."""
    c = PoleChain.from_chain(chain, n)
    if c.nb < 2:  # no gaps: nothing for the tree to do
        return chain_pole_sum(chain, n)
    g = fast_gap_roots(c)
    poles = poles_from_gaps(c, c, g.roots, g.terms, g.ok, g.valid, g.rounds, g.origins, g.taus)
    return pole_sum_from_poles(c, poles, extra_error=2.0 * jnp.sum(g.term_error),
                               terms_bounded=True)


# ---------------------------------------------------------------------- local temperatures

# Chebyshev nodes per box of the temperatures' transposed tree: the double-pole kernel in
# the squared frequency is harder to separate than S (graded points: p = 44 left errors up to
# 3e-14 of the magnitude, bound 5e-10; p = 60: 1.5e-15, bound 6e-14; tests/test_poles_fast.py)
DOUBLE_POLE_DEGREE = 60


def temperatures_by_residues_fast(chain, n=None):
    """T_n (Eq. 31) for a MeanFieldChain in O(N) time and memory: the poles of the O(N) flux
    (``fast_gap_roots``) and, for every distinct bulk frequency ω_k at once, the gap poles'
    sum U_k = Σ_p F_p/(ω_k² − ω_p²)² (F_p = 2 c_p [T_L |A_N|² + T_R |A_1|²]_p, the
    ``_poles.temperatures_by_residues`` factor) from ``_cauchy.double_pole_sums``: the
    transposed tree in the variable ω², near field on the exact offsets
    ((ω_k − origin_p) − τ_p)(ω_k + origin_p + τ_p). T_n = Re U_k/m_n + the collective
    zeros' terms (direct, O(N·P), P ≈ 200 nodes); the end particles from the flux.

    Error estimate per particle: the tree's far-field bound and rounding allowance, and the
    poles' own errors carried to first order, Σ_p [δF_p + 2|F_p| |δ(ω_p²)|/d_k]/|α_kp|²
    (δF_p from each term's and zero's bounds, δ(ω_p²) = 2|ω_p| δω_p; the second part from
    the tree's bound on Σ a_p/|α_kp|³, exact in the near field), plus the O(N²) path's
    collective-zero bound. Same ResidueResult as the O(N²) path, which is the reference
    (tests/test_poles_fast.py) and gives the derivatives (a custom JVP, as the flux's).

    ``n``: the true N of a chain padded to a size bucket (``_buckets``); default chain.n.
    """
    if n is None:
        return _temperatures_plain(chain)
    return _temperatures_padded(chain, n)


def _temperatures_fast(chain, n):
    c = PoleChain.from_chain(chain, n)
    if c.nb < 2:
        return temperatures_by_residues(chain, n=n)
    g, poles, flux = _fast_poles_and_flux(chain, c)
    t_l, t_r, gamma = chain.t_left, chain.t_right, chain.gamma
    d = g.sources
    nb = c.nb
    gap = jnp.arange(nb - 1)
    origin = g.origins
    tau = jnp.where(g.valid, g.taus, 0.5 * (d[gap + 1] - d[gap]))  # inert for invalid gaps
    omega = origin + tau
    wts, dwts = jax.jvp(lambda x: temperature_weights(c, t_l, t_r, x), (omega,),
                        (jnp.ones_like(omega),))
    factor = jnp.where(g.valid, 2.0 * g.terms / gamma * wts, 0.0)
    factor_error = jnp.where(g.valid, 2.0 / gamma * (g.term_error * jnp.abs(wts) + jnp.abs(
        g.terms) * jnp.abs(dwts) * g.root_error), 0.0)
    shift = 2.0 * jnp.abs(omega) * g.root_error  # δ(ω_p²)
    # one source per gap; the last (padding) source has weight 0
    zero = jnp.zeros(1)
    origin_s = jnp.concatenate([origin, d[-1:]])
    tau_s = jnp.concatenate([tau, zero + 0j])
    weights = jnp.concatenate([factor, zero + 0j])
    shift_s = jnp.concatenate([shift, zero])
    positive = jnp.stack([jnp.concatenate([factor_error, zero]),
                          jnp.abs(weights) * shift_s], axis=1)

    def distance(k, j):
        o = origin_s[j]
        return ((d[k] - o) - tau_s[j]) * (d[k] + o + tau_s[j])

    sums = double_pole_sums(d * d, (origin_s + tau_s) ** 2, weights, positive, distance,
                            p=DOUBLE_POLE_DEGREE)
    m_k = c.kappa_bulk / d**2
    gap_t = sums.value.real / m_k
    gap_err = (sums.error + sums.positive[:, 0] + 2.0 * sums.positive_cubic[:, 1]) / m_k

    # every bulk particle takes its distinct frequency's values, plus the collective zeros
    bulk_w = bulk_frequencies(c.kappa_bulk, chain.masses[1:-1])
    index = jnp.clip(jnp.searchsorted(c.w, bulk_w), 0, nb - 1)
    coll_nodes, coll_factor = collective_factors(chain, c, poles)
    coll_t, coll_size, coll_err = bulk_temperature_sums(
        chain, c, poles, jnp.zeros(coll_nodes.shape[0]), coll_nodes, coll_factor)
    real = c.bulk_real
    bulk_t = jnp.where(real, gap_t[index] + coll_t, 0.0)
    bulk_err = (jnp.where(real, gap_err[index], 0.0)
                + 16.0 * EPS * (coll_nodes.shape[0] + 4) * coll_size + coll_err)
    return temperatures_from_bulk(chain, c, flux, bulk_t, bulk_err)


_temperatures_plain, _temperatures_padded = _with_quadratic_derivatives(
    _temperatures_fast, lambda chain, n=None: temperatures_by_residues(chain, n=n))
