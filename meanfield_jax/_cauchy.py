"""Hierarchical 1-D Cauchy sums Σ w_j/(x − d_j) in O(N p): exact near field, proven far-field bound.

For N sorted real sources d_0 ≤ … ≤ d_{N−1} with (complex) weights w_j and M targets

    x_i = d[o_i] + τ_i        (o_i: a source index, τ_i: complex offset, full precision),

this module evaluates

    S(x)  = Σ_j w_j / (x − d_j),          S'(x) = −Σ_j w_j / (x − d_j)²,

their parts over the sources j < split_i (the pole solver's "left of the gap" derivative),
the magnitudes Σ|w_j|/|x − d_j| and Σ|w_j|/|x − d_j|², and an a-priori bound on the far-field
error of S and S' at every target.

Tree. The sources are cut by index into 2^L leaves of B points (B = ⌈N/2^L⌉ ∈ [leaf, 2·leaf);
the last leaves are padded with weight-0 points continuing the mean spacing), and leaves are
merged pairwise into a binary tree. A box has two intervals: its source hull [d_first,
d_last] (where its charges live) and its target cell (from the mid-gap to its left
neighbour to the mid-gap to its right one; the cells of one level partition the line).
A target belongs to the leaf of its origin index o_i. Its near field (the sources of its
leaf and of the two neighbouring leaves, 3B points) is summed exactly with pole distances
formed as (d_j − d[o_i]) − τ_i, so targets 1e-10 from a source (clustered poles, narrow
resonances) keep full relative precision. Every other source is in the interaction list of
exactly one ancestor box T of the target's leaf (1-D binary tree: the children of T's
parent's neighbours that are not T's neighbours, ≤ 3 boxes S, each separated from T by at
least one box of T's level).

Far field (Chebyshev / black-box FMM, Fong & Darve 2009, in 1-D). With p first-kind
Chebyshev nodes per box: upward pass — leaf charges W_k = Σ_j w_j L_k(d_j) on the source
hull (anterpolation), parent charges from children by the same Lagrange basis (M2M);
interaction — values Σ_k W_k/(x_l − y_k) at the target-cell nodes x_l of T for each S in
T's list (M2L, p×p per pair); downward pass — parents' local polynomials evaluated at the
children's nodes (L2L); at a target, the leaf's local polynomials (S, and S' from its own
channels). Both M2M and L2L reproduce polynomials of degree < p exactly, so the
far field of a pair (T, S) is exactly the tensor interpolant I_x^T I_y^S K of the kernel
K(x, y) = 1/(x − y) (x on T's cell, y on S's hull). Cost: O(N(3B + p)) for the near field,
anterpolation and evaluation, O(p²·N/B) for M2M/M2L/L2L; memory O(N + p²·batch). With the
defaults (p = 44, B ∈ [48, 96)) that is O(N) with a constant of a few hundred flops per target.

Error bound (exact arithmetic). For f(x) = 1/(x − y) interpolated at the p nodes of an
interval mapped to [−1, 1], Hermite's formula gives the error exactly:
f − I f = ω(x)/(ω(y)(x − y)), ω ∝ T_p, so |f − If|/|f| = |T_p(t_x)/T_p(t_y)| (t: normalised
coordinates). Writing K − I_x I_y K = (K − I_x K) + I_x(K − I_y K) and using
|T_p(t)| ≤ ρ(t)^p (ρ(t) ≥ 1: the Bernstein ellipse through t, ρ = a + √(a² − 1),
a = (|t − 1| + |t + 1|)/2), |T_p(t)| ≥ ρ(t)^p/2 for real |t| ≥ 1, the Lebesgue constant
Λ_p ≤ (2/π) log p + 1 and Bernstein's inequality |q(t)| ≤ ρ(t)^{p−1} max_{[−1,1]}|q| for
polynomials of degree p − 1, the far-field error of one pair at a target x is at most

    E_TS(x) = A_S [ 2 ρ_x^p ρ_1^{−p} / dist(x, S)  +  2 Λ_p ρ_x^{p−1} ρ_2^{−p} / g ]

with A_S = Σ_{j∈S}|w_j|, g the gap between T's cell and S's hull, ρ_x = ρ(t_x) in T's cell
(1 for a real target inside the cell), ρ_1 = ρ(1 + g/r_T), ρ_2 = ρ(1 + g/r_S) (r: half
widths): the separation ratios. The bound returned is the sum of E_TS over the target's
pairs (O(log N) per target). Typical ratio: S is at least one box away, so g ≥ 2 r_T on a
uniform grid: ρ_1 ≥ 3 + √8 = 5.83 and 2ρ_1^{−44} ≈ 1e-33; graded points (box widths changing
by a factor R between neighbours at the coarse levels: R ≈ 2.4 for masses uniform in
[0.1, 1.9]) give ρ_1 = ρ(1 + 2/R) ≈ 3.4 at worst. Measured with p = 44 (tests, bench): the
bound is ≤ 2e-16·Σ|w_j|/|x − d_j| for those (δ = 0.9; N = 10³, 2e-17 at N ≥ 10⁴), ≤ 1e-21
for log-uniform masses (p = 40 gave up to 1.6e-15, hence 44), and it says so when a point
set is worse.

S' is interpolated as such (kernel −1/(x − y)², its own M2L/L2L channels; differentiating
S's polynomial would amplify rounding by p²/r). Hermite's formula for the double pole,
f − I f = (ω(x)/ω(y)) (x − y)^{−2} [1 + (y − x) ω'(y)/ω(y)] with |ω'/ω| ≤ p/dist, gives

    E'_TS(x) = A_S [ 2 ρ_x^p ρ_1^{−p} (1/dist(x, S) + p/g) / dist(x, S)
                     + 2 Λ_p ρ_x^{p−1} ρ_2^{−p} (1 + p) / g² ].

Rounding is not part of that bound; ``error`` adds an allowance (32 + 16L) ε_mach × the
magnitude (``rounding_allowance``; the direct sum has a rounding error of the same kind,
16 ε allowed there), with the far part multiplied by ρ_x^(p−1) in the leaf's cell (the
growth of T_q off the interval, which amplifies the rounding of the leaf coefficients;
1 for real targets in their cell).

Differentiation: the tree geometry (intervals, nodes) is gradient-stopped; the result is
differentiable in the weights, the sources (through the near field and the anterpolation)
and the offsets τ (forward mode tested; reverse mode goes through lax.map and is untested).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config
from ._solver_base import (
    EPS,
    bernstein_log_rho,
    bernstein_rho,
    chebyshev_nodes,
    chebyshev_vander,
    chebyshev_vector,
    lagrange_at,
    lagrange_coefficients,
    lebesgue_bound,
    power,
)

DEFAULT_DEGREE = 44  # Chebyshev nodes per box (p)
DEFAULT_LEAF = 48  # minimum sources per leaf (leaves hold B ∈ [leaf, 2·leaf))


def rounding_allowance(levels: int) -> float:
    """Rounding allowance per unit magnitude: (32 + 16 L) ε for a tree of L levels (empirical:
    anterpolation, M2L and L levels of L2L each add O(Λ_p ε) of the far magnitude; measured
    up to 58 ε at L = 5 (log-uniform points, all weights 1), ≤ 8 ε for S')."""
    return (32.0 + 16.0 * levels) * EPS


_TARGET_BATCH = 512  # targets per chunk (memory O(batch·(3B + p)))
_BOX_BATCH = 256  # boxes per M2L chunk (memory O(batch·p²))


class CauchySums(NamedTuple):
    """Result of :func:`cauchy_sums` (every field has the targets' shape (M,))."""

    value: jax.Array  # S(x) = Σ w_j/(x − d_j)
    value_left: jax.Array  # the part of S over j < split
    derivative: jax.Array  # S'(x) = −Σ w_j/(x − d_j)²
    derivative_left: jax.Array  # the part of S' over j < split
    magnitude: jax.Array  # Σ |w_j|/|x − d_j| (far part at Re x: an upper estimate)
    magnitude_derivative: jax.Array  # Σ |w_j|/|x − d_j|² (same)
    error: jax.Array  # bound on |S error|: far-field truncation bound + rounding allowance
    derivative_error: jax.Array  # the same for S'


class TreeShape(NamedTuple):
    """Static shape of the tree for N sources: ``levels`` L, ``n_leaves`` = 2^L, ``leaf_size``
    B. The far field is used only when L ≥ 2 (otherwise the near field is every source)."""

    levels: int
    n_leaves: int
    leaf_size: int


def tree_shape(n: int, leaf: int = DEFAULT_LEAF) -> TreeShape:
    """Tree for ``n`` sources: the largest L with n/2^L ≥ leaf, B = ⌈n/2^L⌉ ∈ [leaf, 2 leaf)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    levels = max(0, int(math.floor(math.log2(n / leaf)))) if n >= leaf else 0
    while levels > 0 and n / 2**levels < leaf:  # guard float log2 rounding
        levels -= 1
    n_leaves = 2**levels
    return TreeShape(levels, n_leaves, -(-n // n_leaves))


# ------------------------------------------------------------------------------ geometry


class _Geometry(NamedTuple):
    dpad: jax.Array  # (n_leaves·B,) sources, padded on the right with the mean spacing
    spacing: jax.Array
    hull_c: list  # per level ℓ = 0..L: centre / half width of the source hulls
    hull_r: list
    cell_c: list  # per level: centre / half width of the target cells
    cell_r: list
    abs_w: list  # per level: Σ|w| of each box


def _geometry(d, w_abs, shape: TreeShape):
    levels, n_leaves, b = shape
    n = d.shape[0]
    n_pad = n_leaves * b - n
    span = d[-1] - d[0]
    spacing = jnp.where(span > 0, span / max(n - 1, 1), jnp.maximum(jnp.abs(d[0]), 1.0))
    dpad = jnp.concatenate([d, d[-1] + spacing * jnp.arange(1, n_pad + 1)])
    apad = jnp.concatenate([w_abs, jnp.zeros(n_pad)])
    lo = dpad[::b]
    hi = dpad[b - 1::b]
    mid = 0.5 * (hi[:-1] + lo[1:])
    cell_lo = jnp.concatenate([lo[:1] - 0.5 * spacing, mid])
    cell_hi = jnp.concatenate([mid, hi[-1:] + 0.5 * spacing])
    floor = 4.0 * EPS * jnp.max(jnp.abs(dpad)) + 1e-300
    leaf_abs = apad.reshape(n_leaves, b).sum(axis=1)
    hull_c, hull_r, cell_c, cell_r, abs_w = [], [], [], [], []
    for level in range(levels + 1):
        k = 2 ** (levels - level)
        hl, hh = lo[::k], hi[k - 1::k]
        cl, ch = cell_lo[::k], cell_hi[k - 1::k]
        hull_c.append(0.5 * (hl + hh))
        hull_r.append(jnp.maximum(0.5 * (hh - hl), floor))
        cell_c.append(0.5 * (cl + ch))
        cell_r.append(jnp.maximum(0.5 * (ch - cl), floor))
        abs_w.append(leaf_abs.reshape(-1, k).sum(axis=1))
    return _Geometry(dpad, spacing, hull_c, hull_r, cell_c, cell_r, abs_w)


# Interaction list of box b at a level: b + offset for offset in _OFFSETS, where −3 is used
# only for odd b and +3 only for even b (children of the parent's neighbours that are not
# b's neighbours).
_OFFSETS = (-3, -2, 2, 3)


def _interaction(b, offset, n_boxes):
    s = b + offset
    ok = (s >= 0) & (s < n_boxes)
    if offset == -3:
        ok = ok & (b % 2 == 1)
    if offset == 3:
        ok = ok & (b % 2 == 0)
    return jnp.clip(s, 0, n_boxes - 1), ok


# -------------------------------------------------------------------------------- far field


def _far_field(geo: _Geometry, charges, shape: TreeShape, p: int):
    """Chebyshev coefficients of the leaves' local polynomials, (n_leaves, 4, C, p): rows
    [S from the left, S from the right, S' left, S' right] (S' interpolated as such, not
    by differentiating S's polynomial: no p²/r amplification of rounding), for real charge
    channels ``charges`` (n, C) at the real sources ``geo.dpad``; left/right: sources left /
    right of the box."""
    levels, n_leaves, b = shape
    n_ch = charges.shape[1]
    n = charges.shape[0]
    cpad = jnp.concatenate([charges, jnp.zeros((n_leaves * b - n, n_ch))])
    cmat = jnp.asarray(lagrange_coefficients(p))

    # upward: leaf moments μ_q = Σ_j c_j T_q(s_j), charges W_k = Σ_q C[k, q] μ_q
    s = (geo.dpad - jnp.repeat(geo.hull_c[levels], b)) / jnp.repeat(geo.hull_r[levels], b)
    cres = cpad.reshape(n_leaves, b, n_ch)
    sres = s.reshape(n_leaves, b)

    def moment(carry, _):
        t0, t1 = carry
        return (t1, 2.0 * sres * t1 - t0), jnp.einsum("lb,lbc->lc", t0, cres)

    _, mu = jax.lax.scan(moment, (jnp.ones_like(sres), sres), None, length=p)  # (p, L, C)
    return _tree_passes(geo, jnp.einsum("kq,qlc->lkc", cmat, mu), shape, p)


def _tree_passes(geo: _Geometry, leaf_charges, shape: TreeShape, p: int):
    """From the leaves' charges at their hulls' nodes (n_leaves, p, C): M2M up to level 2,
    M2L over the interaction lists, L2L down to the leaves; the leaves' local polynomials
    as Chebyshev coefficients (n_leaves, 4, C, p), rows as :func:`_far_field`'s. Uses only
    ``geo``'s hulls and cells (any source intervals that nest level to level)."""
    levels = shape.levels
    n_ch = leaf_charges.shape[2]
    t_nodes = jnp.asarray(chebyshev_nodes(p))
    cmat = jnp.asarray(lagrange_coefficients(p))
    charges_at = {levels: leaf_charges}  # (n_leaves, p, C)
    for level in range(levels - 1, 1, -1):
        child = charges_at[level + 1]
        n_par = child.shape[0] // 2
        cc = geo.hull_c[level + 1].reshape(n_par, 2)
        cr = geo.hull_r[level + 1].reshape(n_par, 2)
        pc, pr = geo.hull_c[level][:, None, None], geo.hull_r[level][:, None, None]
        sc = (cc[:, :, None] + cr[:, :, None] * t_nodes - pc) / pr  # (n_par, 2, p_child)
        lag = lagrange_at(sc, p)  # (n_par, 2, p_child, p_parent)
        charges_at[level] = jnp.einsum("ekm,ekc->emc", lag.reshape(n_par, 2 * p, p),
                                       child.reshape(n_par, 2 * p, n_ch))

    # interaction lists, all levels ≥ 2 in one flat pass (one program, not one per level)
    lv = range(2, levels + 1)
    starts = np.cumsum([0] + [2**level for level in lv])
    level_of = np.concatenate([np.full(2**level, level) for level in lv])
    box_of = np.concatenate([np.arange(2**level) for level in lv])
    flat = {name: jnp.concatenate([getattr(geo, name)[level] for level in lv])
            for name in ("hull_c", "hull_r", "cell_c", "cell_r")}
    charges_flat = jnp.concatenate([charges_at[level] for level in lv])  # (boxes, p, C)
    start_of = jnp.asarray(starts[level_of - 2])
    n_boxes_of = jnp.asarray(2**level_of)

    def m2l(row):
        # values of S (kernel 1/(x − y)) and of S' (kernel −1/(x − y)²) at T's nodes, from
        # the sources left and right of T: rows [S left, S right, S' left, S' right]
        box, start, n_boxes = jnp.asarray(box_of)[row], start_of[row], n_boxes_of[row]
        x = flat["cell_c"][row] + flat["cell_r"][row] * t_nodes  # (p,) target nodes
        out = [jnp.zeros((p, n_ch)) for _ in range(4)]
        for offset in _OFFSETS:
            src, ok = _interaction(box, offset, n_boxes)
            y = flat["hull_c"][start + src] + flat["hull_r"][start + src] * t_nodes
            diff = x[:, None] - y[None, :]
            kern = jnp.where(ok, 1.0 / jnp.where(ok, diff, 1.0), 0.0)
            side = 0 if offset < 0 else 1
            w_src = charges_flat[start + src]
            out[side] = out[side] + kern @ w_src
            out[2 + side] = out[2 + side] - (kern * kern) @ w_src
        return jnp.stack(out)  # (4, p, C)

    n_rows = int(starts[-1])
    m2l_values = _config.map_in_batches(m2l, jnp.arange(n_rows), min(n_rows, _BOX_BATCH))

    # downward pass (L2L): the parents' polynomials at the children's nodes
    local = m2l_values[: starts[1]]
    for i, level in enumerate(lv[1:], start=1):
        n_boxes = 2**level
        n_par = n_boxes // 2
        ccl = geo.cell_c[level].reshape(n_par, 2)
        crl = geo.cell_r[level].reshape(n_par, 2)
        pc = geo.cell_c[level - 1][:, None, None]
        pr = geo.cell_r[level - 1][:, None, None]
        sc = (ccl[:, :, None] + crl[:, :, None] * t_nodes - pc) / pr  # (n_par, 2, p)
        lag = lagrange_at(sc, p)  # (n_par, 2, p_child, p_parent)
        down = jnp.einsum("eckm,esmh->ecskh", lag, local)  # (n_par, 2, 4, p, C)
        local = m2l_values[starts[i]:starts[i + 1]] + down.reshape(n_boxes, 4, p, n_ch)
    # values at nodes → Chebyshev coefficients
    return jnp.einsum("kq,lskc->lscq", cmat, local)


# --------------------------------------------------------------------------------- bound


class _BoundTable(NamedTuple):
    """Per (level ≥ 2, box, interaction offset), flattened over levels: the target-independent
    factors of E_TS (module docstring) and the source hull, for the per-target bound."""

    k1: jax.Array  # (boxes, 4) 2 A_S ρ_1^{−p}
    k2: jax.Array  # (boxes, 4) 2 Λ_p A_S ρ_2^{−p} / g
    lo: jax.Array  # (boxes, 4) source hull
    hi: jax.Array
    bad: jax.Array  # (boxes, 4) a live pair with no gap: bound infinite
    gap: jax.Array  # (boxes, 4) g (1 where not live)
    cell_c: jax.Array  # (boxes,) target cell
    cell_r: jax.Array


def _bound_table(geo: _Geometry, shape: TreeShape, p: int) -> _BoundTable:
    lam = lebesgue_bound(p)
    rows = {name: [] for name in ("k1", "k2", "lo", "hi", "bad", "gap", "cc", "cr")}
    for level in range(2, shape.levels + 1):
        n_boxes = 2**level
        box = jnp.arange(n_boxes)
        tc, tr = geo.cell_c[level], geo.cell_r[level]
        cols = {name: [] for name in rows}
        for offset in _OFFSETS:
            src, ok = _interaction(box, offset, n_boxes)
            hc, hr = geo.hull_c[level][src], geo.hull_r[level][src]
            a_s = geo.abs_w[level][src]
            gap = jnp.maximum(jnp.abs(hc - tc) - hr - tr, 0.0)
            ok = ok & (a_s > 0)
            bad = ok & (gap <= 0)
            gap_safe = jnp.where(ok & (gap > 0), gap, 1.0)
            log_rho1 = bernstein_log_rho(1.0 + gap_safe / tr)
            log_rho2 = bernstein_log_rho(1.0 + gap_safe / hr)
            cols["k1"].append(jnp.where(ok, 2.0 * a_s * jnp.exp(-p * log_rho1), 0.0))
            cols["k2"].append(jnp.where(ok, 2.0 * lam * a_s * jnp.exp(-p * log_rho2) / gap_safe,
                                        0.0))
            cols["lo"].append(hc - hr)
            cols["hi"].append(hc + hr)
            cols["bad"].append(bad)
            cols["gap"].append(gap_safe)
        for name in ("k1", "k2", "lo", "hi", "bad", "gap"):
            rows[name].append(jnp.stack(cols[name], axis=1))
        rows["cc"].append(tc)
        rows["cr"].append(tr)
    cat = {name: jnp.concatenate(v) for name, v in rows.items()}
    return _BoundTable(cat["k1"], cat["k2"], cat["lo"], cat["hi"], cat["bad"], cat["gap"],
                       cat["cc"], cat["cr"])


def _bound_terms(table: _BoundTable, shape: TreeShape, p: int, leaf_index, x):
    """Far-field truncation bounds (value, derivative) at target x (complex) in leaf
    ``leaf_index``: Σ over the target's ancestors T and their interaction lists of E_TS, and
    its Cauchy estimate for the derivative (module docstring). O(log N), no log/exp."""
    levels = np.arange(2, shape.levels + 1)
    offsets = np.cumsum([0] + [2**level for level in levels])[:-1]
    rows = jnp.asarray(offsets) + (leaf_index >> jnp.asarray(shape.levels - levels))
    tc, tr = table.cell_c[rows], table.cell_r[rows]  # (levels,)
    xr, xi = x.real, x.imag
    ur, ui = (xr - tc) / tr, xi / tr  # t_x
    a_x = 0.5 * (jnp.sqrt((ur - 1.0) ** 2 + ui * ui) + jnp.sqrt((ur + 1.0) ** 2 + ui * ui))
    k1, k2 = table.k1[rows], table.k2[rows]  # (levels, 4)
    nearest = jnp.clip(xr, table.lo[rows], table.hi[rows])
    dist = jnp.sqrt((xr - nearest) ** 2 + xi * xi)
    live = k1 + k2 > 0
    dist_safe = jnp.where(live & (dist > 0), dist, 1.0)
    rho = bernstein_rho(a_x)
    rho_p1 = power(rho, p - 1)
    bound = (k1 * (rho_p1 * rho)[:, None] / dist_safe + k2 * rho_p1[:, None])
    # S' (kernel 1/(x − y)², Hermite's formula for a double pole: the extra factor
    # 1 + (y − x) ω'(y)/ω(y), |ω'/ω| ≤ p/dist)
    gap = table.gap[rows]
    dbound = (k1 * (rho_p1 * rho)[:, None] * (1.0 / dist_safe + p / gap) / dist_safe
              + k2 * rho_p1[:, None] * (1.0 + p) / gap)
    bad = table.bad[rows] | (live & (dist <= 0))
    bound = jnp.sum(jnp.where(bad, jnp.inf, jnp.where(live, bound, 0.0)))
    dbound = jnp.sum(jnp.where(bad, jnp.inf, jnp.where(live, dbound, 0.0)))
    # evaluating the leaf's series off its interval amplifies the rounding of its
    # coefficients by max_q |T_q(t_x)| ≤ ρ_x^(p−1) (1 for a real target inside the cell)
    return bound, dbound, rho_p1[-1]


# ---------------------------------------------------------------------------- evaluation


class CauchyTree(NamedTuple):
    """The sources' side, built once (O(N p + p² N/B)) and evaluated at any number of target
    sets (O(3B + p + log N) per target): the secular iteration's every step reuses it."""

    d: jax.Array  # (N,) sources
    dwin: jax.Array  # near-field windows: sources padded by B on either side
    wwin_r: jax.Array
    wwin_i: jax.Array
    awin: jax.Array
    cell_c: jax.Array  # (n_leaves,) leaf target cells
    cell_r: jax.Array
    coef: jax.Array  # (n_leaves, 12, p) local series (empty when L < 2)
    table: _BoundTable | None


def _build(d, weights, p, leaf) -> CauchyTree:
    n = d.shape[0]
    shape = tree_shape(n, leaf)
    levels, n_leaves, b = shape
    weights = jnp.asarray(weights).astype(jnp.complex128)
    w_abs = jax.lax.stop_gradient(jnp.abs(weights))
    geo = _geometry(d, w_abs, shape)
    geo_fixed = jax.tree_util.tree_map(jax.lax.stop_gradient, geo)
    geo = geo_fixed._replace(dpad=geo.dpad)  # sources keep their derivative (anterpolation)
    if levels >= 2:
        charges = jnp.stack([weights.real, weights.imag, w_abs], axis=1)
        # (n_leaves, 12, p): rows [value, derivative] × [left, right] × [Re w, Im w, |w|]
        coef = _far_field(geo, charges, shape, p).reshape(n_leaves, 12, p)
        table = _bound_table(geo_fixed, shape, p)
    else:
        coef, table = jnp.zeros((n_leaves, 12, 0)), None
    # near-field window: B weight-0 points on either side
    pad_left = geo.dpad[0] - geo.spacing * jnp.arange(b, 0, -1)
    pad_right = geo.dpad[-1] + geo.spacing * jnp.arange(1, b + 1)
    dwin = jnp.concatenate([pad_left, geo.dpad, pad_right])
    wwin_r, wwin_i = (jnp.concatenate([jnp.zeros(b), part, jnp.zeros(n_leaves * b - n + b)])
                      for part in (weights.real, weights.imag))
    awin = jnp.concatenate([jnp.zeros(b), w_abs, jnp.zeros(n_leaves * b - n + b)])
    return CauchyTree(d, dwin, wwin_r, wwin_i, awin, geo.cell_c[levels], geo.cell_r[levels],
                      coef, table)


def _evaluate(tree: CauchyTree, origin, tau, split, p, leaf) -> CauchySums:
    """The sums of :func:`cauchy_sums` at the M targets x_i = d[origin_i] + τ_i from a built
    ``tree``: per target (in batches of _TARGET_BATCH), the near field of its leaf and the
    two neighbouring ones on exact pole distances (d_j − d[o]) − τ in real arithmetic, plus
    the leaf's local polynomials (S, S', the left part and the magnitudes) and the far-field
    truncation bound of its ancestors' interaction lists (:func:`_bound_terms`); the error
    adds the rounding allowance (:func:`rounding_allowance`) of the magnitude. Returns
    :class:`CauchySums`. O(M(3B + p + log N)) time."""
    d, dwin, wwin_r, wwin_i, awin = tree.d, tree.dwin, tree.wwin_r, tree.wwin_i, tree.awin
    coef, table = tree.coef, tree.table
    shape = tree_shape(d.shape[0], leaf)
    levels, n_leaves, b = shape
    use_far = levels >= 2
    tau = jnp.asarray(tau).astype(jnp.complex128)
    origin = jnp.asarray(origin).astype(jnp.int32)
    split = origin if split is None else jnp.asarray(split).astype(jnp.int32)

    def one(args):
        # real arithmetic throughout: this is the per-target hot loop
        o, t, sp = args
        lf = o // b
        d_o = d[o]
        dd = jax.lax.dynamic_slice(dwin, (lf * b,), (3 * b,))
        wr = jax.lax.dynamic_slice(wwin_r, (lf * b,), (3 * b,))
        wi = jax.lax.dynamic_slice(wwin_i, (lf * b,), (3 * b,))
        aa = jax.lax.dynamic_slice(awin, (lf * b,), (3 * b,))
        index = (lf - 1) * b + jnp.arange(3 * b)
        dr = (dd - d_o) - t.real  # d_j − x = dr + i di: exact pole distances
        di = -t.imag
        q = dr * dr + di * di
        live = (aa > 0) & (q > 0)
        q_inv = jnp.where(live, 1.0 / jnp.where(live, q, 1.0), 0.0)
        inv_r, inv_i = dr * q_inv, -di * q_inv  # 1/(d_j − x)
        sq_r, sq_i = inv_r * inv_r - inv_i * inv_i, 2.0 * inv_r * inv_i
        val_r, val_i = -(wr * inv_r - wi * inv_i), -(wr * inv_i + wi * inv_r)
        der_r, der_i = -(wr * sq_r - wi * sq_i), -(wr * sq_i + wi * sq_r)
        left = index < sp
        parts = jnp.stack([val_r, val_i, der_r, der_i])
        total = jnp.sum(parts, axis=1)
        left_sum = jnp.sum(jnp.where(left, parts, 0.0), axis=1)
        near = jnp.stack([total[0] + 1j * total[1], left_sum[0] + 1j * left_sum[1],
                          total[2] + 1j * total[3], left_sum[2] + 1j * left_sum[3]])
        mag = jnp.sum(aa * jnp.sqrt(q_inv))
        mag2 = jnp.sum(aa * q_inv)
        if not use_far:
            zero = jnp.zeros(())
            return near, mag, mag2, zero, zero
        c_leaf, r_leaf = tree.cell_c[lf], tree.cell_r[lf]
        tr_ = ((d_o - c_leaf) + t.real) / r_leaf
        ti_ = t.imag / r_leaf
        cheb_r, cheb_i = chebyshev_vector(tr_, ti_, p)
        cheb_m, _ = chebyshev_vector(tr_, jnp.zeros(()), p)
        cf = coef[lf].reshape(2, 2, 3, p)  # [value, derivative], side, channel, q
        pr = cf[:, :, :2] @ cheb_r  # (v/d, side, channel [Re w, Im w]): Re of P(t)
        pi = cf[:, :, :2] @ cheb_i
        side = (pr[..., 0] - pi[..., 1]) + 1j * (pi[..., 0] + pr[..., 1])  # (v/d, side)
        far = jnp.stack([side[0, 0] + side[0, 1], side[0, 0], side[1, 0] + side[1, 1],
                         side[1, 0]])
        poly_m = cf[:, :, 2] @ cheb_m  # (v/d, side)
        vm, dvm = poly_m[0], poly_m[1]
        bound, dbound, growth = _bound_terms(table, shape, p, lf, jax.lax.stop_gradient(d_o + t))
        mag_far, mag2_far = vm[0] - vm[1], -dvm[0] - dvm[1]
        allowance = rounding_allowance(levels) * (growth - 1.0)  # extra, beyond mag's own
        return (near + far, mag + mag_far, mag2 + mag2_far, bound + allowance * mag_far,
                dbound + allowance * mag2_far)

    m = origin.shape[0]
    sums, mag, mag2, bound, dbound = _config.map_in_batches(one, (origin, tau, split),
                                                            max(1, min(m, _TARGET_BATCH)))
    mag = jax.lax.stop_gradient(mag)
    mag2 = jax.lax.stop_gradient(mag2)
    return CauchySums(sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3], mag, mag2,
                      bound + rounding_allowance(levels) * mag,
                      dbound + rounding_allowance(levels) * mag2)


def _cauchy_sums(d, weights, origin, tau, split, p, leaf):
    return _evaluate(_build(d, weights, p, leaf), origin, tau, split, p, leaf)


_cauchy_sums_jit = _config.jit(_cauchy_sums, static_argnames=("p", "leaf"))
build_tree = _config.jit(_build, static_argnames=("p", "leaf"))
build_tree.__doc__ = """build_tree(d, weights, p=DEFAULT_DEGREE, leaf=DEFAULT_LEAF) -> CauchyTree:
the sources' side of :func:`cauchy_sums` (jitted; p and leaf static, by keyword)."""
evaluate_tree = _config.jit(_evaluate, static_argnames=("p", "leaf"))
evaluate_tree.__doc__ = """evaluate_tree(tree, origin, tau, split, p=..., leaf=...) -> CauchySums:
:func:`cauchy_sums` at a new set of targets from a built tree (same p and leaf)."""


def cauchy_sums(d, weights, origin, tau, split=None, *, p: int = DEFAULT_DEGREE,
                leaf: int = DEFAULT_LEAF) -> CauchySums:
    """S(x_i) = Σ_j w_j/(x_i − d_j), S', their parts over j < split_i, magnitudes and error
    bounds at x_i = d[origin_i] + τ_i, hierarchically (module docstring). O(N(3B + p) +
    M(3B + p + 4p·log N)) time, O(N + M) memory; compiles once per (N, M).

    Args:
      d: (N,) sources, sorted ascending (float64). Equal values allowed.
      weights: (N,) real or complex weights.
      origin: (M,) int, index of a source near each target (the near field is the origin's
        leaf and its two neighbours: a target should lie within a few gaps of d[origin];
        farther targets are still right, with a larger error bound).
      tau: (M,) complex offsets; near-field distances are formed as (d_j − d[origin]) − τ.
      split: (M,) int or None (= origin): ``value_left``/``derivative_left`` sum j < split.
        Must lie within the origin's leaf or its neighbours (|split − origin| ≤ B is safe).
      p: Chebyshev nodes per box (static). leaf: minimum leaf size (static).

    Returns:
      CauchySums. ``error``/``derivative_error``: the a-priori far-field truncation bound
      plus (32 + 16 L) ε times the magnitude (:func:`rounding_allowance`, L the tree's
      levels; with the far part grown by ρ_x^(p−1) off the real axis).

    >>> import jax.numpy as jnp
    >>> r = cauchy_sums(jnp.array([1.0, 2.0, 3.0]), jnp.ones(3), jnp.array([0]),
    ...                 jnp.array([0.5 + 0j]))
    >>> round(float(r.value.real[0]), 12)  # 1/0.5 + 1/(-0.5) + 1/(-1.5)
    -0.666666666667
    """
    d = jnp.asarray(d, jnp.float64)
    return _cauchy_sums_jit(d, jnp.asarray(weights), jnp.asarray(origin), jnp.asarray(tau),
                            None if split is None else jnp.asarray(split), p=p, leaf=leaf)


def direct_cauchy_sums(d, weights, origin, tau, split=None) -> CauchySums:
    """The same sums by the direct O(N·M) loop (exact differences for every source); error
    fields are the rounding allowance only. Reference method and small-N path."""
    d = jnp.asarray(d, jnp.float64)
    weights = jnp.asarray(weights).astype(jnp.complex128)
    origin = jnp.asarray(origin)
    tau = jnp.asarray(tau).astype(jnp.complex128)
    split = origin if split is None else jnp.asarray(split)
    index = jnp.arange(d.shape[0])

    def one(args):
        o, t, sp = args
        inv = 1.0 / ((d - d[o]) - t)
        val, der = -weights * inv, -weights * inv * inv
        left = index < sp
        mag = jnp.sum(jnp.abs(weights) * jnp.abs(inv))
        mag2 = jnp.sum(jnp.abs(weights) * jnp.abs(inv) ** 2)
        return (jnp.sum(val), jnp.sum(jnp.where(left, val, 0.0)), jnp.sum(der),
                jnp.sum(jnp.where(left, der, 0.0)), mag, mag2)

    out = _config.map_in_batches(one, (origin, tau, split), 64)
    allowance = rounding_allowance(0)
    return CauchySums(*out, allowance * out[4], allowance * out[5])


# ------------------------------------------------ double-pole sums at the sources (transposed)


class DoublePoleSums(NamedTuple):
    """Result of :func:`double_pole_sums` (leading shape: the N targets)."""

    value: jax.Array  # U(x_n) = Σ_j F_j/(x_n − y_j)²
    magnitude: jax.Array  # Σ_j |F_j|/|x_n − y_j|² (far part with the sources at Re y_j)
    positive: jax.Array  # (N, C) Σ_j a_jc/|x_n − y_j|² (the same)
    positive_cubic: jax.Array  # (N, C) a bound on Σ_j a_jc/|x_n − y_j|³: exact near field,
    # far part ≤ (its Σ a/|x − y|²)/(distance to the nearest far source's interval)
    error: jax.Array  # bound on |U error|: far-field truncation bound + rounding allowance


def _pole_hulls(geo: _Geometry, shape: TreeShape):
    """Per level: centre / half width of the intervals [x_first(box), x_first(next box)]
    (the box's points and the whole gap to its right neighbour: where its sources live)."""
    levels, _, b = shape
    lo = geo.dpad[::b]
    hi = jnp.concatenate([geo.dpad[b::b], geo.dpad[-1:] + geo.spacing])
    floor = 4.0 * EPS * jnp.max(jnp.abs(geo.dpad)) + 1e-300
    centre, half = [], []
    for level in range(levels + 1):
        k = 2 ** (levels - level)
        hl, hh = lo[::k], hi[k - 1::k]
        centre.append(0.5 * (hl + hh))
        half.append(jnp.maximum(0.5 * (hh - hl), floor))
    return centre, half


def _transposed_bound(geo: _Geometry, hull_c, hull_r, abs_leaf, shape: TreeShape, p: int):
    """Far-field truncation bound per leaf (every real target in a leaf's cell gets the same):
    Σ over the leaf's ancestors T and their interaction lists S of
    A_S · 2(1 + p)(ρ(1 + g/r_S)^−p + Λ_p ρ(1 + g/r_T)^−p)/g² (module section below)."""
    levels, n_leaves, _ = shape
    lam = lebesgue_bound(p)
    total = jnp.zeros(n_leaves)
    for level in range(2, levels + 1):
        n_boxes = 2**level
        box = jnp.arange(n_boxes)
        tc, tr = geo.cell_c[level], geo.cell_r[level]
        a_level = abs_leaf.reshape(n_boxes, -1).sum(axis=1)
        per_box = jnp.zeros(n_boxes)
        for offset in _OFFSETS:
            src, ok = _interaction(box, offset, n_boxes)
            hc, hr = hull_c[level][src], hull_r[level][src]
            a_s = a_level[src]
            gap = jnp.maximum(jnp.abs(hc - tc) - hr - tr, 0.0)
            ok = ok & (a_s > 0)
            gap_safe = jnp.where(ok & (gap > 0), gap, 1.0)
            decay = (jnp.exp(-p * bernstein_log_rho(1.0 + gap_safe / hr))
                     + lam * jnp.exp(-p * bernstein_log_rho(1.0 + gap_safe / tr)))
            term = 2.0 * (1.0 + p) * a_s * decay / gap_safe**2
            per_box = per_box + jnp.where(ok & (gap <= 0), jnp.inf, jnp.where(ok, term, 0.0))
        total = total + jnp.repeat(per_box, n_leaves // n_boxes)
    return total


def _double_pole_sums(x, y, weights, positive, distance, p, leaf):
    """The body of :func:`double_pole_sums` (same arguments; p, leaf static): the far field
    first (leaf moments of the sources at their complex positions, the tree passes, the
    per-leaf truncation bound), then, per target in batches, the exact near field of its
    leaf and the two neighbouring ones plus the leaf polynomial at the target. Returns
    :class:`DoublePoleSums`. O(N(3B + p) + p² N/B) time, O(N + p²·batch) memory."""
    n = x.shape[0]
    shape = tree_shape(n, leaf)
    levels, n_leaves, b = shape
    n_pad = n_leaves * b - n
    weights = jnp.asarray(weights).astype(jnp.complex128)
    positive = jnp.asarray(positive, jnp.float64)
    w_abs = jnp.abs(weights)
    # channel 0: |F| (the magnitude, for the rounding allowance), then the caller's
    pos = jnp.concatenate([w_abs[:, None], positive], axis=1)
    n_pos = pos.shape[1]

    if levels >= 2:
        geo = jax.tree_util.tree_map(jax.lax.stop_gradient,
                                     _geometry(x, jnp.zeros(n), shape))
        hull_c, hull_r = _pole_hulls(geo, shape)
        geo_poles = geo._replace(hull_c=hull_c, hull_r=hull_r)
        ypad = jnp.concatenate([y.astype(jnp.complex128), geo.dpad[n:] + 0j])
        fpad = jnp.concatenate([weights, jnp.zeros(n_pad, jnp.complex128)])
        apad = jnp.concatenate([pos, jnp.zeros((n_pad, n_pos))])
        s = (ypad - jnp.repeat(hull_c[levels], b)) / jnp.repeat(hull_r[levels], b)
        sr, si = s.real.reshape(n_leaves, b), s.imag.reshape(n_leaves, b)
        fr, fi = fpad.real.reshape(n_leaves, b), fpad.imag.reshape(n_leaves, b)
        ares = apad.reshape(n_leaves, b, n_pos)

        # leaf moments: Σ F_j T_q(s_j) (complex s_j, F_j) and Σ a_j T_q(Re s_j)
        def moment(carry, _):
            r0, i0, r1, i1, m0, m1 = carry
            re = jnp.sum(fr * r0 - fi * i0, axis=1)
            im = jnp.sum(fr * i0 + fi * r0, axis=1)
            mo = jnp.einsum("lb,lbc->lc", m0, ares)
            nxt = (r1, i1, 2.0 * (sr * r1 - si * i1) - r0, 2.0 * (sr * i1 + si * r1) - i0,
                   m1, 2.0 * sr * m1 - m0)
            return nxt, jnp.concatenate([re[:, None], im[:, None], mo], axis=1)

        one_, zero_ = jnp.ones_like(sr), jnp.zeros_like(sr)
        _, mu = jax.lax.scan(moment, (one_, zero_, sr, si, one_, sr), None, length=p)
        cmat = jnp.asarray(lagrange_coefficients(p))
        local = _tree_passes(geo_poles, jnp.einsum("kq,qlc->lkc", cmat, mu), shape, p)
        coef = -(local[:, 2] + local[:, 3])  # Σ W/(x − y)² = −S': (n_leaves, 2 + C, p)
        cell_c, cell_r = geo.cell_c[levels], geo.cell_r[levels]
        xpad = geo.dpad
        # ρ(s_j)^p at the leaf's hull bounds it at every ancestor's (nested intervals); a
        # source whose real part left its interval breaks dist ≥ g: no bound
        a_s = 0.5 * (jnp.abs(s - 1.0) + jnp.abs(s + 1.0))
        grow = jnp.where(jnp.abs(s.real) <= 1.0 + 1e-12, power(bernstein_rho(a_s), p), jnp.inf)
        abs_leaf = jnp.where(jnp.abs(fpad) > 0, jnp.abs(fpad) * grow, 0.0)
        abs_leaf = abs_leaf.reshape(n_leaves, b).sum(axis=1)
        bound = _transposed_bound(geo, hull_c, hull_r, abs_leaf, shape, p)

    def one(args):
        target, x_n = args
        lf = target // b
        j = (lf - 1) * b + jnp.arange(3 * b)
        inside = (j >= 0) & (j < n)
        jc = jnp.clip(j, 0, n - 1)
        dist = distance(target, jc)
        q = dist.real**2 + dist.imag**2
        f = jnp.where(inside, weights[jc], 0.0)
        a = jnp.where(inside[:, None], pos[jc], 0.0)
        live = inside & (q > 0)
        q_inv = jnp.where(live, 1.0 / jnp.where(live, q, 1.0), 0.0)
        inv2 = jnp.conj(dist) ** 2 * q_inv**2  # 1/dist²
        value = jnp.sum(jnp.where(live, f * inv2, 0.0))
        mags = q_inv @ a
        cubic = (q_inv * jnp.sqrt(q_inv)) @ a
        if levels < 2:
            return value, mags, cubic, jnp.zeros(())
        t = (x_n - cell_c[lf]) / cell_r[lf]
        cf = coef[lf] @ chebyshev_vander(t, p)  # (2 + C,)
        # a far source j < (lf − 1)B has Re y_j ≤ x_(lf−1)B; j ≥ (lf + 2)B: Re y_j ≥ x_(lf+2)B
        below = jnp.where(lf >= 1, x_n - xpad[jnp.maximum(lf - 1, 0) * b], jnp.inf)
        above = jnp.where((lf + 2) * b < n, xpad[jnp.minimum((lf + 2) * b, n_leaves * b - 1)]
                          - x_n, jnp.inf)
        far_dist = jnp.maximum(jnp.minimum(below, above), 1e-300)
        far = jnp.maximum(cf[2:], 0.0)
        return value + (cf[0] + 1j * cf[1]), mags + far, cubic + far / far_dist, bound[lf]

    value, mags, cubic, far_bound = _config.map_in_batches(
        one, (jnp.arange(n), x), max(1, min(n, _TARGET_BATCH)))
    magnitude = mags[:, 0]
    return DoublePoleSums(value, magnitude, mags[:, 1:], cubic[:, 1:],
                          far_bound + rounding_allowance(levels) * magnitude)


def double_pole_sums(x, y, weights, positive, distance, *, p: int = DEFAULT_DEGREE,
                     leaf: int = DEFAULT_LEAF) -> DoublePoleSums:
    """U(x_n) = Σ_j F_j/(x_n − y_j)² at every one of N real sorted points x_n, for N complex
    sources y_j with y_j in the gap [x_j, x_{j+1}] (a source per gap; the last source and any
    others may have weight 0): the transpose of :func:`cauchy_sums`' S' (sources and targets
    swapped), on the same tree. O(N(3B + p) + p² N/B) time, O(N) memory.

    Near field: the sources of a target's leaf and of the two neighbouring leaves, with the
    caller's exact distances ``distance(n, j) = x_n − y_j`` (a target 1e-10 from a source
    keeps full relative precision). Far field: the sources anterpolated (complex positions)
    on the Chebyshev nodes of their box's interval [x_first, x_first of the next box], the
    tree passes of :func:`cauchy_sums`, the leaf's polynomial at the real target.

    Error bound (exact arithmetic). For a real target x in T's cell and a source y near S's
    interval (Re y inside it), interpolation in y (Hermite, double pole at y = x:
    |ω'(x)/ω(x)| ≤ p/g) and then in x give, with dist ≥ g,
    |K − I_x I_y K| ≤ ρ_y^p · 2(1 + p)(ρ(1 + g/r_S)^−p + Λ_p ρ(1 + g/r_T)^−p)/g² for
    K = 1/(x − y)²: the roles of :func:`cauchy_sums`' bound swapped, ρ_y the Bernstein
    parameter of y off S's interval, taken at the leaf (intervals nest, so it bounds every
    ancestor's). The bound returned is Σ over the target's pairs of that with
    A_S = Σ_{j∈S} |F_j| ρ_{y_j}^p, plus the rounding allowance times the magnitude.
    ``positive`` channels (N, C) of weights a_j ≥ 0 give Σ_j a_j/|x_n − y_j|² the same way
    (far part with the sources on the real axis at Re y_j: an upper estimate), and a bound
    on Σ_j a_j/|x_n − y_j|³ (near field exact; the far part's Σ a_j/|x_n − y_j|² divided by
    the distance from x_n to the nearest far source's interval).

    ``distance``: a function (target index (), source indices (k,)) → (k,) complex
    x_n − y_j, formed so that near pairs keep their relative precision. Not jitted here
    (``distance`` is a closure): call it inside the caller's program.
    """
    return _double_pole_sums(jnp.asarray(x, jnp.float64), jnp.asarray(y), jnp.asarray(weights),
                             jnp.asarray(positive), distance, p, leaf)


def direct_double_pole_sums(x, y, weights, positive, distance) -> DoublePoleSums:
    """The same sums by the direct O(N²) loop (``distance`` for every pair); error: the
    rounding allowance only. Reference method."""
    x = jnp.asarray(x, jnp.float64)
    weights = jnp.asarray(weights).astype(jnp.complex128)
    positive = jnp.asarray(positive, jnp.float64)
    n = x.shape[0]
    j = jnp.arange(n)

    def one(target):
        dist = distance(target, j)
        q = jnp.abs(dist) ** 2
        live = q > 0
        q_inv = jnp.where(live, 1.0 / jnp.where(live, q, 1.0), 0.0)
        inv2 = jnp.where(live, 1.0 / jnp.where(live, dist, 1.0) ** 2, 0.0)
        return (jnp.sum(weights * inv2), q_inv @ jnp.abs(weights), q_inv @ positive,
                (q_inv * jnp.sqrt(q_inv)) @ positive)

    value, mag, pos, cubic = _config.map_in_batches(one, j, 64)
    return DoublePoleSums(value, mag, pos, cubic, rounding_allowance(0) * mag)
