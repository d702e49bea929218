"""Exact solver of the mean-field chain: the poles of G_1N and the residue sums for J and T_n.

The chain algebra (A_n, a_n, κ̄, the bulk frequencies) is ``_green``'s; this module adds
what the pole finder needs on top of it: the secular function on exact pole offsets, its
zeros and the residue terms.

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

Gap zeros are solved like LAPACK's secular-equation solver (dlaed4): the unknown is the
offset τ from the nearer bulk frequency, all pole distances are formed as
(ω_n − ω_origin) − τ (exact differences, no cancellation), and each step solves a model
with the two nearest poles exact and the rest matched to first order (quadratic
convergence). Cost: O(N) per zero per iteration, O(N²) in all, chunked over gaps to bound
memory at O(chunk · N).

For N − 3 >= 256 gaps the iteration runs first on a cheap evaluation of F (near poles
exact, far field from per-block Chebyshev interpolants; see _fast_evaluator), whose zeros
agree with the exact ones to ~1e-13 relative. One exact O(N) pass per zero then takes a
Newton step and forms the residue term; a chunk in which any Newton step exceeds
1e-7·|τ| is re-solved by the exact iteration from the guesses instead. Typically one O(N)
pass per zero instead of ~7: measured 2.0 s → 0.41 s per chain at N = 10⁴ (2-core CPU),
still O(N²).

Checks computed on the way (reported, never silently ignored): every iteration converged
and every gap zero lies inside its gap; the sum rule Σ_p Im ω_p = γ (1/m_1 + 1/m_N) (trace
of the state matrix) holds; the result's imaginary part (zero by symmetry) is small.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config, _contour
from ._green import bulk_frequencies
from ._model import conserves_momentum
from ._quantum import PoleSum

_EPS = float(np.finfo(np.float64).eps)
_MAX_GAP_ITERATIONS = 60
_MAX_ABERTH_ITERATIONS = 200
_CHUNK_ELEMENTS = 200_000


class PoleChain:
    """The chain's quantities that the pole finder needs (plain container, all arrays, traced).

    ``n`` (default: the static N of ``chain``) is the true number of particles of a chain
    padded to a size bucket (``_buckets``): masses [m_1, bulk (n − 2), padding, m_N]. The
    padded bulk entries are inert: weight 0, above the band, like the padding of the
    distinct-frequency list below; κ̄ = n k/Ñ uses the true n, which may be traced.
    """

    def __init__(self, chain, n=None):
        k_safe = jnp.where(chain.k > 0, chain.k, 1.0)
        nb = chain.n - 2  # static length of the bulk arrays
        padded = n is not None
        n = chain.n if n is None else n
        self.n = n
        self.coupled = chain.k > 0
        self.kappa_bar = n * k_safe / chain.n_tilde
        self.inv_b = -chain.n_tilde / k_safe  # 1/b (Eq. 9)
        self.kappa_bulk = self.kappa_bar + chain.k0
        self.kappa_end = self.kappa_bar + chain.k0 + chain.k_prime
        self.gamma = chain.gamma
        self.k0 = chain.k0
        self.k_prime = chain.k_prime
        self.m1 = chain.masses[0]
        self.mn = chain.masses[-1]
        bulk = chain.masses[1:-1]
        self.nb = nb
        self.n_bulk = n - 2  # true number of bulk particles (traced when padded)
        real = jnp.arange(nb) < self.n_bulk if padded else jnp.ones(nb, bool)
        self.bulk_real = real
        if nb > 0:
            self.bulk_mean_mass = (jnp.sum(jnp.where(real, bulk, 0.0)) / self.n_bulk if padded
                                   else jnp.mean(bulk))
        else:
            self.bulk_mean_mass = jnp.array(1.0)
        # Distinct bulk frequencies ω_u (ascending) with multiplicities: equal masses give
        # one pole of weight > 1 (their difference modes are decoupled and drop out).
        # Padding entries (weight 0) sit above the band; only the first n_unique are real.
        w = bulk_frequencies(self.kappa_bulk, bulk)
        if nb > 0:
            fill = 2.0 * jnp.max(jnp.where(real, w, 0.0)) + 1.0
            if padded:
                w = jnp.where(real, w, fill)
            uw, counts = jnp.unique(w, size=nb, fill_value=fill, return_counts=True)
            if padded:  # the padded particles sit at the fill value: weight 0
                counts = jnp.where(uw == fill, 0, counts)
        else:
            uw, counts = w, jnp.zeros((0,), jnp.int32)
        self.w = uw
        self.mb = self.kappa_bulk / uw**2
        self.weight = counts.astype(jnp.float64)
        self.distinct = counts > 0
        self.n_unique = jnp.sum(self.distinct)
        # Unequal masses whose bulk frequencies round to one float (a few ulp apart) are
        # merged into one pole: right for J (their difference mode carries ~nothing), but
        # the true steady state thermalises that mode (relaxation time ~1e30), so T_n is
        # then not the exact answer: flagged, not silently replaced.
        if nb > 1:  # (padding takes the first bulk mass's value: no new distinct mass)
            sorted_bulk = jnp.sort(jnp.where(real, bulk, bulk[0]))
            n_masses = jnp.where(self.n_bulk > 0,
                                 1 + jnp.sum(sorted_bulk[1:] != sorted_bulk[:-1]), 0)
            self.merged_unequal = self.n_unique < n_masses
        else:
            self.merged_unequal = jnp.array(False)

    def fixed(self) -> "PoleChain":
        """The same chain with every array gradient-stopped (= PoleChain(stop_gradient(chain)),
        without a second sort of the bulk frequencies to compile)."""
        out = object.__new__(PoleChain)
        for name, value in vars(self).items():
            is_array = isinstance(value, (jax.Array, jax.core.Tracer))
            setattr(out, name, jax.lax.stop_gradient(value) if is_array else value)
        return out

    # -- end particles -------------------------------------------------------------------
    def ends(self, omega):
        """(A_1, A_N, A_1', A_N', a_1, a_N) at complex ω."""
        # _green.end_factor for both ends at once, written out: a_1, a_N first, then A_1,
        # A_N (the order of the operations fixes how reverse mode sums the cotangents of ω
        # and γ: kept as it was, gradients stay bit for bit)
        a1 = self.kappa_end - self.m1 * omega**2
        an = self.kappa_end - self.mn * omega**2
        big_a1 = a1 + 1j * self.gamma * omega
        big_an = an + 1j * self.gamma * omega
        d1 = -2.0 * self.m1 * omega + 1j * self.gamma
        dn = -2.0 * self.mn * omega + 1j * self.gamma
        return big_a1, big_an, d1, dn, a1, an


def _residue_term(ends, gamma, omega, h, deriv, simplified_coef, direct_coef):
    """The residue term t_p of a zero ω of D (or Q) in its two equal forms (module
    docstring): c_s·A_1 A_N/(deriv·X) where |X| is not small against its terms' sizes,
    else c_d/(deriv·(h s + 2)), with (c_s, c_d, deriv) = (γω, −γω, D'(ω)) or
    (−γκ̄, γκ̄, Q'(ω)). ``ends``: PoleChain.ends(ω); the coefficients are thunks, formed
    where they are used (the order of operations fixes the gradients' rounding)."""
    big_a1, big_an, _, _, a1, an = ends
    x = a1**2 + an**2 + 2.0 * gamma**2 * omega**2
    x_scale = jnp.abs(a1) ** 2 + jnp.abs(an) ** 2 + 2.0 * gamma**2 * jnp.abs(omega) ** 2
    use_simplified = jnp.abs(x) >= 0.25 * x_scale
    # double where: the branch not taken may divide by zero (x = 0 at a zero of A_1 = A_N)
    term_simplified = (simplified_coef() * big_a1 * big_an
                       / (deriv * jnp.where(use_simplified, x, 1.0)))
    direct_den = h * (a1 + an) + 2.0
    term_direct = direct_coef() / (deriv * jnp.where(use_simplified, 1.0, direct_den))
    return jnp.where(use_simplified, term_simplified, term_direct)


def term_from_sums(c: PoleChain, omega, h, dh):
    """Residue contribution t_p (module docstring) at a zero ω of D, given h(ω) and h'(ω)."""
    ends = c.ends(omega)
    big_a1, big_an, d1, dn, _, _ = ends
    d_prime = d1 + dn + (d1 * big_an + big_a1 * dn) * h + big_a1 * big_an * dh
    return _residue_term(ends, c.gamma, omega, h, d_prime, lambda: c.gamma * omega,
                         lambda: -c.gamma * omega)


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


def end_terms(c: PoleChain, omega):
    """1/b + 1/A_1 + 1/A_N and its derivative: the smooth part of F. O(1)."""
    big_a1, big_an, d1, dn, _, _ = c.ends(omega)
    return c.inv_b + 1.0 / big_a1 + 1.0 / big_an, -d1 / big_a1**2 - dn / big_an**2


def _secular(c: PoleChain, origin, tau, left_mask):
    """F = D/(A_1 A_N) = h + 1/A_1 + 1/A_N at ω = origin + τ and its derivatives.

    Returns (F, F'_left, F'_right) where F'_left/right are the derivatives of the bulk
    poles left/right of the gap and the smooth end terms are split evenly between them.
    """
    total, dtotal, dleft = _bulk_sums(c.w, c.mb, c.weight, origin, tau, left_mask)
    rest, drest = end_terms(c, origin + tau)
    return total + rest, dleft + 0.5 * drest, dtotal - dleft + 0.5 * drest


# ------------------------------------------------------------- fast first guesses (large N)
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
_FAST_MIN_GAPS = 4 * _BLOCK


def _chebyshev_matrices(p):
    """(values → coefficients, coefficients → derivative coefficients) for p first-kind
    Chebyshev nodes cos(π(j + ½)/p) on [−1, 1]; f(t) = Σ_k a_k T_k(t)."""
    theta = np.pi * (np.arange(p) + 0.5) / p
    to_coef = 2.0 / p * np.cos(np.outer(np.arange(p), theta))
    to_coef[0] *= 0.5
    deriv = np.zeros((p, p))
    for col in range(p):
        a = np.zeros(p)
        a[col] = 1.0
        b = np.zeros(p + 1)
        for k in range(p - 1, 0, -1):
            b[k - 1] = b[k + 1] + 2.0 * k * a[k]
        b[0] *= 0.5
        deriv[:, col] = b[:p]
    return np.cos(theta), to_coef, deriv


_CHEB_NODES, _CHEB_TO_COEF, _CHEB_DERIV = _chebyshev_matrices(_CHEB)


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

    batch = int(max(1, min(n_blocks, _CHUNK_ELEMENTS // (_CHEB * nb))))
    values = _config.map_in_batches(block_sums, (starts, nodes), batch)  # (blocks, 2, p)
    coef = values @ _CHEB_TO_COEF.T
    dcoef = coef @ _CHEB_DERIV.T
    fill = 2.0 * jnp.max(c.w) + 1.0

    def pad(x, value):
        return jnp.concatenate([jnp.full((blk,), value), x, jnp.full((2 * blk + 1,), value)])

    return _FarField(lo, hi, coef, dcoef, pad(c.w, fill), pad(c.mb, 1.0), pad(c.weight, 0.0))


def _clenshaw(coef, t):
    """Σ_k coef[..., k] T_k(t) for complex t (Clenshaw recurrence; a loop, not unrolled:
    a smaller program to compile)."""
    p = coef.shape[-1]
    zero = jnp.zeros_like(t * coef[..., 0])

    def step(j, state):
        b1, b2 = state
        return jnp.take(coef, p - 1 - j, axis=-1) + 2.0 * t * b1 - b2, b1

    b1, b2 = jax.lax.fori_loop(0, p - 1, step, (zero, zero))
    return coef[..., 0] + t * b1 - b2


def _fast_evaluator(c: PoleChain, far: _FarField, i):
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
        both = _clenshaw(coef_both, t)  # far-left, far-right sums and their derivatives
        f_far, df_far = both[:2], both[2:] * (2.0 / (hi - lo))
        rest, drest = end_terms(c, omega)
        f = total + f_far[0] + f_far[1] + rest
        return f, dleft + df_far[0] + 0.5 * drest, dtotal - dleft + df_far[1] + 0.5 * drest

    return evaluate


def _chunked_map(fn, xs, n_active, batch, *, on_chunk=False):
    """``jax.vmap(fn)`` over the leading axis of ``xs`` in chunks of ``batch``, skipping
    (zero-filling) every chunk that starts at or beyond ``n_active``. With ``on_chunk``,
    ``fn`` itself takes a whole chunk (leading axis ``batch``).

    Memory O(batch · N); time proportional to the active entries (identical masses have
    no gaps at all, so N = 10⁵ costs O(N)). A scan of ``lax.cond``: reverse-differentiable;
    under an outer ``vmap`` the cond becomes a select and every chunk is computed.
    """
    leaves = jax.tree_util.tree_leaves(xs)
    n = leaves[0].shape[0]
    n_chunks = -(-n // batch)
    pad = n_chunks * batch - n

    def chunk(x):
        x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
        return x.reshape((n_chunks, batch) + x.shape[1:])

    chunks = jax.tree_util.tree_map(chunk, xs)
    first = jax.tree_util.tree_map(lambda x: x[0], chunks)
    chunk_fn = fn if on_chunk else jax.vmap(fn)
    out_shape = jax.eval_shape(chunk_fn, first)

    def zeros(_):
        return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), out_shape)

    def body(carry, args):
        index, xs_chunk = args
        out = jax.lax.cond(index * batch < n_active, chunk_fn, zeros, xs_chunk)
        return carry, out

    _, outs = jax.lax.scan(body, None, (jnp.arange(n_chunks), chunks))
    return jax.tree_util.tree_map(lambda o: o.reshape((-1,) + o.shape[2:])[:n], outs)


def secular_step(sums, dl, dr, lo, hi, tau):
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
    ok, valid, iterations): the zero is ω_i + τ if origin_left else ω_{i+1} + τ. Not differentiable (a while loop); see
    _polish_gap.
    """
    wl, wr = c.w[i], c.w[i + 1]
    valid = i < c.n_unique - 1
    wr_safe = jnp.where(valid, wr, wl + 1.0)
    if evaluate is None:
        left_mask = jnp.arange(c.nb) <= i

        def evaluate(origin, tau):
            return _secular(c, origin, tau, left_mask)

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
        new = jnp.where(stepped, secular_step(sums, dl, dr, lo, hi, tau), -half + 0j)
        return (it + stepped.astype(it.dtype), new,
                jnp.where(stepped, jnp.abs(new - tau), delta),
                jnp.where(stepped, delta, previous), origin_left, jnp.array(True))

    it, tau, delta, previous, origin_left, _ = jax.lax.while_loop(
        cond, body, (jnp.array(0), tau0, jnp.inf, jnp.inf, origin_left, decided))
    _, _, _, lo, hi = frame(origin_left)
    delta = jnp.minimum(delta, previous)
    converged = (delta <= 1e-7 * jnp.abs(tau)) & (tau.real > lo) & (tau.real < hi)
    return origin_left, tau, converged | ~valid, valid, it


def _secular_derivatives(c: PoleChain, origin, tau):
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
    h, dh, d2h = _secular_derivatives(c, origin, tau)
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


def gap_roots(c_fixed: PoleChain, c: PoleChain | None = None, *, with_offsets=False, fast=None):
    """All gap zeros (located on gradient-stopped data c_fixed, polished on c) and terms.

    Returns (roots, terms, ok, valid, iterations) and, with ``with_offsets``, also
    (origins, τ) such that roots = origins + τ with τ carrying full relative precision.
    ``fast`` (default: N − 3 >= _FAST_MIN_GAPS) starts the exact iteration from the
    interpolated first guesses of _fast_evaluator: typically one O(N) pass per zero
    instead of ~7, same result. (Under an outer ``vmap`` the per-chunk ``lax.cond`` becomes
    a select, so the fallback iteration is computed as well: ~3 passes per zero.)
    """
    c = c_fixed if c is None else c
    n_gaps = c.nb - 1
    if n_gaps <= 0:
        z = jnp.zeros((0,), jnp.complex128)
        b = jnp.zeros((0,), bool)
        empty = (z, z, b, b, jnp.zeros((0,), jnp.int32))
        return empty + (jnp.zeros((0,)), z) if with_offsets else empty
    if fast is None:
        fast = n_gaps >= _FAST_MIN_GAPS
    batch = int(max(1, min(n_gaps, _CHUNK_ELEMENTS // max(c.nb, 1))))
    gaps = jnp.arange(n_gaps)
    n_active = c_fixed.n_unique - 1  # gaps between distinct frequencies come first
    if fast:
        far = _far_field(c_fixed)

        def exact_evaluator(i):
            left_mask = jnp.arange(c_fixed.nb) <= i
            return lambda origin, tau: _secular(c_fixed, origin, tau, left_mask)

        def solve_chunk(args):
            # Round 0: the iteration with the interpolated far field (_fast_evaluator)
            # from the bisection start, then one exact O(N) pass (_polish_gap) per zero.
            # Round 1, only when a Newton step of that pass fails its check somewhere in
            # the chunk: the exact iteration from the round-0 zeros, then the pass again.
            # Both rounds run one loop body whose evaluator is a cond on the (unbatched)
            # round: the iteration, the pass and the step are each compiled once.
            idx, = args
            valid = idx < n_active
            polish = jax.vmap(lambda *a: _polish_gap(c, *a))

            def solve(i, left, tau, exact):
                fast_eval = _fast_evaluator(c_fixed, far, i)
                exact_eval = exact_evaluator(i)

                def evaluate(origin, t):
                    return jax.lax.cond(exact, exact_eval, fast_eval, origin, t)

                return _solve_gap(c_fixed, i, evaluate, start=(left, tau, exact))

            def one_round(r, state):
                start, _ = state
                exact = r == 1
                ol, tau, ok, _, it = jax.vmap(solve, in_axes=(0, 0, 0, None))(
                    idx, start[0], start[1], exact)
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

        roots, terms, origins, taus, ok, iters, valid = _chunked_map(
            solve_chunk, (gaps,), n_active, batch, on_chunk=True)
    else:
        origin_left, tau, ok_loop, valid, iters = _chunked_map(
            lambda i: _solve_gap(c_fixed, i), gaps, n_active, batch)
        roots, terms, origins, taus, ok = _chunked_map(
            lambda args: _polish_gap(c, *args), (gaps, origin_left, tau), n_active, batch)
        ok = ok & ok_loop
    if with_offsets:
        return roots, terms, ok, valid, iters, origins, taus
    return roots, terms, ok, valid, iters


# --------------------------------------------------------------------------- collective zeros


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


def _aberth(logderiv, z0, iterations, scale, tol=4.0 * _EPS):
    """Aberth–Ehrlich simultaneous iteration given z ↦ P'/P (deflation inside logderiv).

    Stops when every correction is below tol·max(|z|, scale) (scale: a frequency scale of
    the problem, so that a zero at the origin also converges) or after ``iterations``.
    """
    n = z0.shape[0]
    off = ~jnp.eye(n, dtype=bool)

    def body(state):
        it, z, _ = state
        ld = jax.vmap(logderiv)(z)
        diff = z[:, None] - z[None, :]
        inter = jnp.sum(jnp.where(off, 1.0 / jnp.where(off, diff, 1.0), 0.0), axis=1)
        w = 1.0 / (ld - inter)
        w = jnp.where(jnp.isfinite(w), w, 0.0)
        new = z - w
        return it + 1, new, jnp.max(jnp.abs(w) / jnp.maximum(jnp.abs(new), scale))

    def cond(state):
        it, _, rel = state
        return (it < iterations) & (rel > tol)

    it, z, rel = jax.lax.while_loop(cond, body, (0, z0, jnp.inf))
    return z, rel, it


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


SUM_BLOCK = 1024


def blocked_sum(x):
    """Σ x over the last axis; above ``SUM_BLOCK`` entries in blocks of ``SUM_BLOCK``, then
    the block sums: rounding error at most :func:`sum_levels` (n) · ε Σ|x| whatever order
    XLA sums each level in (a plain sum's bound is n ε Σ|x|; at most SUM_BLOCK entries are
    summed plainly, so small programs are unchanged)."""
    n = x.shape[-1]
    if n <= SUM_BLOCK:
        return jnp.sum(x, axis=-1)
    pad = (-n) % SUM_BLOCK
    if pad:
        x = jnp.concatenate([x, jnp.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    blocks = x.reshape(x.shape[:-1] + (-1, SUM_BLOCK))
    return jnp.sum(jnp.sum(blocks, axis=-1), axis=-1)


def sum_levels(n: int) -> int:
    """The rounding factor of :func:`blocked_sum` over n entries: n up to SUM_BLOCK, else
    SUM_BLOCK + ⌈n/SUM_BLOCK⌉."""
    return n if n <= SUM_BLOCK else SUM_BLOCK + -(-n // SUM_BLOCK)


def _q_and_derivative(c: PoleChain, z):
    """(Q(z), Q'(z), ω_u − z, ω_u + z): Q = A_1 A_N Σ_n ε_n/A_n (see _green) in direct
    form (origin 0), with the distances to the distinct bulk frequencies ω_u. O(N).

    Q = −κ̄ D/ω has the zeros of D except the momentum-conserving zero mode at ω = 0, and
    no cancellation near ω = 0, where the collective (Lorentzian) poles of width ~1/N sit.
    """
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
    bulk, dbulk = blocked_sum(r), blocked_sum(dr)
    q = e1 * big_an + en * big_a1 + big_a1 * big_an * bulk
    dq = (de1 * big_an + e1 * dn + den * big_a1 + en * d1
          + (d1 * big_an + big_a1 * dn) * bulk + big_a1 * big_an * dbulk)
    return q, dq, d, s


def _collective_term(c: PoleChain, z, with_dq=False):
    """Residue contribution t_p at a zero z of Q (equal to term_from_sums, in the Q form);
    ``with_dq``: (t_p, Q'(z))."""
    q, dq, d, s = _q_and_derivative(c, z)
    ends = c.ends(z)
    h = c.inv_b + blocked_sum(c.weight / (c.mb * d * s))
    term = _residue_term(ends, c.gamma, z, h, dq, lambda: -c.gamma * c.kappa_bar,
                         lambda: c.gamma * c.kappa_bar)
    return (term, dq) if with_dq else term


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
#   network solver). T(ω) = −4γ²κ̄²/(Q(ω)Q(−ω)) is
#   evaluated on the circle, well away from its zeros.
# * Ill-conditioned single zeros. The error of t_p from the position error is
#   |t_p'(ω_p)|·|δω_p|; it enters the error estimate, so that a result spoiled by
#   cancellation among the collective terms (extreme γ, k, k0) says so instead of looking
#   converged.
#
# Both are written as one quadrature rule: Σ_p t_p g(ω_p) ≈ Σ_k W_k g(ω_k) for any g
# analytic near the collective zeros (g = 1 for J, g = weights/α_n² for T_n), with nodes
# ω_k = the zero itself (weight t_p) or the circle's points.

_NOISE = 8.0 * _EPS  # per summand of a running error bound


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
    return _NOISE * (noise_e1 * an + jnp.abs(e1) * noise_an + noise_en * a1
                     + jnp.abs(en) * noise_a1 + noise_a1 * an * bulk + a1 * noise_an * bulk
                     + a1 * an * noise_bulk)


def _transmittance_continued(c: PoleChain, z):
    """T(z) = 4γ²z² G_1N(z) G_1N(−z) = −4γ²κ̄²/(Q(z)Q(−z)) at complex z, and (|Q(z)|,
    |Q(−z)|) for its noise bound. O(N)."""
    pm = jnp.stack([z, -z])  # one vmapped evaluation: a smaller program than two
    q = jax.vmap(lambda x: _q_and_derivative(c, x)[0])(pm)
    value = -4.0 * c.gamma**2 * c.kappa_bar**2 / (q[0] * q[1])
    return value, jnp.abs(q)


_POINT_ELEMENTS = 1 << 23  # points × N evaluated at once (complex: 128 MB per array)


def _map_points(fn, points, n):
    """``jax.vmap(fn)(points)`` for O(N) evaluations at a few hundred points: one vmap
    while points × N stays below ``_POINT_ELEMENTS`` (every N up to ~2·10⁴: the program
    and its values as before), else in batches (memory O(_POINT_ELEMENTS), not
    O(points · N): 16 GB at N = 10⁶ before)."""
    count = points.shape[0]
    if count * max(n, 1) <= _POINT_ELEMENTS:
        return jax.vmap(fn)(points)
    return _config.map_in_batches(fn, points, max(1, _POINT_ELEMENTS // max(n, 1)))


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
    pairs = _contour.near_pairs(zf, live, other_poles)
    lead, follower = pairs.lead, pairs.follower

    # single zeros: residue term and the first-order effect of the position error
    def single(z, step, noise):
        # one evaluation of the term gives it, its z-derivative and Q' (smaller program)
        (term, dq), (dterm, _) = jax.jvp(lambda x: _collective_term(c, x, with_dq=True),
                                         (z,), (jnp.ones_like(z),))
        dterm, dq = jax.lax.stop_gradient((dterm, dq))
        delta = jnp.maximum(noise / jnp.abs(dq), step)
        return term, jnp.abs(dterm) * delta + _NOISE * jnp.abs(jax.lax.stop_gradient(term))

    # pairs: trapezoidal rule on a circle around the pair (_contour); rows that are not a
    # pair's lead get a pole-free circle too, so that no NaN reaches the gradients of the
    # weights they do not use
    m = _contour.CIRCLE_POINTS
    nodes_c, unit = _contour.circle_nodes(pairs, m)
    t_vals, q_abs = _map_points(lambda z: _transmittance_continued(c, z), jnp.ravel(nodes_c),
                                c.nb)
    t_vals, q_abs = jax.tree_util.tree_map(lambda x: x.reshape(nodes_c.shape + x.shape[1:]),
                                           (t_vals, q_abs))
    # Q's rounding noise at the zeros and at ± the circle nodes, in one vmapped evaluation
    # (every point is gradient-stopped: the bounds carry no derivative)
    safe = jnp.where(live, zf, 1.0)
    nodes_f = jax.lax.stop_gradient(jnp.ravel(nodes_c))
    noise = _map_points(lambda z: _q_noise(c_fixed, z),
                        jnp.concatenate([safe, nodes_f, -nodes_f]), c.nb)
    noise_zero, noise_nodes = noise[:p], noise[p:].reshape((2,) + nodes_c.shape)
    t_rel = jax.lax.stop_gradient(noise_nodes[0] / q_abs[..., 0] + noise_nodes[1] / q_abs[..., 1])
    terms, term_err = jax.vmap(single)(jnp.where(live, coll, 1.0),
                                       jax.lax.stop_gradient(last_step), noise_zero)
    w_c, circle_err = _contour.circle_rule(t_vals, t_rel, pairs.radius, unit)

    first = jnp.arange(m) == 0
    nodes = jnp.where(lead[:, None], nodes_c, coll[:, None])
    weights = jnp.where(lead[:, None], w_c,
                        jnp.where(first[None, :] & live[:, None] & ~follower[:, None],
                                  terms[:, None], 0.0))
    error = jnp.where(lead, circle_err, jnp.where(live & ~follower, term_err, 0.0))
    return nodes, weights, error, pairs.clustered


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


_NEWTON_REFINEMENTS = 3


def chain_poles(chain, n=None) -> ChainPoles:
    """All poles of G_1N for a MeanFieldChain, differentiable (see flux_by_residues). O(N²).

    ``n``: the true N of a chain padded to a size bucket (see PoleChain); default chain.n."""
    return _poles_of(PoleChain(chain, n))


def _poles_of(c: PoleChain) -> ChainPoles:
    c_fixed = c.fixed()
    gap_z, gap_terms, gap_ok, gap_valid, gap_iters, origins, taus = gap_roots(
        c_fixed, c, with_offsets=True)
    return poles_from_gaps(c, c_fixed, gap_z, gap_terms, gap_ok, gap_valid, gap_iters,
                           origins, taus)


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


# A result is reported converged when its error estimate is below this fraction of |J|.
CONVERGED_RTOL = 1e-9


def _sum_rule_error(c: PoleChain, poles: ChainPoles):
    """|Σ_p ω_p − iγ(1/m_1 + 1/m_N)| / γ(1/m_1 + 1/m_N) over every pole (mirrors included)."""
    gap_z = poles.gap_origin + poles.gap_tau
    trace = c.gamma * (1.0 / c.m1 + 1.0 / c.mn)
    im_sum = (2.0 * jnp.sum(jnp.where(poles.gap_valid, gap_z.imag, 0.0))
              + jnp.sum(poles.collective.imag))
    return jnp.abs(im_sum - trace) / trace


def _rounding_bound(c: PoleChain, poles: ChainPoles, magnitude, terms_bounded):
    """The residue sum's rounding bound for terms of total size ``magnitude`` (see
    flux_from_poles)."""
    if terms_bounded:  # the collective terms' O(N) sums (blocked): their own rounding
        return (_EPS * (2.0 * sum_levels(poles.gap_terms.shape[0]) + 16.0) * magnitude
                + 16.0 * _EPS * (sum_levels(c.nb) + 4)
                * jnp.sum(jnp.abs(poles.collective_weights)))
    return 16.0 * _EPS * (c.n_bulk + 4) * magnitude


def pole_sum_from_poles(c: PoleChain, poles: ChainPoles, extra_error=0.0,
                        terms_bounded=False) -> PoleSum:
    """The chain's flux as a :class:`PoleSum` (``_quantum``): each valid gap pole with the
    weight 2t_p (it stands for its mirror), each collective rule's nodes with their
    weights; the errors, rounding bound and checks of :func:`flux_from_poles`. O(N)."""
    gap_z = poles.gap_origin + poles.gap_tau
    gap_points = jnp.where(poles.gap_valid, gap_z, 1.0j)
    gap_weights = jnp.where(poles.gap_valid, 2.0 * poles.gap_terms, 0.0)
    m = poles.collective_nodes.shape[1]
    coll_points = jnp.where(poles.collective_mask[:, None], poles.collective_nodes, 1.0j)
    coll_weights = jnp.where(poles.collective_mask[:, None], poles.collective_weights, 0.0)
    magnitude = jax.lax.stop_gradient(
        2.0 * jnp.sum(jnp.abs(poles.gap_terms)) + jnp.sum(jnp.abs(poles.collective_weights)))
    rounding = _rounding_bound(c, jax.lax.stop_gradient(poles), magnitude, terms_bounded)
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
    """The mean-field chain's :class:`PoleSum` by the O(N²) residue solver (differentiable
    like :func:`flux_by_residues`). ``n``: the true N of a padded chain."""
    c = PoleChain(chain, n)
    return pole_sum_from_poles(c, _poles_of(c))


def flux_from_poles(chain, poles: ChainPoles, n=None, c: PoleChain | None = None,
                    extra_error=0.0, terms_bounded=False):
    """J, error estimate and status from the poles (flux_by_residues' result dict);
    ``extra_error``: a further absolute bound on J/ΔT (the fast path's far-field bound),
    added to the error estimate before the convergence test.

    Rounding: each gap term's O(N) bulk sums carry up to ~Nε relative (direct sums), so
    the estimate has 16ε(N + 4) Σ|t_p|. With ``terms_bounded`` (the fast path, whose
    ``extra_error`` already bounds every term's error, the tree's rounding included) only
    the final sum's rounding is added: the gap terms are summed in blocks,
    ε(2(B + N/B) + 16) Σ|t_p| (B = 1024: 9e-13 relative at N = 10⁶ instead of 3.5e-9), plus
    16ε(L + 4) Σ|t_c| for the collective terms, whose O(N) sums are blocked too
    (L = :func:`sum_levels` (N))."""
    c = PoleChain(chain, n) if c is None else c
    gap_terms, coll = poles.gap_terms, poles.collective
    coll_weights = poles.collective_weights
    gap_z = poles.gap_origin + poles.gap_tau
    gap_valid = poles.gap_valid
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
    return {
        "flux": value * dt,
        "error_estimate": error * jnp.abs(dt),
        "converged": converged,
        "sum_rule_error": sum_rule_error,
        "collective_poles": coll,
        "gap_iterations": poles.gap_iterations,
        "aberth_iterations": poles.collective_iterations,
    }


def flux_by_residues(chain, n=None):
    """J (ΔT included), error estimate and status for a MeanFieldChain. O(N²) time.

    Differentiable (forward and reverse mode) with respect to every parameter: the zeros
    are located on gradient-stopped inputs and then take one Newton step on the live
    inputs, which carries the implicit-function derivative. ``n``: the true N of a chain
    padded to a size bucket (``_buckets``; the padding is inert); default chain.n.
    """
    c = PoleChain(chain, n)
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
    factors = (jnp.ravel(poles.collective_weights) / chain.gamma
               * temperature_weights(c, chain.t_left, chain.t_right, nodes))
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
    batch = int(max(1, min(c.nb, _CHUNK_ELEMENTS // max(taus.shape[0], 1))))
    return _config.map_in_batches(one_particle, (bulk_m, bulk_w, c.bulk_real), batch)


def temperatures_from_bulk(chain, c: PoleChain, flux, bulk_t, bulk_err):
    """(temperatures (N,), error_estimate (N,), converged) from the bulk particles' values and
    error bounds and the flux result: the end particles from the exact energy balance
    J = γ(T_L − T_1)/m_1 = γ(T_N − T_R)/m_N, k = 0 handled, the status formed."""
    t_l, t_r, gamma = chain.t_left, chain.t_right, chain.gamma
    j = flux["flux"]
    t1 = t_l - chain.masses[0] * j / gamma
    tn = t_r + chain.masses[-1] * j / gamma
    temps = jnp.concatenate([t1[None], bulk_t, tn[None]])
    end_err = flux["error_estimate"] * jnp.array([chain.masses[0], chain.masses[-1]]) / gamma
    err = jnp.concatenate([end_err[:1], bulk_err, end_err[1:]])
    # k = 0: nothing couples, every bulk particle stays at rest (particular solution)
    temps = jnp.where(c.coupled, temps, jnp.zeros(chain.n).at[0].set(t_l).at[-1].set(t_r))
    # converged: the flux is, and every T_n is within CONVERGED_RTOL of the bath scale
    scale = jnp.maximum(t_l, t_r)
    converged = (flux["converged"] & ~c.merged_unequal
                 & (~c.coupled | jnp.all(err <= CONVERGED_RTOL * scale)))
    return temps, err, converged


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

    Returns (temperatures (N,), error_estimate (N,), converged).
    """
    c = PoleChain(chain, n)
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
    rounding = 16.0 * _EPS * (c.n + 4) * bulk_size + bulk_coll_err
    return temperatures_from_bulk(chain, c, flux, bulk_t, rounding)
