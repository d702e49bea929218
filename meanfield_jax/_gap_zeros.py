"""Gap zeros of the chain's D: one damped mode between each two distinct bulk frequencies.

Along the real axis h = 1/b + Σ_bulk 1/α_n rises from −∞ to +∞ between consecutive distinct
bulk frequencies ω_i < ω_{i+1}, so each gap holds one zero of D = A_1 A_N F, F = h + 1/A_1
+ 1/A_N (the gap function; ``_poles`` states the method). Gap zeros are solved like
LAPACK's secular-equation solver (dlaed4): the unknown is the offset τ from the nearer bulk
frequency, all pole distances are formed as (ω_n − ω_origin) − τ (exact differences, no
cancellation), and each step (:func:`gap_step`) solves a model with the two nearest poles
exact and the rest matched to first order (quadratic convergence). Cost: O(N) per zero per
iteration, O(N²) in all, chunked over gaps to bound memory at O(chunk · N).

For N − 3 >= :data:`INTERPOLATED_MIN_GAPS` gaps the iteration runs first on an interpolated
evaluation of F (near poles exact, far field from per-block Chebyshev interpolants; see
``_interpolated_evaluator``), whose zeros agree with the exact ones to ~1e-13 relative. One
exact O(N) pass per zero then takes a Newton step and forms the residue term; a chunk in
which any Newton step exceeds 1e-7·|τ| is re-solved by the exact iteration from the guesses
instead. Typically one O(N) pass per zero instead of ~7, still O(N²). (The O(N) path of
``_poles_fast`` replaces every bulk sum by a tree instead: a different method.)

Checks computed on the way (reported, never silently ignored): every iteration converged
and every gap zero lies inside its gap.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config
from ._pole_chain import PoleChain, end_terms, term_from_sums
from ._solver_base import (
    batch_size,
    chebyshev_derivative,
    chebyshev_nodes,
    chebyshev_to_coefficients,
    chunked_map,
    clenshaw,
)

_MAX_GAP_ITERATIONS = 60
_CHUNK_ELEMENTS = 200_000


def _inverse_alpha(w, mb, origin, tr, ti):
    """1/α_n = 1/(m_n (ω_n − ω)(ω_n + ω)) at ω = origin + τ, τ = tr + i ti, from exact pole
    distances (ω_n − origin) − τ, in real arithmetic: (Re, Im, Re(ω_n + ω) − Re(ω_n − ω)).
    O(len(w))."""
    dr = (w - origin) - tr  # Re(ω_n − ω); Im(ω_n − ω) = −ti
    sr = w + origin + tr  # Re(ω_n + ω); Im = ti
    p = dr * sr + ti * ti  # α_n / m_n = (ω_n − ω)(ω_n + ω) = p + i q
    q = ti * (dr - sr)
    scale = 1.0 / (mb * (p * p + q * q))
    return p * scale, -q * scale, sr - dr


def _bulk_sums(w, mb, weight, origin, tau, left_mask):
    """Σ 1/α_n, Σ d(1/α_n)/dω and that derivative summed over ``left_mask`` only, at
    ω = origin + τ with exact pole distances (ω_n − origin) − τ. O(len(w)).

    Written in real arithmetic: this is the hot loop of the whole method.
    """
    tr, ti = tau.real, tau.imag
    inv_r, inv_i, s_minus_d = _inverse_alpha(w, mb, origin, tr, ti)  # 1/α_n
    # d(1/α_n)/dω = m_n (s − d) / α_n²,  s − d = (sr − dr) + 2 i ti
    sq_r = inv_r * inv_r - inv_i * inv_i
    sq_i = 2.0 * inv_r * inv_i
    u_r, u_i = weight * mb * s_minus_d, weight * mb * (2.0 * ti)
    der_r = u_r * sq_r - u_i * sq_i
    der_i = u_r * sq_i + u_i * sq_r
    inv_r, inv_i = weight * inv_r, weight * inv_i
    total = jnp.sum(inv_r) + 1j * jnp.sum(inv_i)
    dtotal = jnp.sum(der_r) + 1j * jnp.sum(der_i)
    dleft = jnp.sum(jnp.where(left_mask, der_r, 0.0)) + 1j * jnp.sum(jnp.where(left_mask, der_i, 0.0))
    return total, dtotal, dleft


def gap_function(c: PoleChain, origin, tau, left_mask):
    """F = D/(A_1 A_N) = h + 1/A_1 + 1/A_N at ω = origin + τ and its derivatives.

    Returns (F, F'_left, F'_right) where F'_left/right are the derivatives of the bulk
    poles left/right of the gap and the smooth end terms are split evenly between them.
    """
    total, dtotal, dleft = _bulk_sums(c.w, c.mb, c.weight, origin, tau, left_mask)
    rest, drest = end_terms(c, origin + tau)
    return total + rest, dleft + 0.5 * drest, dtotal - dleft + 0.5 * drest


# ------------------------------------------------- interpolated first guesses (large N)
#
# Locating a gap zero needs ~5 evaluations of F, each O(N) when summed directly. For large
# N the iteration is run instead on a cheap evaluation of F that is accurate to ~1e-15
# relative: the bulk poles of a block of _BLOCK gaps and of the blocks on either side are
# summed exactly, the rest (the "far field", analytic over the block's frequency interval)
# comes from a Chebyshev interpolant of degree _CHEB − 1 built once per block at real nodes.
# The result is only a first guess: one exact O(N) pass then takes a Newton step from it,
# and a chunk with any step above 1e-7·|τ| is re-solved by the exact iteration (started
# from the guesses), so accuracy never depends on the interpolation. Cost:
# O(N²·2·_CHEB/_BLOCK) real operations to build, O(_BLOCK) per evaluation, against O(N)
# per evaluation for the direct sum.

_BLOCK = 64
_CHEB = 24
INTERPOLATED_MIN_GAPS = 4 * _BLOCK  # gaps from which gap_roots starts from guesses


_CHEB_NODES = chebyshev_nodes(_CHEB)
_CHEB_TO_COEF = chebyshev_to_coefficients(_CHEB)
_CHEB_DERIV = chebyshev_derivative(_CHEB)


class _FarField(NamedTuple):
    lo: jax.Array  # (blocks,) frequency interval of each block of gaps
    hi: jax.Array
    coef: jax.Array  # (blocks, 2, _CHEB): far-left and far-right sums, Chebyshev coefficients
    dcoef: jax.Array  # their derivatives' coefficients (d/dt, t ∈ [−1, 1])
    w: jax.Array  # bulk arrays padded by _BLOCK entries of weight 0 on the left, 2·_BLOCK+1 right
    mb: jax.Array
    weight: jax.Array


def _far_field(c: PoleChain) -> _FarField:
    """Chebyshev interpolants of the far-field bulk sums of every block. O(N²·_CHEB/_BLOCK)."""
    nb, blk = c.nb, _BLOCK
    n_blocks = -(-(nb - 1) // blk)
    last = c.n_unique - 1
    starts = jnp.arange(n_blocks) * blk
    lo = c.w[jnp.minimum(starts, last)]
    hi = c.w[jnp.minimum(starts + blk, last)]
    hi = jnp.where(hi > lo, hi, lo + 1.0)  # blocks beyond the distinct frequencies: unused
    nodes = 0.5 * (lo + hi)[:, None] + 0.5 * (hi - lo)[:, None] * _CHEB_NODES

    def block_sums(args):
        start, x = args
        index = jnp.arange(nb)
        left = index < start - blk
        right = index > start + 2 * blk
        far = left | right
        den = c.mb * (c.w - x[:, None]) * (c.w + x[:, None])
        inv = jnp.where(far, c.weight / jnp.where(far, den, 1.0), 0.0)
        return jnp.stack([jnp.sum(jnp.where(left, inv, 0.0), axis=1),
                          jnp.sum(jnp.where(right, inv, 0.0), axis=1)])

    batch = batch_size(n_blocks, _CHEB * nb, _CHUNK_ELEMENTS)
    values = _config.map_in_batches(block_sums, (starts, nodes), batch)  # (blocks, 2, p)
    coef = values @ _CHEB_TO_COEF.T
    dcoef = coef @ _CHEB_DERIV.T
    fill = 2.0 * jnp.max(c.w) + 1.0

    def pad(x, value):
        return jnp.concatenate([jnp.full((blk,), value), x, jnp.full((2 * blk + 1,), value)])

    return _FarField(lo, hi, coef, dcoef, pad(c.w, fill), pad(c.mb, 1.0), pad(c.weight, 0.0))


def _interpolated_evaluator(c: PoleChain, far: _FarField, i):
    """(origin, τ) ↦ (F, F'_left, F'_right) for gap i: near poles exact, far field
    interpolated (see the section comment). O(_BLOCK + _CHEB) per evaluation."""
    blk = _BLOCK
    block = i // blk
    start = block * blk - blk  # first near pole (may be negative: padding)
    size = 3 * blk + 1
    w = jax.lax.dynamic_slice(far.w, (start + blk,), (size,))
    mb = jax.lax.dynamic_slice(far.mb, (start + blk,), (size,))
    weight = jax.lax.dynamic_slice(far.weight, (start + blk,), (size,))
    left_mask = start + jnp.arange(size) <= i
    lo, hi = far.lo[block], far.hi[block]
    coef_both = jnp.concatenate([far.coef[block], far.dcoef[block]])  # (4, _CHEB)

    def evaluate(origin, tau):
        total, dtotal, dleft = _bulk_sums(w, mb, weight, origin, tau, left_mask)
        omega = origin + tau
        t = ((omega - lo) - (hi - omega)) / (hi - lo)
        both = clenshaw(coef_both, t)  # far-left, far-right sums and their derivatives
        f_far, df_far = both[:2], both[2:] * (2.0 / (hi - lo))
        rest, drest = end_terms(c, omega)
        f = total + f_far[0] + f_far[1] + rest
        return f, dleft + df_far[0] + 0.5 * drest, dtotal - dleft + df_far[1] + 0.5 * drest

    return evaluate


def gap_step(sums, dl, dr, lo, hi, tau):
    """One step of the gap-zero iteration (dlaed4-like): from (F, F'_left, F'_right) at
    offset τ, the zero of the model with the two gap-end poles (offsets dl, dr) exact and
    the rest matched to first order, kept strictly inside (lo, hi). O(1); elementwise."""
    f, dfl, dfr = sums
    el, er = dl - tau, dr - tau
    s_l = dfl * el**2
    s_r = dfr * er**2
    const = f - s_l / el - s_r / er
    # const (dl−u)(dr−u) + s_l (dr−u) + s_r (dl−u) = 0
    a2 = const
    a1 = -(const * (dl + dr) + s_l + s_r)
    a0 = const * dl * dr + s_l * dr + s_r * dl
    disc = jnp.sqrt(a1**2 - 4.0 * a2 * a0)
    sign = jnp.where((jnp.conj(a1) * disc).real >= 0, 1.0, -1.0)
    q = -0.5 * (a1 + sign * disc)
    q = jnp.where(q == 0, 1e-300, q)
    u_small = a0 / q
    u_big = jnp.where(a2 == 0, jnp.inf, q / jnp.where(a2 == 0, 1.0, a2))

    def distance(u):
        out = jnp.maximum(jnp.maximum(lo - u.real, u.real - hi), 0.0)
        return jnp.where(jnp.isfinite(u), out + jnp.abs(u.imag) + 1e-3 * jnp.abs(u - tau),
                         jnp.inf)

    u = jnp.where(distance(u_small) <= distance(u_big), u_small, u_big)
    # Safeguard: stay strictly inside the gap (the zero's real part is).
    outside = (u.real <= lo) | (u.real >= hi) | ~jnp.isfinite(u)
    bound = jnp.where(u.real <= lo, lo, hi)
    u_safe = 0.5 * (tau.real + bound) + 1j * jnp.where(jnp.isfinite(u.imag), u.imag, 0.0)
    return jnp.where(outside, u_safe, u)


def _solve_gap(c: PoleChain, i, evaluate=None, start=None):
    """Locate the zero of D between bulk frequencies ω_i < ω_{i+1}.

    ``evaluate(origin, τ) -> (F, F'_left, F'_right)`` defaults to the exact O(N) sums;
    ``start = (origin_left, τ0, use)`` replaces the bisection start by a first guess where
    ``use`` (traced) is true. At least one step is always taken. Returns (origin_left, τ,
    ok, valid, iterations): the zero is ω_i + τ if origin_left else ω_{i+1} + τ. Not
    differentiable (a while loop); see _polish_gap.
    """
    wl, wr = c.w[i], c.w[i + 1]
    valid = i < c.n_unique - 1
    wr_safe = jnp.where(valid, wr, wl + 1.0)
    if evaluate is None:
        left_mask = jnp.arange(c.nb) <= i

        def evaluate(origin, tau):
            return gap_function(c, origin, tau, left_mask)

    half = 0.5 * (wr_safe - wl)

    def frame(origin_left):
        """(origin, dl, dr, lo, hi): the gap ends' offsets from the chosen origin, exact
        (Sterbenz)."""
        origin = jnp.where(origin_left, wl, wr_safe)
        dl, dr = wl - origin, wr_safe - origin
        return origin, dl, dr, jnp.minimum(dl, dr), jnp.maximum(dl, dr)

    # Without a first guess: which half holds the zero? Re F increases from −∞ to +∞
    # across the gap, so the sign of F at the midpoint (evaluated from the left end) picks
    # the nearer end as the origin. That evaluation is the loop's first pass (one copy of
    # ``evaluate`` in the program): it is also the first step's when the left end is
    # chosen; else the pass only switches to the right end, at τ = −half, without a step.
    origin_left, decided, tau0 = jnp.array(True), jnp.array(False), half + 0j
    if start is not None:
        start_left, guess, use = start
        _, _, _, lo, hi = frame(start_left)
        inside = (guess.real > lo) & (guess.real < hi) & jnp.isfinite(guess)
        origin_left = jnp.where(use, start_left, origin_left)
        decided = jnp.asarray(use)
        tau0 = jnp.where(use, jnp.where(inside, guess, jnp.where(start_left, half, -half)),
                         tau0)

    def cond(state):
        it, tau, delta, previous, _, _ = state
        # Quadratic convergence: once a step is below 1e-7·|τ| the iterate is within
        # ~1e-14·|τ| of the zero, and the Newton step of _polish_gap reaches the rounding
        # floor (no further model iteration needed).
        return (valid & (it < _MAX_GAP_ITERATIONS) & (delta > 1e-7 * jnp.abs(tau)))

    def body(state):
        it, tau, delta, previous, origin_left, decided = state
        origin, dl, dr, lo, hi = frame(origin_left)
        sums = evaluate(origin, tau)
        origin_left = jnp.where(decided, origin_left, sums[0].real > 0)
        stepped = decided | origin_left
        new = jnp.where(stepped, gap_step(sums, dl, dr, lo, hi, tau), -half + 0j)
        return (it + stepped.astype(it.dtype), new,
                jnp.where(stepped, jnp.abs(new - tau), delta),
                jnp.where(stepped, delta, previous), origin_left, jnp.array(True))

    it, tau, delta, previous, origin_left, _ = jax.lax.while_loop(
        cond, body, (jnp.array(0, jnp.int32), tau0, jnp.inf, jnp.inf, origin_left, decided))
    _, _, _, lo, hi = frame(origin_left)
    delta = jnp.minimum(delta, previous)
    converged = (delta <= 1e-7 * jnp.abs(tau)) & (tau.real > lo) & (tau.real < hi)
    return origin_left, tau, converged | ~valid, valid, it


def _gap_derivatives(c: PoleChain, origin, tau):
    """h = 1/b + Σ 1/α_n, h' and h'' at ω = origin + τ, exact pole distances, real
    arithmetic. O(N)."""
    tr, ti = tau.real, tau.imag
    v_r, v_i, s_minus_d = _inverse_alpha(c.w, c.mb, origin, tr, ti)  # 1/α_n
    inv = jax.lax.complex(v_r, v_i)
    inv2 = inv * inv
    g = jax.lax.complex(c.mb * s_minus_d, c.mb * (2.0 * ti))  # 2 m_n ω = −α_n'
    h = c.inv_b + jnp.sum(c.weight * inv)
    dh = jnp.sum(c.weight * g * inv2)
    d2h = jnp.sum(c.weight * (2.0 * c.mb + 2.0 * g * g * inv) * inv2)
    return h, dh, d2h


def _polish_gap(c: PoleChain, i, origin_left, tau):
    """One Newton step on F from the converged (gradient-stopped) τ, and the residue term,
    from one O(N) pass.

    At a converged zero the step δ changes τ only at rounding level, but it makes the zero
    differentiable: its derivative is −(∂F/∂θ)/F', the implicit-function theorem. The term
    is evaluated at τ + δ with h and h' carried to first order in δ (so that its
    derivative includes the zero's motion) from h, h', h'' at τ.
    Returns (ω_p, t_p, origin, τ + δ, ok).
    """
    wl, wr = c.w[i], c.w[i + 1]
    valid = i < c.n_unique - 1
    origin = jnp.where(origin_left, wl, jnp.where(valid, wr, wl + 1.0))
    tau = jax.lax.stop_gradient(tau)
    h, dh, d2h = _gap_derivatives(c, origin, tau)
    omega = origin + tau
    _, drest = end_terms(c, omega)
    big_a1, big_an, _, _, _, _ = c.ends(omega)
    f = h + 1.0 / big_a1 + 1.0 / big_an
    delta = -f / (dh + drest)
    delta = jnp.where(valid & jnp.isfinite(delta), delta, 0.0)
    term = term_from_sums(c, omega + delta, h + dh * delta, dh + d2h * delta)
    term = jnp.where(valid, term, 0.0)
    # converged: the Newton step is at the quadratic-convergence level and the zero lies
    # strictly inside its gap
    tau_new = jax.lax.stop_gradient(tau + delta)
    bound_l, bound_r = wl - origin, jnp.where(valid, wr, wl + 1.0) - origin
    ok = ((jnp.abs(jax.lax.stop_gradient(delta)) <= 1e-7 * jnp.abs(tau_new))
          & (tau_new.real > bound_l) & (tau_new.real < bound_r))
    return origin + tau + delta, term, origin, tau + delta, ok | ~valid


class GapRoots(NamedTuple):
    """The gap zeros of D, one entry per gap (gaps between distinct frequencies first).

    roots = origins + taus, with τ carrying full relative precision (origins: a bulk
    frequency); terms: the residue term t_p of each zero; ok: its iteration converged and
    it lies inside its gap (True for invalid gaps); valid: the gap lies between two
    distinct bulk frequencies; iterations: exact-iteration steps taken.
    """

    roots: jax.Array
    terms: jax.Array
    ok: jax.Array
    valid: jax.Array
    iterations: jax.Array
    origins: jax.Array
    taus: jax.Array


def _solve_from_guess(c_fixed: PoleChain, far: _FarField, i, left, tau, exact):
    """_solve_gap for gap i from a first guess (origin side ``left``, offset τ), on the
    interpolated evaluator, or on the exact sums when ``exact`` (traced, unbatched)."""
    fast_eval = _interpolated_evaluator(c_fixed, far, i)
    left_mask = jnp.arange(c_fixed.nb) <= i

    def exact_eval(origin, t):
        return gap_function(c_fixed, origin, t, left_mask)

    def evaluate(origin, t):
        return jax.lax.cond(exact, exact_eval, fast_eval, origin, t)

    return _solve_gap(c_fixed, i, evaluate, start=(left, tau, exact))


def _solve_chunk_from_guesses(c_fixed: PoleChain, c: PoleChain, far: _FarField, n_active,
                              args):
    """A chunk of gaps (``args = (idx,)``) solved from interpolated first guesses.

    Round 0: the iteration with the interpolated far field (_interpolated_evaluator) from
    the bisection start, then one exact O(N) pass (_polish_gap) per zero. Round 1, only
    when a Newton step of that pass fails its check somewhere in the chunk: the exact
    iteration from the round-0 zeros, then the pass again. Both rounds run one loop body
    whose evaluator is a cond on the (unbatched) round: the iteration, the pass and the
    step are each compiled once. Returns (roots, terms, origins, τ, ok, iterations, valid).
    """
    idx, = args
    valid = idx < n_active
    polish = jax.vmap(lambda *a: _polish_gap(c, *a))

    def one_round(r, state):
        start, _ = state
        exact = r == 1
        ol, tau, ok, _, it = jax.vmap(
            lambda i, left, t: _solve_from_guess(c_fixed, far, i, left, t, exact))(
            idx, start[0], start[1])
        new = polish(idx, ol, tau)
        iters = jnp.where(exact, it, 0).astype(jnp.int32)
        return (ol, tau, iters), new[:4] + (new[4] & (ok | ~exact),)

    def maybe_round(r, state):
        needed = (r == 0) | ~jnp.all(state[1][4])
        return jax.lax.cond(needed, lambda s: one_round(r, s), lambda s: s, state)

    start = (jnp.ones(idx.shape, bool), jnp.zeros(idx.shape, jnp.complex128),
             jnp.zeros(idx.shape, jnp.int32))
    out0 = jax.tree_util.tree_map(lambda x: jnp.zeros(x.shape, x.dtype),
                                  jax.eval_shape(polish, idx, start[0], start[1]))
    (_, _, iters), out = jax.lax.fori_loop(0, 2, maybe_round, (start, out0))
    return out + (iters, valid)


def gap_roots(c_fixed: PoleChain, c: PoleChain | None = None, *,
              interpolated_guesses=None) -> GapRoots:
    """All gap zeros (located on gradient-stopped data c_fixed, polished on c) and their
    residue terms. O(N²) time, O(chunk · N) memory.

    ``interpolated_guesses`` (default: N − 3 >= INTERPOLATED_MIN_GAPS) starts the exact
    iteration from the interpolated first guesses of _interpolated_evaluator: typically one
    O(N) pass per zero instead of ~7, same result. (Under an outer ``vmap`` the per-chunk
    ``lax.cond`` becomes a select, so the fallback iteration is computed as well: ~3
    passes per zero.)
    """
    c = c_fixed if c is None else c
    n_gaps = c.nb - 1
    if n_gaps <= 0:
        z = jnp.zeros((0,), jnp.complex128)
        b = jnp.zeros((0,), bool)
        return GapRoots(z, z, b, b, jnp.zeros((0,), jnp.int32), jnp.zeros((0,)), z)
    if interpolated_guesses is None:
        interpolated_guesses = n_gaps >= INTERPOLATED_MIN_GAPS
    batch = batch_size(n_gaps, c.nb, _CHUNK_ELEMENTS)
    gaps = jnp.arange(n_gaps)
    n_active = c_fixed.n_unique - 1  # gaps between distinct frequencies come first
    if interpolated_guesses:
        far = _far_field(c_fixed)
        roots, terms, origins, taus, ok, iters, valid = chunked_map(
            lambda args: _solve_chunk_from_guesses(c_fixed, c, far, n_active, args),
            (gaps,), n_active, batch, on_chunk=True)
    else:
        origin_left, tau, ok_loop, valid, iters = chunked_map(
            lambda i: _solve_gap(c_fixed, i), gaps, n_active, batch)
        roots, terms, origins, taus, ok = chunked_map(
            lambda args: _polish_gap(c, *args), (gaps, origin_left, tau), n_active, batch)
        ok = ok & ok_loop
    return GapRoots(roots, terms, ok, valid, iters, origins, taus)
