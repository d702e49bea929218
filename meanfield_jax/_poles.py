"""Residue sums of the chain's exact solver: J and T_n over the poles of G_1N, with bounds.

The chain algebra (A_n, a_n, κ̄, the bulk frequencies) is ``_green``'s. The solver is
four modules, bottom to top: ``_pole_chain`` (the chain as the pole finder sees it, the
residue term), ``_gap_zeros`` (one zero per gap), ``_collective_zeros`` (the zeros outside
the gaps and their quadrature rule) and this one (the residue sums: J, T_n, their error
estimates and status, as a ``_solver_base.ResidueResult``).

Method (derivation in docs/method.md; equation numbers from the paper).
With D(ω) = A_1 + A_N + A_1 A_N h(ω), h = 1/b + Σ_bulk 1/α_n, α_n = κ_b − m_n ω²,
Eq. (14) reads G_1N = −1/D. T(ω) = 4γ²ω² G_1N(ω) G_1N(−ω) is rational, decays as ω⁻⁶, and
its poles in the upper half plane are the zeros ω_p of D (the damped normal modes that
couple to the baths). Closing Eq. (16)'s contour there,

    J/ΔT = Re Σ_p t_p,   t_p = −γ ω_p / (D'(ω_p) (h s + 2)) = γ ω_p A_1 A_N / (D'(ω_p) X)

with s = a_1 + a_N, X = a_1² + a_N² + 2γ²ω², a_j = κ_e − m_j ω² (the two forms are equal at
a zero of D; the second has no cancellation near the bulk resonances, the first none near
the zeros of A_1 = A_N). Every term is O(N) to evaluate.

Where the zeros are. D·Π_distinct α_n is a polynomial of degree 2 N_d + 4 (N_d distinct
bulk frequencies ω_n = sqrt(κ_b/m_n)). Along the real axis h rises from −∞ to +∞ between
consecutive bulk frequencies, so each of the N_d − 1 gaps holds one zero (a resonance as
narrow as the gap allows, 1e-10 and below); those and their mirrors −ω̄_p account for
2 N_d − 2 zeros. The remaining six ("collective": the two rigid-bulk modes of Eq. 19 and
the relative end mode, or four for N = 2) are found by a deflated Aberth–Ehrlich
iteration started from the identical-mass model.

Gap zeros are solved like LAPACK's secular-equation solver (dlaed4) on exact pole offsets,
O(N) per zero per iteration, O(N²) in all; above a few hundred gaps the iteration starts
from interpolated first guesses (``_gap_zeros``).

Checks computed on the way (reported, never silently ignored): every iteration converged
and every gap zero lies inside its gap; the sum rule Σ_p Im ω_p = γ (1/m_1 + 1/m_N) (trace
of the state matrix) holds; the result's imaginary part (zero by symmetry) is small.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config
from ._collective_zeros import ChainPoles, mirror_end_weight, mirror_symmetric, poles_from_gaps
from ._gap_zeros import gap_roots
from ._green import bulk_frequencies
from ._pole_chain import PoleChain
from ._quantum import PoleSum
from ._solver_base import (
    CONVERGED_RTOL,
    EPS,
    ResidueResult,
    batch_size,
    blocked_sum,
    sum_levels,
)

_CHUNK_ELEMENTS = 200_000


def chain_poles(chain, n=None) -> ChainPoles:
    """All poles of G_1N for a MeanFieldChain, differentiable (see flux_by_residues). O(N²).

    ``n``: the true N of a chain padded to a size bucket (see PoleChain); default chain.n."""
    return _poles_of(PoleChain.from_chain(chain, n))


def _poles_of(c: PoleChain) -> ChainPoles:
    c_fixed = c.fixed()
    g = gap_roots(c_fixed, c)
    return poles_from_gaps(c, c_fixed, g.roots, g.terms, g.ok, g.valid, g.iterations,
                           g.origins, g.taus)


class ChainFluxDiagnostics(NamedTuple):
    """The chain solvers' checks (``ResidueResult.diagnostics`` of the flux)."""

    sum_rule_error: jax.Array  # |Σ_p Im ω_p − γ(1/m_1 + 1/m_N)| / γ(1/m_1 + 1/m_N)
    collective_poles: jax.Array  # (6,) the collective zeros (0 for the zero mode)
    gap_iterations: jax.Array  # per gap: exact-iteration steps (rounds on the O(N) path)
    aberth_iterations: jax.Array  # Aberth sweeps for the collective zeros


def _sum_rule_error(c: PoleChain, poles: ChainPoles):
    """|Σ_p ω_p − iγ(1/m_1 + 1/m_N)| / γ(1/m_1 + 1/m_N) over every pole (mirrors included)."""
    gap_z = poles.gap_origin + poles.gap_tau
    trace = c.gamma * (1.0 / c.m1 + 1.0 / c.mn)
    im_sum = (2.0 * jnp.sum(jnp.where(poles.gap_valid, gap_z.imag, 0.0))
              + jnp.sum(poles.collective.imag))
    return jnp.abs(im_sum - trace) / trace


def _rounding_bound(c: PoleChain, poles: ChainPoles, magnitude, terms_bounded):
    """The residue sum's rounding bound for terms of total size ``magnitude`` (see
    :func:`flux_from_poles`)."""
    if terms_bounded:  # the collective terms' O(N) sums (blocked): their own rounding
        return (EPS * (2.0 * sum_levels(poles.gap_terms.shape[0]) + 16.0) * magnitude
                + 16.0 * EPS * (sum_levels(c.nb) + 4)
                * jnp.sum(jnp.abs(poles.collective_weights)))
    return 16.0 * EPS * (c.n_bulk + 4) * magnitude


def pole_sum_from_poles(c: PoleChain, poles: ChainPoles, extra_error=0.0,
                        terms_bounded=False) -> PoleSum:
    """The chain's flux as a :class:`~meanfield_jax._quantum.PoleSum`: each valid gap pole
    with the weight 2t_p (it stands for its mirror), each collective rule's nodes with
    their weights; the errors, rounding bound and checks of :func:`flux_from_poles`. O(N)."""
    gap_z = poles.gap_origin + poles.gap_tau
    gap_points = jnp.where(poles.gap_valid, gap_z, 1.0j)
    gap_weights = jnp.where(poles.gap_valid, 2.0 * poles.gap_terms, 0.0)
    m = poles.collective_nodes.shape[1]
    coll_points = jnp.where(poles.collective_mask[:, None], poles.collective_nodes, 1.0j)
    coll_weights = jnp.where(poles.collective_mask[:, None], poles.collective_weights, 0.0)
    fixed = jax.lax.stop_gradient(poles)
    magnitude = 2.0 * jnp.sum(jnp.abs(fixed.gap_terms)) + jnp.sum(
        jnp.abs(fixed.collective_weights))
    rounding = _rounding_bound(c, fixed, magnitude, terms_bounded)
    rounding_rtol = jnp.where(magnitude > 0, rounding / jnp.where(magnitude > 0, magnitude, 1.0),
                              0.0)
    sum_rule_error = jax.lax.stop_gradient(_sum_rule_error(c, poles))
    errors = jnp.concatenate([jnp.zeros(gap_points.shape[0]),
                              jnp.repeat(poles.collective_error / m, m)])
    self_conjugate = jnp.concatenate([jnp.zeros(gap_points.shape[0], bool),
                                      jnp.ones(coll_points.size, bool)])
    ok = jnp.all(poles.gap_ok | ~poles.gap_valid) & (sum_rule_error < 1e-8)
    return PoleSum(jnp.concatenate([gap_points, jnp.ravel(coll_points)]),
                   jnp.concatenate([gap_weights, jnp.ravel(coll_weights)]),
                   jax.lax.stop_gradient(errors), self_conjugate, rounding_rtol,
                   sum_rule_error, jax.lax.stop_gradient(jnp.asarray(extra_error, float)),
                   ok, jnp.asarray(c.coupled))


def chain_pole_sum(chain, n=None) -> PoleSum:
    """The mean-field chain's :class:`~meanfield_jax._quantum.PoleSum` by the O(N²) residue
    solver (differentiable like :func:`flux_by_residues`). ``n``: the true N of a padded
    chain."""
    c = PoleChain.from_chain(chain, n)
    return pole_sum_from_poles(c, _poles_of(c))


def flux_from_poles(chain, poles: ChainPoles, n=None, c: PoleChain | None = None,
                    extra_error=0.0, terms_bounded=False):
    """J, error estimate and status from the poles (flux_by_residues' ResidueResult);
    ``extra_error``: a further absolute bound on J/ΔT (the fast path's far-field bound),
    added to the error estimate before the convergence test.

    Rounding: each gap term's O(N) bulk sums carry up to ~Nε relative (direct sums), so
    the estimate has 16ε(N + 4) Σ|t_p|. With ``terms_bounded`` (the fast path, whose
    ``extra_error`` already bounds every term's error, the tree's rounding included) only
    the final sum's rounding is added: the gap terms are summed in blocks,
    ε(2(B + N/B) + 16) Σ|t_p| (B = 1024: 9e-13 relative at N = 10⁶ instead of 3.5e-9), plus
    16ε(L + 4) Σ|t_c| for the collective terms, whose O(N) sums are blocked too
    (L = :func:`sum_levels` (N))."""
    c = PoleChain.from_chain(chain, n) if c is None else c
    gap_terms, coll = poles.gap_terms, poles.collective
    coll_weights = poles.collective_weights
    # a gap zero's mirror −ω̄_p contributes the complex conjugate: 2 Re t_p for the pair
    gap_sum = blocked_sum(gap_terms.real) if terms_bounded else jnp.sum(gap_terms.real)
    total = 2.0 * gap_sum + jnp.sum(coll_weights)
    # Diagnostics
    sum_rule_error = _sum_rule_error(c, poles)
    magnitude = 2.0 * jnp.sum(jnp.abs(gap_terms)) + jnp.sum(jnp.abs(coll_weights))
    value = total.real
    rounding = _rounding_bound(c, poles, magnitude, terms_bounded)
    error = (jnp.abs(total.imag) + rounding + sum_rule_error * jnp.abs(value)
             + jnp.sum(poles.collective_error) + extra_error)
    error = jnp.where(jnp.isfinite(error), error, jnp.inf)
    # (Aberth's own stopping test is not required: its zeros are refined by Newton steps,
    # whose last size enters collective_error, and near-degenerate pairs, where Aberth
    # stalls, enter through their contour integral.)
    converged = (jnp.all(poles.gap_ok | ~poles.gap_valid)
                 & (sum_rule_error < 1e-8) & jnp.isfinite(value)
                 & (error <= CONVERGED_RTOL * jnp.abs(value)))
    value = jnp.where(c.coupled, value, 0.0)
    error = jnp.where(c.coupled, error, 0.0)
    converged = converged | ~c.coupled
    dt = chain.t_left - chain.t_right
    return ResidueResult(value * dt, error * jnp.abs(dt), converged,
                         ChainFluxDiagnostics(sum_rule_error, coll, poles.gap_iterations,
                                              poles.collective_iterations))


def flux_by_residues(chain, n=None):
    """J (ΔT included), error estimate and status for a MeanFieldChain. O(N²) time.

    Differentiable (forward and reverse mode) with respect to every parameter: the zeros
    are located on gradient-stopped inputs and then take one Newton step on the live
    inputs, which carries the implicit-function derivative. ``n``: the true N of a chain
    padded to a size bucket (``_buckets``; the padding is inert); default chain.n.
    """
    c = PoleChain.from_chain(chain, n)
    return flux_from_poles(chain, _poles_of(c), c=c)


def temperature_weights(c: PoleChain, t_left, t_right, omega):
    """T_L (a_N² + γ²ω²) + T_R (a_1² + γ²ω²): the bath factor of each pole's T_n term."""
    a1 = c.kappa_end - c.m1 * omega**2
    an = c.kappa_end - c.mn * omega**2
    g2 = c.gamma**2 * omega**2
    return t_left * (an**2 + g2) + t_right * (a1**2 + g2)


def collective_factors(chain, c: PoleChain, poles: ChainPoles):
    """(nodes, factors) of the collective quadrature rule in T_n's sum (origin 0)."""
    nodes = jnp.ravel(poles.collective_nodes)
    bath = temperature_weights(c, chain.t_left, chain.t_right, nodes)
    # mirror-symmetric ends: at a zero (not a circle node) the smooth form of the factor
    at_zero = jnp.ravel(jnp.broadcast_to(~poles.collective_clustered[:, None],
                                         poles.collective_nodes.shape))
    mirror = mirror_symmetric(c) & at_zero
    safe = jnp.where(mirror, nodes, 1.0j)
    smooth, use = jax.vmap(lambda z: mirror_end_weight(c, z))(safe)
    bath = jnp.where(mirror & use, (chain.t_left + chain.t_right) * smooth, bath)
    factors = jnp.ravel(poles.collective_weights) / chain.gamma * bath
    return nodes, factors


def bulk_temperature_sums(chain, c: PoleChain, poles: ChainPoles, origins, taus, factors):
    """Per bulk particle: (Σ_p factor_p/(m_n (ω_n² − ω_p²)²) real part, the same sum of
    magnitudes, the collective zeros' error bound) over the poles ω_p = origin_p + τ_p given,
    by the direct O(N·P) loop (the pole distances formed from the exact offsets)."""
    bulk_m = chain.masses[1:-1]
    bulk_w = bulk_frequencies(c.kappa_bulk, bulk_m)
    coll = jnp.where(poles.collective_mask, poles.collective, 1.0)
    coll_error = jnp.where(poles.collective_mask, poles.collective_error, 0.0)
    coll_scale = jnp.abs(temperature_weights(c, chain.t_left, chain.t_right, coll)) / chain.gamma

    def one_particle(args):
        m_n, w_n, real = args
        alpha = m_n * ((w_n - origins) - taus) * (w_n + origins + taus)
        skip = (factors == 0) | ~real  # padded particles: no term (double where)
        contrib = jnp.where(skip, 0.0, factors / jnp.where(skip, 1.0, alpha**2))
        value = m_n * jnp.sum(contrib).real
        size = m_n * jnp.sum(jnp.abs(contrib))
        # the collective zeros' error bound, carried by the same factor
        alpha_c = jnp.where(real, m_n * (w_n - coll) * (w_n + coll), 1.0)
        coll_err = jnp.where(real, m_n * jnp.sum(coll_error * coll_scale / jnp.abs(alpha_c) ** 2),
                             0.0)
        return value, size, coll_err

    if c.nb == 0:
        return jnp.zeros((0,)), jnp.zeros((0,)), jnp.zeros((0,))
    batch = batch_size(c.nb, taus.shape[0], _CHUNK_ELEMENTS)
    return _config.map_in_batches(one_particle, (bulk_m, bulk_w, c.bulk_real), batch)


def temperatures_from_bulk(chain, c: PoleChain, flux: ResidueResult, bulk_t, bulk_err):
    """T_n as a ResidueResult (temperatures (N,), error_estimate (N,), converged) from the
    bulk particles' values and error bounds and the flux result: the end particles from the
    exact energy balance
    J = γ(T_L − T_1)/m_1 = γ(T_N − T_R)/m_N, k = 0 handled, the status formed."""
    t_l, t_r, gamma = chain.t_left, chain.t_right, chain.gamma
    j = flux.value
    t1 = t_l - chain.masses[0] * j / gamma
    tn = t_r + chain.masses[-1] * j / gamma
    temps = jnp.concatenate([t1[None], bulk_t, tn[None]])
    end_err = flux.error_estimate * jnp.array([chain.masses[0], chain.masses[-1]]) / gamma
    err = jnp.concatenate([end_err[:1], bulk_err, end_err[1:]])
    # k = 0: nothing couples, every bulk particle stays at rest (particular solution)
    temps = jnp.where(c.coupled, temps, jnp.zeros(chain.n).at[0].set(t_l).at[-1].set(t_r))
    # converged: the flux is, and every T_n is within CONVERGED_RTOL of the bath scale
    scale = jnp.maximum(t_l, t_r)
    converged = (flux.converged & ~c.merged_unequal
                 & (~c.coupled | jnp.all(err <= CONVERGED_RTOL * scale)))
    return ResidueResult(temps, err, converged)


def temperatures_by_residues(chain, poles: ChainPoles | None = None, n=None):
    """Local temperatures T_n = m_n ⟨q̇_n²⟩ (Eq. 31) by residues. O(N²) time.

    For a bulk particle ω G_n1 = κ̄ A_N / (α_n Q), so Eq. (31) closes over the same poles
    as the flux:

        T_n = m_n Σ_p c_p [T_L (a_N² + γ²ω_p²) + T_R (a_1² + γ²ω_p²)] / α_n(ω_p)²,

    c_p = t_p/γ the flux residue factor. Near a gap pole α_n(ω_p) is formed from the exact
    offsets (ω_n − origin_p) − τ_p, so a bulk particle heated only through resonances of
    width 1e-10 and below still gets its exact temperature. The end particles follow from
    the exact energy balance J = γ(T_L − T_1)/m_1 = γ(T_N − T_R)/m_N.

    ``n``: the true N of a chain padded to a size bucket (``_buckets``); the padded
    particles' entries (between the bulk and particle N) are zero, with error 0.

    Returns a ResidueResult: temperatures (N,), error_estimate (N,), converged.
    """
    c = PoleChain.from_chain(chain, n)
    if poles is None:
        poles = _poles_of(c)
    flux = flux_from_poles(chain, poles, c=c)
    gap_omega = poles.gap_origin + poles.gap_tau
    gap_factor = jnp.where(poles.gap_valid, poles.gap_terms / chain.gamma
                           * temperature_weights(c, chain.t_left, chain.t_right, gap_omega), 0.0)
    coll_nodes, coll_factor = collective_factors(chain, c, poles)
    origins = jnp.concatenate([poles.gap_origin, jnp.zeros(coll_nodes.shape[0])])
    taus = jnp.concatenate([poles.gap_tau, coll_nodes])
    factors = jnp.concatenate([2.0 * gap_factor, coll_factor])
    # the gap terms stand for a pole and its mirror: 2 Re; collective terms: Re of the sum
    bulk_t, bulk_size, bulk_coll_err = bulk_temperature_sums(chain, c, poles, origins, taus,
                                                             factors)
    rounding = 16.0 * EPS * (c.n + 4) * bulk_size + bulk_coll_err
    return temperatures_from_bulk(chain, c, flux, bulk_t, rounding)
