"""Residue sums of the network solver: J and T_n over the secular poles, with error bounds.

The poles, the modal data and the home-scaled secular function are ``_secular``'s (its
module docstring states the method: the residue term t_p, the error estimate, the
near-degenerate pairs taken by a circle rule, the weak-coupling modes of T_n). This module
sums them: :func:`flux_by_secular` and :func:`temperatures_by_secular`, each returning a
``_solver_base.ResidueResult``. O(N³) for the eigendecomposition and T_n's GEMMs, O(N²)
for J's terms.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config, _contour
from ._secular import (
    CHUNK_ELEMENTS,
    NetworkModes,
    NetworkPoles,
    home_sums,
    k_tilde,
    network_modes,
    network_poles,
    scaled_secular,
    secular_noise,
)
from ._quantum import PoleSum
from ._solver_base import CONVERGED_RTOL, EPS, ResidueResult, batch_size, safe_div

__all__ = ["DECOUPLED", "NetworkFluxDiagnostics", "SiteWeights", "flux_by_secular",
           "network_pole_sum", "temperature_site_weights", "temperatures_by_secular"]

_MAX_PAIRS = 4  # near-degenerate pairs per network that J takes by the circle rule


class NetworkFluxDiagnostics(NamedTuple):
    """The network solver's checks and by-products (``ResidueResult.diagnostics`` of J)."""

    sum_rule_error: jax.Array  # |Σ_p ω_p − iγ(1/m_1 + 1/m_N)| / γ(1/m_1 + 1/m_N)
    aberth_iterations: jax.Array
    poles: NetworkPoles  # the coupled zeros of f (reused by temperatures_by_secular)
    modes: NetworkModes
    pair_circles: NamedTuple  # _PairCircles: near-degenerate pairs and their circles


def _term(md, gamma, h, sigma, tau):
    """t_p (module docstring) at the zero σΩ_h + τ, holomorphic in τ."""
    e = home_sums(md, h, sigma, tau)
    f, df = jax.jvp(lambda t: scaled_secular(md, gamma, h, home_sums(md, h, sigma, t))[0],
                    (tau,), (jnp.ones_like(tau),))
    del f
    _, s_t, t_t = scaled_secular(md, gamma, h, e)
    fm, _, _ = scaled_secular(md, gamma, h, e, sign=-1.0)
    z = e.z
    dpow = jnp.where(md.rank[h] == 2, e.dh, 1.0)
    # t̃ = d_h tr S cancels when tr S ≈ 0: then use Δ(−ω) directly
    t_scale = jnp.abs(md.r11[h] + md.rnn[h]) + jnp.abs(e.dh) * (e.abs11 + e.absnn)
    use_trace = jnp.abs(t_t) >= 0.25 * t_scale
    form1 = -gamma * z * s_t**2 * dpow / (df * jnp.where(use_trace, t_t, 1.0))
    form2 = 2j * gamma**2 * z**2 * s_t**2 * dpow**2 / (df * jnp.where(use_trace, 1.0, fm))
    return jnp.where(use_trace, form1, form2)


def _term_error(md_fixed, gamma_fixed, h, sigma, tau, delta):
    """|t_p′|δ_p + 4ε|t_p|: the residue term's bound for a position error δ_p."""
    val, dval = jax.jvp(lambda x: _term(md_fixed, gamma_fixed, h, sigma, x), (tau,),
                        (jnp.ones_like(tau),))
    return jnp.abs(dval) * delta + 4.0 * EPS * jnp.abs(val)


def _terms_with_error(md, gamma, poles: NetworkPoles, md_fixed, gamma_fixed):
    """Residue terms t_p (live) and their error bounds |t_p′|δ_p (fixed data)."""
    p = poles.omega.shape[0]
    batch = batch_size(p, 4 * md.omega.shape[0], CHUNK_ELEMENTS)
    terms = _config.map_in_batches(lambda a: _term(md, gamma, *a),
                                   (poles.home, poles.sigma, poles.tau), batch)

    delta = jnp.maximum(poles.step, poles.noise)
    errors = _config.map_in_batches(
        lambda a: _term_error(md_fixed, gamma_fixed, *a),
        (poles.home, poles.sigma, jax.lax.stop_gradient(poles.tau), delta), batch)
    terms = jnp.where(poles.active, terms, 0.0)
    errors = jnp.where(poles.active, errors, 0.0)
    return terms, errors


def _transmittance_home_form(md, gamma, h, sigma, tau):
    """T(z) = 4γ²z² S_1N(z)²/(Δ(z)Δ(−z)) at the complex z = σΩ_h + τ (the analytic
    continuation of Eq. 17; S is even in z), in the home-scaled form 4γ²z² s̃² d_h^{2r−2}/(F F⁻)
    with exact offsets, and a first-order bound on its relative rounding noise. O(N)."""
    e = home_sums(md, h, sigma, tau)
    f, s_t, _ = scaled_secular(md, gamma, h, e)
    fm, _, _ = scaled_secular(md, gamma, h, e, sign=-1.0)
    dpow = jnp.where(md.rank[h] == 2, e.dh, 1.0)
    value = 4.0 * gamma**2 * e.z**2 * s_t**2 * dpow**2 / (f * fm)
    n = md.omega.shape[0]
    noise_s = 8.0 * (n + 4) * EPS * (jnp.abs(md.r1n[h]) + jnp.abs(e.dh) * e.abs1n)
    noise_f = secular_noise(md, gamma, h, e)  # the same bound for F(−z): it uses |γz| only
    rel = noise_f / jnp.abs(f) + noise_f / jnp.abs(fm) + 2.0 * noise_s / jnp.abs(s_t)
    # s̃ can round to exactly 0 where T is pure rounding noise (a pair of a symmetric network
    # that carries no flux): the value 0 then has only second-order noise (noise_s², far
    # below every other term), not 0 × ∞ = NaN in the rule's error
    rel = jnp.where(value == 0, 0.0, rel)
    return value, jnp.where(jnp.isfinite(rel), rel, jnp.inf)


class _PairCircles(NamedTuple):
    """The near-degenerate pairs whose terms J and T_n take by the circle rule: up to
    ``_MAX_PAIRS`` rows (the leads first; a row that is no lead has a pole-free circle
    around its own zero: finite values, unused)."""

    rows: jax.Array  # (K,) pole indices
    lead: jax.Array  # (P,) leads whose rule is used
    follower: jax.Array  # (P,) their partners (terms dropped)
    tau: jax.Array  # (K, M) node offsets from each row's home node
    radius: jax.Array  # (K,)
    unit: jax.Array  # (M,)
    residue_tau: jax.Array  # (P,) τ for the residue terms: the pairs' moved above every pole


def _pair_circles(md_fixed, gamma_fixed, poles: NetworkPoles) -> _PairCircles:
    """Pair geometry (``_contour``) on the gradient-stopped zeros, and the pairs whose sum
    the circle rule takes: strict pairs always, candidates where its bound is the smaller
    (``_contour.circle_chosen``; the residue bounds of the candidates' two zeros are formed
    here for that, O(_MAX_PAIRS·N)). O(P²)."""
    zf = jax.lax.stop_gradient(poles.omega)
    p = zf.shape[0]
    pairs = _contour.near_pairs(zf, poles.active, jnp.zeros((0,), zf.dtype))
    # the strict leads first, then the candidates
    priority = jnp.where(pairs.lead & pairs.strict, 0, jnp.where(pairs.lead, 1, 2))
    rows = jnp.argsort(priority, stable=True)[:min(p, _MAX_PAIRS)]
    circles = _circles_of(pairs, poles, zf, rows, pairs.lead[rows])
    rule_error = _pair_weights(md_fixed, gamma_fixed, poles, circles, md_fixed, gamma_fixed)[1]
    residue_rows = jnp.concatenate([rows, pairs.partner[rows]])
    delta = jnp.maximum(poles.step, poles.noise)[residue_rows]
    residue_error = jax.vmap(lambda h, s, t, d: _term_error(md_fixed, gamma_fixed, h, s, t, d))(
        poles.home[residue_rows], poles.sigma[residue_rows], poles.tau[residue_rows], delta)
    k = rows.shape[0]
    # candidate pairs are at least CLUSTER_RATIO apart: their residue terms are finite
    chosen = _contour.circle_chosen(pairs.lead[rows], pairs.strict[rows], rule_error,
                                    residue_error[:k] + residue_error[k:])
    return _circles_of(pairs, poles, zf, rows, chosen)


def _circles_of(pairs, poles: NetworkPoles, zf, rows, used) -> _PairCircles:
    """The circles of ``rows`` whose rule is ``used`` (the rest: pole-free circles)."""
    p = zf.shape[0]
    _, unit = _contour.circle_nodes(pairs)
    # A pair's circle: radius D/8 (D its distance to the other poles of T) rather than the
    # geometric mean √(dD): the M- and M/2-point rules still converge like (1/8)^M and
    # (4d/D)^M (the estimate, M/2 = 16: ≤ 1e-14 for d < D/100), and the integrands are
    # evaluated away from the pair, where F(z) ∝ (z − ω_p)(z − ω_q) is not small, so that
    # their rounding noise stays small. The nodes are built from offsets (the pair's
    # half-separation, then the circle), not from absolute positions. A row that is no
    # used lead gets a circle far above every pole (Im ω_p ≤ Σ Im ω_p = γ(1/m_1 + 1/m_N)):
    # finite values, so that no NaN reaches a gradient through the rows it does not use.
    radius = jnp.where(used & jnp.isfinite(pairs.d_other[rows]), 0.125 * pairs.d_other[rows],
                       0.25)
    top = jnp.max(jnp.where(poles.active, zf.imag, 0.0))
    offset = jnp.where(used, 0.5 * (zf[pairs.partner[rows]] - zf[rows]),
                       1j * (2.0 * top + 1.0) - zf[rows])
    tau = jax.lax.stop_gradient(poles.tau[rows] + offset)[:, None] + radius[:, None] * unit
    lead = jnp.zeros(p, bool).at[rows].set(used)
    follower = pairs.follower & lead[pairs.partner]
    # the pairs' residue terms are discarded; evaluated above every pole (not at a near-double
    # zero, where F′ ≈ 0 could overflow and send NaN through the discarded branch's gradient)
    residue_tau = jnp.where(lead | follower,
                            jax.lax.stop_gradient(poles.tau) + (1j * (2.0 * top + 1.0) - zf),
                            poles.tau)
    return _PairCircles(rows, lead, follower, tau, radius, unit, residue_tau)


def _pair_rule(md, gamma, poles: NetworkPoles, circles: _PairCircles, md_fixed, gamma_fixed):
    """The circle rule for the sum of each used pair's two flux terms (``_contour``), at
    the pair's lead: (rule (P,), error (P,)). O(_MAX_PAIRS·M·N)."""
    p = poles.omega.shape[0]
    rows = circles.rows
    weights, error = _pair_weights(md, gamma, poles, circles, md_fixed, gamma_fixed)
    rule = jnp.zeros(p, weights.dtype).at[rows].set(jnp.sum(weights, axis=1))
    return rule, jnp.zeros(p).at[rows].set(error)


def _pair_weights(md, gamma, poles: NetworkPoles, circles: _PairCircles, md_fixed, gamma_fixed):
    """The circle rule's node weights (K, M) (T(z) times the trapezoidal weights) and error
    bounds (K,) of the rows ``circles.rows``. O(_MAX_PAIRS·M·N)."""

    def row(h, sigma, taus):
        values = jax.vmap(lambda t: _transmittance_home_form(md, gamma, h, sigma, t)[0])(taus)
        rel = jax.vmap(lambda t: _transmittance_home_form(md_fixed, gamma_fixed, h, sigma,
                                                          t)[1])(taus)
        return values, rel

    rows = circles.rows
    values, rel = jax.vmap(row)(poles.home[rows], poles.sigma[rows], circles.tau)
    return _contour.circle_rule(values, jax.lax.stop_gradient(rel), circles.radius,
                                circles.unit)


def _solved(network, poles, md, n):
    """(modes, their gradient-stopped copy, γ stopped, poles, pair circles) of a network."""
    md = network_modes(network, n) if md is None else md
    md_fixed = jax.tree_util.tree_map(jax.lax.stop_gradient, md)
    gamma_fixed = jax.lax.stop_gradient(network.gamma)
    if poles is None:
        poles = network_poles(md_fixed, gamma_fixed, md, network.gamma)
    return md, md_fixed, gamma_fixed, poles, _pair_circles(md_fixed, gamma_fixed, poles)


def _sum_rule(network, poles: NetworkPoles, circles: _PairCircles, n):
    """(relative trace sum-rule violation, the bound its test allows, pairs' slack included)."""
    lead, follower = circles.lead, circles.follower
    m = network.masses
    m_last = m[-1] if n is None else m[n - 1]
    trace = network.gamma * (1.0 / m[0] + 1.0 / m_last)
    im_sum = jnp.sum(jnp.where(poles.active, poles.omega, 0.0))
    sum_rule_error = jnp.abs(im_sum - 1j * trace) / trace
    # a near-degenerate pair's zeros are located only to their (large) position bounds; its
    # terms do not depend on them (the circle rule), but the sum rule does
    # (capped: a larger slack could hide a missing zero)
    pair_slack = jnp.sum(jnp.where(lead | follower, jnp.maximum(poles.step, poles.noise), 0.0))
    pair_slack = jnp.where(jnp.isfinite(pair_slack), jnp.minimum(pair_slack, 1e-6 * trace),
                           0.0)
    return sum_rule_error, jnp.maximum(1e-8, pair_slack / trace)


def network_pole_sum(network, n=None, md: NetworkModes | None = None) -> PoleSum:
    """The network's flux as a :class:`~meanfield_jax._quantum.PoleSum`: every pole with
    its residue term, each near-degenerate pair's circle nodes with their weights; the
    errors and checks of :func:`flux_by_secular`. O(N³) (eigh) + O(N²); ``md``: the
    network's modes if the caller has them (:func:`network_modes`)."""
    md, md_fixed, gamma_fixed, poles, circles = _solved(network, None, md, n)
    lead, follower = circles.lead, circles.follower
    terms, errors = _terms_with_error(md, network.gamma, poles._replace(tau=circles.residue_tau),
                                      md_fixed, gamma_fixed)
    terms = jnp.where(lead | follower, 0.0, terms)
    errors = jnp.where(lead | follower, 0.0, errors)
    points = jnp.where(poles.active & ~(lead | follower), poles.omega, 1.0j)
    node_weights, node_errors = _pair_weights(md, network.gamma, poles, circles, md_fixed,
                                              gamma_fixed)
    rows = circles.rows
    used = lead[rows]
    m = node_weights.shape[1]
    nodes = poles.sigma[rows, None] * md.omega[poles.home[rows], None] + circles.tau
    node_weights = jnp.where(used[:, None], node_weights, 0.0)
    nodes = jnp.where(used[:, None], nodes, 1.0j)
    node_errors = jnp.where(used[:, None], node_errors[:, None] / m, 0.0) * jnp.ones((1, m))
    sum_rule_error, allowed = _sum_rule(network, poles, circles, n)
    sum_rule_error = jax.lax.stop_gradient(sum_rule_error)
    ok = (sum_rule_error < allowed) & (poles.aberth_rel <= 1e-8)
    count = points.shape[0] + nodes.size
    return PoleSum(jnp.concatenate([points, jnp.ravel(nodes)]),
                   jnp.concatenate([terms, jnp.ravel(node_weights)]),
                   jax.lax.stop_gradient(jnp.concatenate([errors, jnp.ravel(node_errors)])),
                   jnp.ones(count, bool), jnp.asarray(16.0 * EPS * (network.n + 4)),
                   jnp.asarray(0.0), jnp.asarray(0.0), ok, jnp.asarray(True))


def flux_by_secular(network, poles: NetworkPoles | None = None, md: NetworkModes | None = None,
                    n=None):
    """J (ΔT included), error estimate and status for a HarmonicNetwork. O(N³) eigh + O(N²).

    ``n``: the true N of a padded network (:func:`network_modes`). Returns a ResidueResult
    whose diagnostics (:class:`NetworkFluxDiagnostics`) carry the poles and modes that
    :func:`temperatures_by_secular` reuses."""
    md, md_fixed, gamma_fixed, poles, circles = _solved(network, poles, md, n)
    lead, follower = circles.lead, circles.follower
    terms, errors = _terms_with_error(md, network.gamma, poles._replace(tau=circles.residue_tau),
                                      md_fixed, gamma_fixed)
    pair_sums, pair_errors = _pair_rule(md, network.gamma, poles, circles, md_fixed,
                                        gamma_fixed)
    terms = jnp.where(lead, pair_sums, jnp.where(follower, 0.0, terms))
    errors = jnp.where(lead, pair_errors, jnp.where(follower, 0.0, errors))
    total = jnp.sum(terms)
    value = total.real
    sum_rule_error, allowed = _sum_rule(network, poles, circles, n)
    magnitude = jnp.sum(jnp.abs(terms))
    size = network.n  # the (padded) array size; n stays the true N
    error = (jnp.sum(errors) + 16.0 * EPS * (size + 4) * magnitude
             + jnp.abs(jax.lax.stop_gradient(total.imag)))
    error = jnp.where(jnp.isfinite(error), error, jnp.inf)
    converged = ((sum_rule_error < allowed) & jnp.isfinite(value)
                 & (poles.aberth_rel <= 1e-8)
                 & (error <= CONVERGED_RTOL * jnp.abs(value)))
    dt = network.t_left - network.t_right
    return ResidueResult(value * dt, jax.lax.stop_gradient(error * jnp.abs(dt)), converged,
                         NetworkFluxDiagnostics(sum_rule_error, poles.aberth_iterations, poles,
                                                md, circles))


def _pole_factors(md, gamma, h, sigma, tau, t_left, t_right):
    """For one pole: per-mode right factors W (N, 2), W⁻ (N, 2) with N_p = U W and
    G(−ω_p) = U W⁻ / den⁻, and the scalar prefactor i ω² /(den den⁻) of T_n (module doc)."""
    e = home_sums(md, h, sigma, tau)
    z = e.z
    _, df = jax.jvp(lambda t: scaled_secular(md, gamma, h, home_sums(md, h, sigma, t))[0],
                    (tau,), (jnp.ones_like(tau),))
    fm, _, _ = scaled_secular(md, gamma, h, e, sign=-1.0)
    rank2 = md.rank[h] == 2
    dh = e.dh
    r11, rnn, r1n = md.r11[h], md.rnn[h], md.r1n[h]

    def adj_e(g):  # adj(d I + g (R + d S′)) as (a11, ann, a1n)
        return (dh + g * (rnn + dh * e.snn), dh + g * (r11 + dh * e.s11),
                -g * (r1n + dh * e.s1n))

    def home_x(g):  # r = 1: I + g adj S′; r = 2: adj Ẽ
        one = (1.0 + g * e.snn, 1.0 + g * e.s11, -g * e.s1n)
        two = adj_e(g)
        return tuple(jnp.where(rank2, b, a) for a, b in zip(one, two))

    g = 1j * gamma * z
    group = md.group
    in_home = group == h
    d_mode = e.d[group]
    coupled = md.rank[group] > 0
    c = jnp.where(rank2, dh, 1.0)
    scale_other = safe_div(c, d_mode, coupled & ~in_home)

    def right(gg):
        hx = home_x(gg)
        ae = adj_e(gg)
        x11 = jnp.where(in_home, hx[0], ae[0] * scale_other)
        xnn = jnp.where(in_home, hx[1], ae[1] * scale_other)
        x1n = jnp.where(in_home, hx[2], ae[2] * scale_other)
        # row vector b_jᵀ X (X symmetric): components for b = 1 and b = N
        w1 = md.b1 * x11 + md.bn * x1n
        wn = md.b1 * x1n + md.bn * xnn
        return jnp.stack([w1, wn], axis=1)

    w = right(g)
    wm = right(-g)
    pref = 1j * z**2 / (df * fm)
    return w, wm, pref


def _real_gemm(u, w, wm):
    """(U W, U W⁻) for complex (batch, N, 2) W, W⁻ and real U, by one real product."""
    stacked = jnp.concatenate([w.real, w.imag, wm.real, wm.imag], axis=-1)  # (batch, N, 8)
    out = jnp.einsum("nj,pjc->pnc", u, stacked)
    return out[..., 0:2] + 1j * out[..., 2:4], out[..., 4:6] + 1j * out[..., 6:8]


def _pair_temperatures(md, gamma, poles: NetworkPoles, circles: _PairCircles, t_left,
                       t_right, md_fixed, gamma_fixed):
    """T_n's share of each used near-degenerate pair (``_contour``): the circle rule for
    i Σ_{p∈pair} Res_p [ω² Σ_b T_b G_nb(ω) G_nb(−ω)] at every site n (:func:`_pair_site_rule`),
    the leads' rows summed. Returns (values (N,), error (N,), Σ|weights·values| (N,)).
    O(_MAX_PAIRS·M·N²)."""
    weights, error, used, _ = _pair_site_rule(md, gamma, poles, circles, t_left, t_right,
                                              md_fixed, gamma_fixed)
    k = used.shape[0]
    n = md.omega.shape[0]
    values = jnp.sum(weights, axis=1).reshape(k, n)
    sizes = jnp.sum(jnp.abs(jax.lax.stop_gradient(weights)), axis=1).reshape(k, n)
    return (jnp.sum(jnp.where(used[:, None], values, 0.0), axis=0),
            jnp.sum(jnp.where(used[:, None], error.reshape(k, n), 0.0), axis=0),
            jnp.sum(jnp.where(used[:, None], sizes, 0.0), axis=0))


def _pair_site_rule(md, gamma, poles: NetworkPoles, circles: _PairCircles, t_left, t_right,
                    md_fixed, gamma_fixed):
    """The circle rule of each pair row at every site, with G_{:,b}(z) = Y(z) E(z)⁻¹ e_b and
    G_{:,b}(−z) = Y(z) E(−z)⁻¹ e_b (Y even in z; module docstring), Y for all nodes as one
    GEMM: (node weights (K·N, M), error (K·N,), the rows used (K,), nodes (K, M)).
    O(_MAX_PAIRS·M·N²)."""
    n = md.omega.shape[0]
    rows = circles.rows
    k, m = circles.tau.shape

    def at_node(mdx, gam, h, sigma, tau):
        e = home_sums(mdx, h, sigma, tau)
        b = jnp.stack([mdx.b1, mdx.bn], axis=1)  # (N, 2); zero for decoupled modes
        w = b / e.d[mdx.group][:, None]  # b_j/(λ_j − z²), exact offsets
        s_mat = b.T @ w  # S(z), 2×2
        g = 1j * gam * e.z
        eye = jnp.eye(2, dtype=w.dtype)
        inv_p, inv_m = jnp.linalg.inv(eye + g * s_mat), jnp.linalg.inv(eye - g * s_mat)
        f, _, _ = scaled_secular(mdx, gam, h, e)
        fm, _, _ = scaled_secular(mdx, gam, h, e, sign=-1.0)
        noise_f = secular_noise(mdx, gam, h, e)
        return e.z, w, inv_p, inv_m, noise_f / jnp.abs(f) + noise_f / jnp.abs(fm)

    def nodes_of(mdx, gam):
        return jax.vmap(lambda h, sg, taus: jax.vmap(
            lambda t: at_node(mdx, gam, h, sg, t))(taus))(poles.home[rows], poles.sigma[rows],
                                                          circles.tau)

    z, w, inv_p, inv_m, _ = nodes_of(md, gamma)  # (K, M), (K, M, N, 2), (K, M, 2, 2) …
    y, _ = _real_gemm(md.u, w.reshape(k * m, n, 2), w.reshape(k * m, n, 2))
    y = y.reshape(k, m, n, 2)
    ya = jnp.einsum("kmnc,kmcb->kmnb", y, inv_p)  # G_{:,b}(z)
    yb = jnp.einsum("kmnc,kmcb->kmnb", y, inv_m)  # G_{:,b}(−z)
    temps_b = jnp.stack([t_left, t_right])
    g_val = z[..., None] ** 2 * jnp.sum(temps_b * ya * yb, axis=-1)  # (K, M, N)
    # rounding: |U||W| bounds each entry of Y; E's inverses to the noise of F(±z)
    zf, wf, ipf, imf, rel_e = jax.lax.stop_gradient(nodes_of(md_fixed, gamma_fixed))
    y_abs = jnp.einsum("nj,pjc->pnc", jnp.abs(md_fixed.u),
                       jnp.abs(wf).reshape(k * m, n, 2)).reshape(k, m, n, 2)
    bound = jnp.abs(zf[..., None]) ** 2 * jnp.sum(
        temps_b * jnp.einsum("kmnc,kmcb->kmnb", y_abs, jnp.abs(ipf))
        * jnp.einsum("kmnc,kmcb->kmnb", y_abs, jnp.abs(imf)), axis=-1)
    # (F's noise scales both inverses: relative 2 η_F/|F| on g; the sums' noise: |Y||E⁻¹|)
    rel = 2.0 * rel_e[..., None] + 16.0 * (n + 4) * EPS * bound / jnp.maximum(
        jnp.abs(jax.lax.stop_gradient(g_val)), 1e-300)
    # the rule (1/2πi)∮ g dz per site: circle_rule integrates (i/2)·values, so values = 2g
    per_site = jnp.moveaxis(2.0 * g_val, 1, 2).reshape(k * n, m)
    weights, error = _contour.circle_rule(per_site, jnp.moveaxis(rel, 1, 2).reshape(k * n, m),
                                          jnp.repeat(circles.radius, n), circles.unit)
    return weights, error, circles.lead[rows], z




def _weak_modes(md: NetworkModes, k_tilde, gamma, t_left, t_right, masses, n_real):
    """Share of weakly coupled modes in T_n and its error bound, both (N,). O(N³) (GEMMs).

    Error of ``eigh`` in the bath amplitudes, a posteriori: with the residuals
    r_j = K̃φ_j − λ_jφ_j (K̃ = M^−½ K_w M^−½ as decomposed, φ = M^½ U), first-order
    perturbation theory gives the error of the computed amplitudes
    δU_1j = −Σ_{k ∉ g(j)} U_1k φ_kᵀr_j / (λ_k − λ_j) (likewise at particle N), evaluated with
    its signs (a localized mode's residual is localized, and the sum propagates it to the
    bath like the resolvent: the cancellation is the physics). Measured against 50-digit
    eigenvectors of a disordered chain (N = 64, amplitudes 1e-14…1e-28): the estimate equals
    the actual error to two digits. η = 2|δU| + 4ε|U| is used as the bound.

    A mode's temperature in the weak-coupling limit is T_j = T_R + (T_L − T_R) f_j,
    f_j = b_1² / (b_1² + b_N²) (groups: b² → the group sums r11, rNN); its interval over
    amplitudes ±η gives the error |T_L − T_R| δf_j of the mode's share m_n U_nj² of T_n
    (Σ_j m_n U_nj² = 1). Singleton modes deflated as uncoupled (amplitudes below the
    deflation threshold, |b| ≲ 8Nε: localized modes, |b| ~ e^{−N/ξ}) have no pole in the
    residue sum; their width ~ b² is far below every gap, so they carry T_j to their share
    exactly (to O(b²/gap)): added here, with that error. A mode whose amplitudes are
    both consistent with 0 (deep in a long disordered chain, or decoupled by a symmetry)
    gets the error of an unknown T_j between the baths. Modes decoupled exactly within a
    degenerate group carry nothing and no error (convention: at rest).
    The same first-order mode errors δφ = Φ·coupling bound what ``eigh``'s error does to
    T_n through the interior of the modes, at every site: T_n = m_n (U P Uᵀ)_nn with the
    modes' velocity covariance 0 ≤ P ≤ T_max I and U Uᵀ = M⁻¹ give
    |δT_n| ≤ 2 T_max ‖δφ_n‖ (estimate: twice that). Measured need: random springs,
    N = 300, errors of 1.2e-12 at sites whose residue-sum estimate was smaller.

    ``k_tilde``: K̃ (:func:`k_tilde`). Returns (value, error of the coupled modes and of
    eigh's mode error, error of the deflated modes), per particle: ``value`` and the last
    are the deflated modes' (steady-state convention; :func:`temperatures_by_secular`).
    Called on
    gradient-stopped modes: the weak share enters T_n without a derivative (eigh's
    derivative is singular for degenerate groups; the share is nonzero only where modes
    were deflated, i.e. localized far from both baths).
    """
    size = md.lam.shape[0]
    index = jnp.arange(size)
    used = index <= md.group[-1]
    lam = md.raw_lam
    other = md.group[:, None] != md.group[None, :]
    diff = lam[None, :] - lam[:, None]  # (k, j): λ_j − λ_k
    inv_gap = jnp.where(other & (diff != 0), 1.0 / jnp.where(diff != 0, diff, 1.0), 0.0)
    phi = md.u * jnp.sqrt(masses)[:, None]
    residual = k_tilde @ phi - phi * lam[None, :]
    coupling = (phi.T @ residual) * inv_gap  # (k, j): φ_kᵀ r_j / (λ_j − λ_k)
    # every site: the modes' first-order error δφ = Φ·coupling moves T_n = m_n (U P Uᵀ)_nn
    # by 2 m_n (δU P Uᵀ)_nn, and 0 ≤ P ≤ T_max I (the steady covariance is below the
    # equilibrium one at the hotter bath), U Uᵀ = M⁻¹: |δT_n| ≤ 2 T_max ‖δφ_n‖ (twice
    # that as the estimate, as η above)
    t_max = jnp.maximum(jnp.abs(t_left), jnp.abs(t_right))
    delta_phi = phi @ coupling
    eigvec_error = 4.0 * t_max * jnp.sqrt(jnp.sum(delta_phi * delta_phi, axis=1))
    u1, un = md.u[0], md.u[n_real - 1]  # raw amplitudes (md.b1, md.bn are deflated)
    eta1 = 2.0 * jnp.abs(u1 @ coupling) + 4.0 * EPS * jnp.abs(u1)
    etan = 2.0 * jnp.abs(un @ coupling) + 4.0 * EPS * jnp.abs(un)
    # twisted factorisation (nearest-neighbour networks): relative accuracy. The rounding
    # of K̃'s entries (ε each) is amplified along a localised mode's decay path (pivots
    # near its centre are small): measured 1.6e-12 (δ = 0.1) and 1.1e-11 (δ = 0.8) at
    # N = 300 against 180–300-digit inverse iteration; estimate 512(N + 4)ε (3.5e-11)
    rel_acc = 512.0 * (n_real + 4) * EPS
    eta1 = jnp.where(md.accurate_ends, rel_acc * jnp.abs(u1), eta1)
    etan = jnp.where(md.accurate_ends, rel_acc * jnp.abs(un), etan)
    count = jax.ops.segment_sum(jnp.ones(size), md.group, num_segments=size,
                                indices_are_sorted=True)
    rank = md.rank[md.group]
    single = count[md.group] == 1
    kept = rank > 0
    a1 = jnp.where(kept, jnp.sqrt(jnp.maximum(md.r11[md.group], 0.0)), jnp.abs(u1))
    an = jnp.where(kept, jnp.sqrt(jnp.maximum(md.rnn[md.group], 0.0)), jnp.abs(un))

    # deflated modes: amplitudes dressed by the baths acting through the other modes,
    # β = E′(ω_j)⁻¹ b with E′ = I + iω_jγS′(ω_j), S′ = Σ_{k kept} b_k b_kᵀ/(λ_k − λ_j)
    # (the deflated pole sits at ω² = λ_j + iω_jγ bᵀE′⁻¹b; each bath feeds it ∝ γ|β_b|²)
    deflated = used[md.group] & ~kept & single
    s11 = -(md.b1 * md.b1) @ inv_gap
    snn = -(md.bn * md.bn) @ inv_gap
    s1n = -(md.b1 * md.bn) @ inv_gap
    g = 1j * jnp.sqrt(jnp.maximum(lam, 0.0)) * gamma
    e11, enn, e1n = 1.0 + g * s11, 1.0 + g * snn, g * s1n
    det = e11 * enn - e1n * e1n
    ok_det = deflated & (jnp.abs(det) > 0)
    inv_det = jnp.where(ok_det, 1.0 / jnp.where(ok_det, det, 1.0), 1.0)
    beta1 = jnp.where(ok_det, (enn * u1 - e1n * un) * inv_det, u1)
    betan = jnp.where(ok_det, (e11 * un - e1n * u1) * inv_det, un)
    deta1 = jnp.where(ok_det, (jnp.abs(enn) * eta1 + jnp.abs(e1n) * etan) * jnp.abs(inv_det),
                      eta1)
    detan = jnp.where(ok_det, (jnp.abs(e11) * etan + jnp.abs(e1n) * eta1) * jnp.abs(inv_det),
                      etan)
    a1 = jnp.where(deflated, jnp.abs(beta1), a1)
    an = jnp.where(deflated, jnp.abs(betan), an)
    eta1 = jnp.where(deflated, deta1, eta1)
    etan = jnp.where(deflated, detan, etan)

    def frac(x, y):  # x² / (x² + y²), 1/2 where both vanish
        den = x * x + y * y
        return safe_div(x * x, den, den > 0) + 0.5 * (den <= 0)

    f = frac(a1, an)
    hi = frac(a1 + eta1, jnp.maximum(an - etan, 0.0))
    lo = frac(jnp.maximum(a1 - eta1, 0.0), an + etan)
    spread = jnp.maximum(hi - f, f - lo)
    # both amplitudes consistent with 0 (exactly 0 included): any f in [0, 1]
    spread = jnp.where(deflated & (a1 <= eta1) & (an <= etan), jnp.maximum(f, 1.0 - f), spread)
    # reflection symmetry (``network_modes``): |b_1| = |b_N| exactly for a mode of exact
    # parity and R_11 = R_NN for a group, so f = 1/2 whatever eigh's error in the amplitudes
    exact = md.symmetric & ((md.parity != 0) | ~single)
    spread = jnp.where(exact, 0.0, spread)
    dt = t_left - t_right
    value = jnp.where(deflated, t_right + dt * f, 0.0)
    error = jnp.where(kept, jnp.abs(dt) * spread, 0.0)
    error_deflated = jnp.where(deflated, jnp.abs(dt) * spread, 0.0)
    share = masses[:, None] * md.u * md.u
    return share @ value, share @ error + eigvec_error, share @ error_deflated


DECOUPLED = ("steady", "rest")


def temperatures_by_secular(network, flux=None, n=None, decoupled: str = "steady"):
    """Local temperatures T_n (Eq. 31 for networks) by residues over the secular poles.

    O(N³): the eigendecomposition and one product U·W per chunk of poles (GEMM).
    End particles from the energy balance J = γ(T_L − T_1)/m_1 = γ(T_N − T_R)/m_N.
    ``n``: the true N of a padded network (:func:`network_modes`; the padded particles'
    entries are 0 and not part of the status). ``flux``: the network's flux ResidueResult
    (computed if None).

    ``decoupled`` (static): what the modes whose coupling float64 cannot resolve (bath
    amplitudes below the deflation threshold of :func:`network_modes`: no pole of theirs
    is resolved, their width γb² is below the rounding of F) carry.

    * ``"steady"``: the infinite-time steady state. Each such mode sits at its
      weak-coupling temperature T_j = (T_L b_1j² + T_R b_Nj²)/(b_1j² + b_Nj²)
      (:func:`_weak_modes`), with the uncertainty of b_Nj/b_1j in the estimate (none
      for a reflection-symmetric network, where T_j = (T_L + T_R)/2 exactly).
    * ``"rest"``: the particular solution from rest (the paper's, Sec. II): such modes
      carry no energy, as they do up to times ~1/(γ b²) ≳ 1e26/γ (the state any finite
      simulation or experiment sees); the estimate then has no term of theirs.

    Modes decoupled exactly (rank-0 directions of a degenerate group: no steady state
    exists, the energy they start with stays) are at rest in both conventions.

    Returns a ResidueResult: temperatures (N,), error_estimate (N,), converged, and as
    diagnostics the (N,) array ``unresolved``: the deflated modes' share of T_n in the
    steady state, T_n("steady") − T_n("rest"), i.e. which sites depend on modes float64
    cannot resolve and by how much."""
    if decoupled not in DECOUPLED:
        raise ValueError(f"decoupled must be one of {DECOUPLED}, got {decoupled!r}")
    flux = flux_by_secular(network, n=n) if flux is None else flux
    md, poles = flux.diagnostics.modes, flux.diagnostics.poles
    md_fixed = jax.tree_util.tree_map(jax.lax.stop_gradient, md)
    gamma = network.gamma
    t_l, t_r = network.t_left, network.t_right
    n_real = network.n if n is None else n
    size = network.n  # the (padded) array size; n stays the true N (or None)
    p = poles.omega.shape[0]
    batch = batch_size(p, 8 * size, CHUNK_ELEMENTS)
    n_chunks = -(-p // batch)
    pad = n_chunks * batch - p
    delta = jnp.maximum(poles.step, poles.noise)

    def padded(x, fill):
        x = jnp.concatenate([x, jnp.full((pad,) + x.shape[1:], fill, x.dtype)]) if pad else x
        return x.reshape((n_chunks, batch) + x.shape[1:])

    circles = flux.diagnostics.pair_circles
    residue_poles = poles.active & ~circles.lead & ~circles.follower  # pairs: circle rule
    xs = (padded(poles.home, 0), padded(poles.sigma, 1.0), padded(circles.residue_tau, 1j),
          padded(residue_poles, False), padded(delta, 0.0))
    u = md.u
    u_abs = jnp.abs(jax.lax.stop_gradient(u))

    def contributions(mdx, tau, h, s, act):
        w, wm, pref = jax.vmap(lambda hh, ss, tt: _pole_factors(mdx, gamma, hh, ss, tt, t_l,
                                                                t_r))(h, s, tau)
        pref = jnp.where(act, pref, 0.0)
        # U·W for the chunk's poles as ONE real GEMM (U is real): (N, N) × (N, batch·8)
        a, b = _real_gemm(mdx.u, w, wm)
        val = pref[:, None] * (t_l * a[..., 0] * b[..., 0] + t_r * a[..., 1] * b[..., 1])
        return val, (w, wm, pref, a, b)

    def body(carry, x):
        acc, acc_abs, acc_err = carry
        h, s, tau, act, dlt = x
        val, (w, wm, pref, a, b) = contributions(md, tau, h, s, act)
        # position error: derivative of each pole's contribution along its own τ
        _, dval = jax.jvp(lambda t: contributions(md_fixed, t, h, s, act)[0], (tau,),
                          (dlt.astype(tau.dtype),))
        # rounding of the sums Y = U W: |U| |W| bounds each entry's noise
        wf, wmf, af, bf = jax.lax.stop_gradient((w, wm, a, b))
        stacked = jnp.concatenate([jnp.abs(wf), jnp.abs(wmf)], axis=-1)  # (batch, N, 4)
        nab = jnp.einsum("nj,pjc->pnc", u_abs, stacked)
        na, nb = nab[..., :2], nab[..., 2:]
        ap = jnp.abs(jax.lax.stop_gradient(pref))[:, None]
        noise = ap * (t_l * (na[..., 0] * jnp.abs(bf[..., 0]) + jnp.abs(af[..., 0]) * nb[..., 0])
                      + t_r * (na[..., 1] * jnp.abs(bf[..., 1])
                               + jnp.abs(af[..., 1]) * nb[..., 1]))
        acc = acc + jnp.sum(val, axis=0)
        acc_abs = acc_abs + jnp.sum(jnp.abs(jax.lax.stop_gradient(val)), axis=0)
        acc_err = acc_err + jnp.sum(jnp.abs(dval), axis=0) + 4.0 * (size + 4) * EPS * jnp.sum(
            noise, axis=0)
        return (acc, acc_abs, acc_err), None

    init = (jnp.zeros(size, jnp.complex128), jnp.zeros(size), jnp.zeros(size))
    (acc, acc_abs, acc_err), _ = jax.lax.scan(body, init, xs)
    pair_val, pair_err, pair_abs = _pair_temperatures(
        md, gamma, poles, circles, t_l, t_r, md_fixed, jax.lax.stop_gradient(gamma))
    acc, acc_err, acc_abs = acc + pair_val, acc_err + pair_err, acc_abs + pair_abs
    m = network.masses
    temps = 2.0 * gamma * m * acc.real
    err = 2.0 * gamma * m * (jax.lax.stop_gradient(acc_err) + 16.0 * (size + 4) * EPS * acc_abs)
    kt = jax.lax.stop_gradient(k_tilde(network, n)[0])
    weak, weak_err, deflated_err = _weak_modes(md_fixed, kt, jax.lax.stop_gradient(gamma),
                                               t_l, t_r, jax.lax.stop_gradient(m), n_real)
    if decoupled == "steady":
        temps, err = temps + weak, err + weak_err + deflated_err
    else:
        err = err + weak_err
    j = flux.value
    last = n_real - 1
    t1 = t_l - m[0] * j / gamma
    tn = t_r + m[last] * j / gamma
    temps = temps.at[0].set(t1).at[last].set(tn)
    end_err = flux.error_estimate * jnp.stack([m[0], m[last]]) / gamma
    err = err.at[0].set(end_err[0]).at[last].set(end_err[1])
    real = jnp.arange(size) < n_real
    temps, err = jnp.where(real, temps, 0.0), jnp.where(real, err, 0.0)
    scale = jnp.maximum(t_l, t_r)
    # the flux's checks (poles found, sum rule), not its relative bound on J: J enters T_n
    # only through T_1 and T_N, whose errors m err_J/γ are in ``err`` and judged with the rest
    sum_rule_error, allowed = _sum_rule(network, poles, circles, n)
    checks = ((sum_rule_error < allowed) & (poles.aberth_rel <= 1e-8)
              & jnp.isfinite(flux.value))
    converged = checks & jnp.all(err <= CONVERGED_RTOL * scale) & jnp.all(
        jnp.isfinite(temps))
    unresolved = jnp.where(real, weak, 0.0).at[0].set(0.0).at[last].set(0.0)
    return ResidueResult(temps, err, converged, unresolved)


class SiteWeights(NamedTuple):
    """Local temperatures as weighted sums over points of the upper half plane (networks).

    Classically T_n = Re Σ_j Σ_b weights[j, n, b] T_b (b = left, right bath; Eq. 31 closed
    over the poles of G, the near-degenerate pairs by their circle rule); with quantum
    baths each T_b becomes the Binet weight g_{T_b}(points_j) (``_quantum``).

    points: (P,) complex; weights, errors: (P, N, 2) (errors: absolute bounds per unit
    weight, the position error and rounding of each term); weak, weak_error: (N,) the
    classical share of weakly coupled (deflated) modes in T_n and its bound; ok: the flux's
    checks passed.
    """

    points: jax.Array
    weights: jax.Array
    errors: jax.Array
    weak: jax.Array
    weak_error: jax.Array
    ok: jax.Array


def temperature_site_weights(network, n=None) -> SiteWeights:
    """:class:`SiteWeights` of a network: every particle, the two ends included (their
    residue sums, not the classical energy balance). O(N³) time, O(P·N) memory (P ≤ 2N
    poles: all at once, not in chunks as :func:`temperatures_by_secular`)."""
    flux = flux_by_secular(network, n=n)
    md, poles, circles = flux.diagnostics.modes, flux.diagnostics.poles, flux.diagnostics.pair_circles
    md_fixed = jax.tree_util.tree_map(jax.lax.stop_gradient, md)
    gamma = network.gamma
    gamma_fixed = jax.lax.stop_gradient(gamma)
    n_real = network.n if n is None else n
    size = network.n
    m = network.masses
    residue_poles = poles.active & ~circles.lead & ~circles.follower
    delta = jnp.maximum(poles.step, poles.noise)

    def per_bath(mdx, tau, h, s, act):
        w, wm, pref = jax.vmap(lambda hh, ss, tt: _pole_factors(mdx, gamma, hh, ss, tt, 1.0,
                                                                1.0))(h, s, tau)
        pref = jnp.where(act, pref, 0.0)
        a, b = _real_gemm(mdx.u, w, wm)
        return 2.0 * gamma * m[None, :, None] * pref[:, None, None] * a * b, (w, wm, pref, b, a)

    args = (circles.residue_tau, poles.home, poles.sigma, residue_poles)
    weights, (w, wm, pref, b, a) = per_bath(md, *args)
    _, dval = jax.jvp(lambda t: per_bath(md_fixed, t, *args[1:])[0], (args[0],),
                      (delta.astype(args[0].dtype),))
    wf, wmf, af, bf, pf = jax.lax.stop_gradient((w, wm, a, b, pref))
    u_abs = jnp.abs(md_fixed.u)
    na = jnp.einsum("nj,pjc->pnc", u_abs, jnp.abs(wf))
    nb = jnp.einsum("nj,pjc->pnc", u_abs, jnp.abs(wmf))
    noise = (2.0 * gamma_fixed * m[None, :, None] * jnp.abs(pf)[:, None, None]
             * (na * jnp.abs(bf) + jnp.abs(af) * nb))
    errors = (jnp.abs(dval) + 4.0 * (size + 4) * EPS * noise
              + 16.0 * (size + 4) * EPS * jnp.abs(jax.lax.stop_gradient(weights)))
    points = jnp.where(residue_poles, poles.omega, 1.0j)

    # the pairs: the circle rule per site and bath (``_pair_temperatures`` with T_b = e_b)
    pair_w, pair_e, pair_z = [], [], None
    for bath in range(2):
        unit_t = jnp.zeros(2).at[bath].set(1.0)
        vals, errs, z = _pair_node_weights(md, gamma, poles, circles, unit_t[0], unit_t[1],
                                           md_fixed, gamma_fixed)
        pair_w.append(2.0 * gamma * m[None, :] * vals)
        pair_e.append(2.0 * gamma * m[None, :] * errs)
        pair_z = z
    node_w = jnp.stack(pair_w, axis=-1)  # (K·M, N, 2)
    node_e = jnp.stack(pair_e, axis=-1)
    kt = jax.lax.stop_gradient(k_tilde(network, n)[0])
    weak, weak_err, deflated_err = _weak_modes(md_fixed, kt, gamma_fixed, network.t_left,
                                               network.t_right, jax.lax.stop_gradient(m),
                                               n_real)
    weak_err = weak_err + deflated_err
    real = (jnp.arange(size) < n_real)[None, :, None]
    return SiteWeights(jnp.concatenate([points, pair_z]),
                       jnp.where(real, jnp.concatenate([weights, node_w]), 0.0),
                       jax.lax.stop_gradient(jnp.where(real, jnp.concatenate([errors, node_e]),
                                                       0.0)),
                       weak, weak_err, flux.converged)


def _pair_node_weights(md, gamma, poles, circles, t_left, t_right, md_fixed, gamma_fixed):
    """Per-node weights of the pairs' circle rule (:func:`_pair_site_rule`): (weights
    (K·M, N), error per node (K·M, N), nodes (K·M,)); rows that are no used lead get
    weight 0 at a pole-free point. O(_MAX_PAIRS·M·N²)."""
    weights, error, used, z = _pair_site_rule(md, gamma, poles, circles, t_left, t_right,
                                              md_fixed, gamma_fixed)
    k, m = z.shape
    n = md.omega.shape[0]
    weights = jnp.where(used[:, None, None], weights.reshape(k, n, m), 0.0)
    error = jnp.where(used[:, None], error.reshape(k, n), 0.0)
    nodes = jnp.where(used[:, None], z, 1.0j)
    return (jnp.moveaxis(weights, 2, 1).reshape(k * m, n),
            jnp.repeat(error[:, None, :] / m, m, axis=1).reshape(k * m, n),
            nodes.reshape(k * m))
