"""Near-degenerate pairs of poles: their residue sum as a trapezoidal rule on a circle.

Where two poles of T(ω) come within a small fraction of their distance to every other pole
(strong damping with symmetric ends: the two end-localised overdamped modes, split only by
their coupling through the bulk), their residue terms are large and nearly cancel, and the
residue sum loses digits in proportion to 1/separation (and so does its error bound). The
sum of the two residues of the flux integrand is (1/2πi)∮ (i/2) T(z) dz over a circle around
the pair (J/ΔT = Re Σ_p t_p, t_p the residues of (i/2) T; module docs of ``_poles`` and
``_secular``). On a circle whose radius is the geometric mean of the pair's separation d and
its distance D to every other pole, T is of moderate size and the trapezoidal rule with M
points converges like (√(d/D))^M: M = 32 points, compared with the M/2-point rule for the
error. Used by the chain's residue solver (``_poles``) and the network secular solver
(``_secular``): the pole geometry and the rule live here, T(z) at the nodes in each solver.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401

__all__ = ["CANDIDATE_RATIO", "CIRCLE_POINTS", "CLUSTER_RATIO", "NearPairs", "circle_nodes", "circle_rule",
           "near_pairs"]

#: A mutual-nearest pair of poles is near-degenerate when its separation is below this
#: fraction of its distance to every other pole of T: its residue terms are then taken by
#: the circle rule, always.
CLUSTER_RATIO = 1e-2
#: Up to this fraction a pair is a candidate: the solver forms both its residue terms and
#: the circle rule, with their error bounds, and keeps the smaller bound (both are bounds;
#: a pair just above CLUSTER_RATIO has cancelling residues whose rounding bound is large,
#: one well above it a circle rule whose M/2-point estimate converges slowly).
CANDIDATE_RATIO = 1e-1
#: Nodes of the trapezoidal rule on the circle (the M/2-point rule gives its error).
CIRCLE_POINTS = 32
_NOISE = 8.0 * float(np.finfo(np.float64).eps)  # per summand of a running error bound


class NearPairs(NamedTuple):
    """Near-degenerate pairs among P poles (all (P,) arrays).

    clustered: the pole belongs to a pair (a candidate: separation below CANDIDATE_RATIO
    times d_other); strict: below CLUSTER_RATIO (the circle rule is then always used); lead:
    the pair's first pole (its row carries the circle rule), follower: the second (its term
    is dropped where the rule is used); partner: the nearest other
    live pole; centre, radius: the circle of the pair (lead rows), and for every other row
    a circle around the pole alone that encloses no other pole (so that evaluating T on it
    gives no NaN that could reach gradients); d_near: the distance to the partner; d_other:
    the pair's distance to every other pole of T.
    """

    clustered: jax.Array
    strict: jax.Array
    lead: jax.Array
    follower: jax.Array
    partner: jax.Array
    centre: jax.Array
    radius: jax.Array
    d_near: jax.Array
    d_other: jax.Array


def near_pairs(z, live, other_poles, family=None) -> NearPairs:
    """The near-degenerate pairs among the poles ``z`` (P,) of T in the upper half plane
    that ``live`` marks. The other poles of T are the conjugates of the live ``z`` (T(ω) =
    T(−ω) has its mirror poles in the lower half plane) and ``other_poles`` (any further
    poles not in ``z``; may be empty). ``family`` (P,) bool, optional: poles of different
    families are zeros of different exact factors of T's denominator (a symmetry: their
    residues are each well conditioned) and never form a pair. Geometry only: call it on
    gradient-stopped poles. O(P² + P·len(other_poles))."""
    p = z.shape[0]
    diff = jnp.abs(z[:, None] - z[None, :])
    both_live = live[:, None] & live[None, :] & ~jnp.eye(p, dtype=bool)
    pair_ok = both_live if family is None else both_live & (family[:, None] == family[None, :])
    d_pair = jnp.where(pair_ok, diff, jnp.inf)
    partner = jnp.argmin(d_pair, axis=1)
    d_near = jnp.min(d_pair, axis=1)
    conj_dist = jnp.abs(z[:, None] - jnp.conj(z)[None, :])
    own = jnp.where(live[None, :], conj_dist, jnp.inf)
    d_ext = jnp.minimum(jnp.min(own, axis=1), jnp.min(jnp.abs(z[:, None] - other_poles[None, :]),
                                                      axis=1, initial=jnp.inf))
    # distance of the pair {i, partner} to everything else
    third = jnp.where(both_live & (jnp.arange(p)[None, :] != partner[:, None]), diff, jnp.inf)
    d_third = jnp.minimum(jnp.min(third, axis=1), jnp.min(third[partner], axis=1))
    d_other = jnp.minimum(jnp.minimum(d_ext, d_ext[partner]), d_third)
    mutual = partner[partner] == jnp.arange(p)
    clustered = live & mutual & (d_near < CANDIDATE_RATIO * d_other)
    strict = clustered & (d_near < CLUSTER_RATIO * d_other)
    lead = clustered & (jnp.arange(p) < partner)
    follower = clustered & ~lead
    centre = jnp.where(lead, 0.5 * (z + z[partner]), z)
    radius = jnp.where(lead, jnp.sqrt(d_near * jnp.where(jnp.isfinite(d_other), d_other,
                                                         1e3 * d_near)),
                       0.5 * jnp.minimum(jnp.min(jnp.where(both_live, diff, jnp.inf), axis=1),
                                         d_ext))
    radius = jnp.where(jnp.isfinite(radius) & (radius > 0), radius, 0.5 * jnp.abs(z) + 1.0)
    return NearPairs(clustered, strict, lead, follower, partner, centre, radius, d_near,
                     d_other)


def circle_nodes(pairs: NearPairs, m: int = CIRCLE_POINTS):
    """(nodes (P, m), unit (m,)): the m nodes centre + radius·e^{iθ_k}, θ_k = 2π(k + ½)/m,
    of every row's circle, and the unit vectors e^{iθ_k}."""
    theta = 2.0 * np.pi * (np.arange(m) + 0.5) / m
    unit = jnp.asarray(np.exp(1j * theta))
    return pairs.centre[:, None] + pairs.radius[:, None] * unit[None, :], unit


def circle_rule(t_values, t_rel, radius, unit):
    """The trapezoidal rule for (1/2πi)∮ (i/2) T(z) dz on each row's circle.

    Args:
      t_values: (P, M) T at the nodes (live: the weights carry the derivatives).
      t_rel: (P, M) a bound on the relative rounding noise of each value.
      radius: (P,); unit: (M,), as :func:`circle_nodes`.

    Returns:
      (weights (P, M): the rule is Σ_k weights[:, k]; error (P,): |M-point − M/2-point
      rule| plus the rounding noise of the values and of the sum, gradient-stopped).
    """
    m = unit.shape[0]
    w_c = 1j * radius[:, None] * unit[None, :] * t_values / (2.0 * m)
    half = 2.0 * jnp.sum(w_c[:, 1::2], axis=1)  # the M/2-point rule
    full = jnp.sum(w_c, axis=1)
    full, half, w_fixed = jax.lax.stop_gradient((full, half, w_c))
    error = (jnp.abs(full - half) + jnp.sum(jnp.abs(w_fixed) * t_rel, axis=1)
             + _NOISE * jnp.sum(jnp.abs(w_fixed), axis=1))
    return w_c, error


def circle_chosen(lead, strict, rule_error, pair_residue_error):
    """True where a pair's sum is taken by the circle rule: at a strict pair's lead always;
    at a candidate's lead where the rule's error bound is below the bound of its two
    residue terms together (both are bounds: the smaller is kept). The lead's follower then
    drops its term."""
    return lead & (strict | (rule_error < pair_residue_error))
