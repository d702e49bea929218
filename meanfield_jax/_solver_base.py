"""Shared numerics and the one result type of the exact residue solvers.

The three exact solvers (the chain's O(N²) residues: ``_pole_chain``, ``_gap_zeros``,
``_collective_zeros``, ``_poles``; its O(N) variant: ``_cauchy`` and ``_poles_fast``; the
network's secular form: ``_secular`` and ``_secular_residues``) locate the poles of G_1N,
sum residue terms over them and bound the error of that sum. What they share lives here,
once:

* the rounding unit :data:`EPS`, the per-summand noise :data:`NOISE` of a running error
  bound, and the convergence threshold :data:`CONVERGED_RTOL`;
* :class:`ResidueResult`, the typed result every solver returns (value, error estimate,
  status, solver-specific diagnostics), a NamedTuple and so a pytree (jit, vmap);
* Chebyshev helpers (nodes, values → coefficients, derivative of a series, Clenshaw,
  Lagrange basis, Bernstein ellipses, the Lebesgue constant);
* the Aberth–Ehrlich iteration, safe division (double where), batch sizes, the chunked
  map over gaps, O(N) evaluations at a few hundred points, and blocked sums with a
  rounding bound that grows like √N·… instead of N.

No physics here: every function is a numerical building block, stated with its cost.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config

EPS = float(np.finfo(np.float64).eps)
NOISE = 8.0 * EPS  # per summand of a running error bound

# A result is reported converged when its error estimate is below this fraction of its
# scale (|J| for the flux, max(T_L, T_R) for the temperatures).
CONVERGED_RTOL = 1e-9


class ResidueResult(NamedTuple):
    """The result of a residue solve (every exact solver returns one).

    Attributes:
      value: the quantity (J with ΔT included: (); T_n: (N,)).
      error_estimate: an upper bound on |value − exact| (same shape, ≥ 0; inf if unknown).
      converged: () bool, False when the estimate exceeds :data:`CONVERGED_RTOL` of the
        value's scale or a check of the solver failed.
      diagnostics: the solver's own checks and by-products (a NamedTuple, or None).
    """

    value: jax.Array
    error_estimate: jax.Array
    converged: jax.Array
    diagnostics: Any = None


# ----------------------------------------------------------------------- Chebyshev helpers


def chebyshev_nodes(p):
    """The p first-kind Chebyshev nodes t_k = cos(π(k + ½)/p) on [−1, 1] (NumPy)."""
    return np.cos(np.pi * (np.arange(p) + 0.5) / p)


def chebyshev_to_coefficients(p):
    """(p, p) matrix C with a = C f: the coefficients a_q of f(t) = Σ_q a_q T_q(t) from its
    values f(t_k) at the p first-kind nodes (discrete orthogonality; NumPy)."""
    theta = np.pi * (np.arange(p) + 0.5) / p
    to_coef = 2.0 / p * np.cos(np.outer(np.arange(p), theta))
    to_coef[0] *= 0.5
    return to_coef


def chebyshev_derivative(p):
    """(p, p) matrix mapping the coefficients of f to those of df/dt (t ∈ [−1, 1]; NumPy)."""
    deriv = np.zeros((p, p))
    for col in range(p):
        a = np.zeros(p)
        a[col] = 1.0
        b = np.zeros(p + 1)
        for k in range(p - 1, 0, -1):
            b[k - 1] = b[k + 1] + 2.0 * k * a[k]
        b[0] *= 0.5
        deriv[:, col] = b[:p]
    return deriv


def lagrange_coefficients(p):
    """C[k, q] with L_k(s) = Σ_q C[k, q] T_q(s) for the p first-kind nodes (the transpose of
    :func:`chebyshev_to_coefficients`, formed from arccos of the nodes: the FMM's own
    rounding, kept so that its results stay bit for bit; NumPy)."""
    t = chebyshev_nodes(p)
    c = np.cos(np.outer(np.arccos(t), np.arange(p))) * (2.0 / p)
    c[:, 0] *= 0.5
    return c


def chebyshev_vander(s, p):
    """T_q(s) for q < p on a new last axis, for s ∈ [−1, 1] (nested boxes): cos(q arccos s)."""
    theta = jnp.arccos(jnp.clip(s, -1.0, 1.0))
    return jnp.cos(theta[..., None] * jnp.arange(p))


def lagrange_at(s, p):
    """L_k(s) for the p nodes: shape s.shape + (p,)."""
    return chebyshev_vander(s, p) @ jnp.asarray(lagrange_coefficients(p)).T


def chebyshev_vector(a, b, p):
    """Real and imaginary parts of (T_0(t), …, T_{p−1}(t)) at t = a + i b (recurrence in a
    scan, real arithmetic)."""
    def step(carry, _):
        r0, i0, r1, i1 = carry
        r2 = 2.0 * (a * r1 - b * i1) - r0
        i2 = 2.0 * (a * i1 + b * r1) - i0
        return (r1, i1, r2, i2), (r0, i0)

    one, zero = jnp.ones_like(a), jnp.zeros_like(a)
    _, (re, im) = jax.lax.scan(step, (one, zero, a, b), None, length=p)
    return re, im


def clenshaw(coef, t):
    """Σ_k coef[..., k] T_k(t) for complex t (Clenshaw recurrence; a loop, not unrolled:
    a smaller program to compile). O(p) per series."""
    p = coef.shape[-1]
    zero = jnp.zeros_like(t * coef[..., 0])

    def step(j, state):
        b1, b2 = state
        return jnp.take(coef, p - 1 - j, axis=-1) + 2.0 * t * b1 - b2, b1

    b1, b2 = jax.lax.fori_loop(0, p - 1, step, (zero, zero))
    return coef[..., 0] + t * b1 - b2


def power(x, n: int):
    """x**n for a static integer n ≥ 1 by repeated squaring (no log/exp)."""
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    return result


def bernstein_rho(a):
    """ρ = a + √(a² − 1) ≥ 1, the Bernstein ellipse with semi-major axis a (clamped to ≥ 1)."""
    a = jnp.maximum(a, 1.0)
    return a + jnp.sqrt((a - 1.0) * (a + 1.0))


def bernstein_log_rho(a):
    """log ρ for the Bernstein ellipse with semi-major axis a ≥ 1: ρ = a + √(a² − 1)."""
    a = jnp.maximum(a, 1.0)
    return jnp.log(a + jnp.sqrt((a - 1.0) * (a + 1.0)))


def lebesgue_bound(p: int) -> float:
    """Λ_p ≤ (2/π) log p + 1 for p first-kind Chebyshev nodes (Rivlin)."""
    return 2.0 / math.pi * math.log(p) + 1.0


# ---------------------------------------------------------------------- zeros, safe division


def aberth(correction, z0, iterations, scale, tol):
    """Aberth–Ehrlich simultaneous iteration z ← z − w(z), given ``correction``: z ↦ w, the
    Aberth corrections 1/(P'/P(z_i) − Σ_{j≠i} 1/(z_i − z_j)) (deflation and masking are the
    caller's). Stops when every |w_i| is below tol·max(|z_i|, scale) (scale: a frequency
    scale of the problem, so that a zero at the origin also converges) or after
    ``iterations``. Returns (zeros, last relative correction, iterations)."""
    def body(state):
        it, z, _ = state
        w = correction(z)
        new = z - w
        return it + 1, new, jnp.max(jnp.abs(w) / jnp.maximum(jnp.abs(new), scale))

    def cond(state):
        it, _, rel = state
        return (it < iterations) & (rel > tol)

    it, z, rel = jax.lax.while_loop(cond, body, (0, z0, jnp.inf))
    return z, rel, it


def safe_div(num, den, ok):
    """num/den where ok, else 0, without NaN in either branch's gradient (double where)."""
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


# --------------------------------------------------------------------- batches and sums


def batch_size(n_items: int, per_item: int, elements: int) -> int:
    """Items per batch so that a batch holds at most ``elements`` array entries (≥ 1, ≤
    ``n_items``): the memory bound of the chunked loops."""
    return int(max(1, min(n_items, elements // max(per_item, 1))))


def chunked_map(fn, xs, n_active, batch, *, on_chunk=False):
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


POINT_ELEMENTS = 1 << 23  # points × N evaluated at once (complex: 128 MB per array)


def map_points(fn, points, n):
    """``jax.vmap(fn)(points)`` for O(N) evaluations at a few hundred points: one vmap
    while points × N stays below ``POINT_ELEMENTS`` (every N up to ~2·10⁴), else in batches
    (memory O(POINT_ELEMENTS), not O(points · N))."""
    count = points.shape[0]
    if count * max(n, 1) <= POINT_ELEMENTS:
        return jax.vmap(fn)(points)
    return _config.map_in_batches(fn, points, max(1, POINT_ELEMENTS // max(n, 1)))


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
