"""Nearest-neighbour (tridiagonal) networks: T(ω) in O(N) per frequency, J by quadrature, exact T_n.

Notation (paper, Sec. II): Z(ω) = K_w − ω² M − iωγP, K_w = K + k'P, P = e₁e₁ᵀ + e_Ne_Nᵀ
(Eq. 7), G = Z⁻¹ (Eq. 11). For a tridiagonal K with springs k_i = −K_{i,i+1} (i = 1 … N−1)
and the "excess" e_i = (K_w)_ii − k_{i−1} − k_i (pinning k0 plus the walls k' at the ends;
exactly 0 in the bulk of a free chain),

    G_1N = Π_i k_i / det Z,   T(ω) = 4γ²ω² |G_1N|²                                  (Eq. 17)

and det Z = Π_i r_i with the pivots of Z's LDLᵀ factorisation, r_i = d_i − k_{i−1}²/r_{i−1}.
Written for q_i = r_i − k_i (k_N = 0),

    q_i = (e_i − ε_i) + k_{i−1} q_{i−1} / (k_{i−1} + q_{i−1}),   ε_i = ω² m_i + iωγ_i,

the springs cancel exactly (e_i is formed once from K), so a free chain keeps full relative
accuracy as ω → 0, where det Z = O(ω); |det Z|² = Π|r_i|² is carried as mantissa and exponent
(no overflow), so T is relatively accurate however small (1e-300 far above the band): one
O(N) scan per frequency, vectorised over frequencies (and over systems with ``jax.vmap``).
Every T is evaluated by this one kernel (:func:`transmittance_transfer`); it runs under
``jit``/``vmap``, differentiably.

Heat flux (Eq. 16): J = ΔT ∫_0^∞ T(ω) dω / (2π), taken peak by peak (:func:`flux_transfer`,
host-driven NumPy around the jitted kernel: the adaptive refinement decides on concrete
values). The undamped eigenfrequencies ω_j (of M^−½ K_w M^−½, LAPACK bisection for the
eigenvalues needed, chunk by chunk, O(N) each) split [0, ∞) at ω_j and at the midpoints
between them; each half-interval is mapped by tanh-sinh onto t ∈ [−3.2, 3.2], clustered at
both ends, so a Lorentzian of any width down to ~1e-16 of the spacing at ω_j is smooth in t.
t is integrated adaptively: Gauss–Legendre 16 on pieces, error |G8 − G16| per piece, the
worst pieces halved until a chunk's summed error is below 0.1·rtol·J or every piece's
error is at the rounding level of T (N·ε relative). The tail [2ω_max, ∞) is mapped by
ω = c/(1 − x). Peaks are taken in chunks of 64 from low ω up; the sum stops once a whole
chunk adds less than 1e-3·rtol·J after at least 256 peaks (a localised chain's mode j
transmits ~e^(−2N/ξ(ω_j)), ξ decreasing in ω), and the remaining chunks' count times the
last chunk's share is added to the estimate.

Accuracy contract: ``error_estimate`` is the sum of the pieces' |G8 − G16| (for the
integrands here, analytic in t on each piece, G16's error is orders below G8's, so the
difference over-estimates G16's error), the truncation term above, and the rounding of
the recurrence (2N·ε·J: each pivot carries a relative error of a few ε). The truncation
term assumes the monotone decay of the band's transmission with ω (true for disordered
and ordered chains alike: for the ordered chain no peak is skipped); it is an estimate,
not a theorem. ``converged`` is error ≤ 1e-9·J, the package's flux contract, with the
default rtol = 1e-10.

Local temperatures (Eq. 31): :func:`temperatures_transfer`, the stationary Lyapunov
equations in normal modes with every mode's bath amplitudes to full relative accuracy
(:func:`end_amplitudes`, twisted factorisation) and each mode's equations scaled by its
amplitude: exact for modes of any coupling (a localised mode with end amplitudes 1e-40
sits at its weak-coupling temperature, which float64 ``eigh`` cannot resolve). O(N³).

Cost of J: O(N) per frequency, ~200 frequencies per peak, and only the peaks with
ξ(ω) ≳ N/40 matter for a disordered chain: about O(N^1.5) per chain, plus O(N) per
eigenvalue computed. An ordered chain (ξ = ∞) takes all N peaks: O(N²).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from . import _config
from ._failure import FluxResult, TemperatureResult
from ._model import checked_masses, checked_scalar, is_concrete
from ._secular import twisted_end_amplitudes

__all__ = [
    "TridiagonalChain",
    "tridiagonal_chain",
    "is_tridiagonal",
    "from_network",
    "transmittance_transfer",
    "flux_transfer",
    "flux_transfer_callback",
    "nearest_neighbour_flux_with_error",
    "end_amplitudes",
    "temperatures_transfer",
]

_EPS = float(np.finfo(np.float64).eps)
_T_MAX = 3.2  # tanh-sinh range: nodes within ~1e-17 of a half-interval's length of its ends
_PIECES = 4  # initial pieces of [−T_MAX, T_MAX] per half-interval
_CHUNK = 64  # peaks per chunk
_GAUSS = [np.polynomial.legendre.leggauss(n) for n in (8, 16)]
CONVERGED_RTOL = 1e-9


class TridiagonalChain(NamedTuple):
    """A network with tridiagonal K in O(N) storage (a pytree: ``jax.vmap`` maps over
    stacked chains). Baths γ on particles 1 and N.

    Attributes:
      masses: (N,) masses.
      spring: (N−1,) springs k_i = −K_{i,i+1} between particles i and i + 1.
      excess: (N,) (K + k'P)_ii − k_{i−1} − k_i: pinning and wall springs.
      gamma, t_left, t_right: () bath coupling and temperatures.
    """

    masses: jax.Array
    spring: jax.Array
    excess: jax.Array
    gamma: jax.Array
    t_left: jax.Array
    t_right: jax.Array


def tridiagonal_chain(masses, *, k=1.0, k0=0.0, gamma=1.0, t_left=1.0, t_right=0.0,
                      k_prime=0.0) -> TridiagonalChain:
    """A nearest-neighbour chain without the dense K (for N ≫ 10³): springs ``k`` (a scalar or
    N − 1 values) between neighbours, pinning ``k0``, walls ``k_prime`` on particles 1 and N,
    parameters as :func:`meanfield_jax.networks.nearest_neighbour`. O(N).

    Raises:
      ValueError, TypeError: naming the parameter (masses, k, k0, gamma, k_prime).
    """
    masses = np.asarray(checked_masses(masses), dtype=np.float64)
    n = masses.shape[0]
    if np.ndim(k) == 0:
        spring = np.full(n - 1, float(checked_scalar("k", k, nonnegative=True)))
    else:
        spring = np.asarray(k, dtype=np.float64)
        if spring.shape != (n - 1,):
            raise ValueError(f"k must be a scalar or N − 1 = {n - 1} springs, got shape "
                             f"{spring.shape}")
        if not np.all(np.isfinite(spring)) or np.any(spring < 0):
            raise ValueError("k must be finite and >= 0")
    k0 = float(checked_scalar("k0", k0, nonnegative=True))
    k_prime = float(checked_scalar("k_prime", k_prime, nonnegative=True))
    gamma = float(checked_scalar("gamma", gamma, positive=True))
    excess = np.full(n, k0)
    excess[0] += k_prime
    excess[-1] += k_prime
    return TridiagonalChain(jnp.asarray(masses), jnp.asarray(spring), jnp.asarray(excess),
                            jnp.asarray(gamma), jnp.asarray(float(t_left)),
                            jnp.asarray(float(t_right)))


def is_tridiagonal(stiffness) -> bool:
    """Whether a concrete (N, N) K has K_ij = 0 for |i − j| > 1. O(N²)."""
    k = np.asarray(stiffness)
    n = k.shape[-1]
    far = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) > 1
    return not np.any(k[..., far])


def from_network(network, method: str = "transfer") -> TridiagonalChain:
    """The :class:`TridiagonalChain` of a HarmonicNetwork (one, or a batch under ``vmap``).

    A concrete K is checked (ValueError naming ``method`` if it is not tridiagonal); a
    traced K is taken as tridiagonal (its entries beyond the first off-diagonal ignored).
    """
    stiffness = network.stiffness
    if is_concrete(stiffness) and not is_tridiagonal(stiffness):
        raise ValueError(f"method={method!r} needs a nearest-neighbour network (tridiagonal "
                         "stiffness K); this K has entries beyond the first off-diagonal: use "
                         "method='auto' or 'residues'")
    diag = jnp.diagonal(stiffness, axis1=-2, axis2=-1)
    spring = -jnp.diagonal(stiffness, offset=1, axis1=-2, axis2=-1)
    n = diag.shape[-1]
    ends = (jnp.arange(n) == 0) | (jnp.arange(n) == n - 1)
    pad = jnp.zeros(spring.shape[:-1] + (1,), spring.dtype)
    left = jnp.concatenate([pad, spring], axis=-1)
    right = jnp.concatenate([spring, pad], axis=-1)
    k_prime = jnp.asarray(network.k_prime)[..., None]
    excess = (diag - left - right) + jnp.where(ends, k_prime, 0.0)
    return TridiagonalChain(network.masses, spring, excess, network.gamma, network.t_left,
                            network.t_right)


# ----------------------------------------------------------------------------- T(ω)


def _transmittance_flat(chain: TridiagonalChain, omega):
    """T at a 1-D array of frequencies ω ≥ 0 (module docstring; ω = 0 handled apart)."""
    m, k, e, gamma = chain.masses, chain.spring, chain.excess, chain.gamma
    n = m.shape[-1]
    zero = omega == 0
    w = jnp.where(zero, 1.0, omega)
    w2 = w * w
    # complex arithmetic written out in reals (q = a + ib): XLA's complex division is slow
    a0 = e[0] - w2 * m[0]
    b0 = -w * gamma
    k_right = jnp.concatenate([k, jnp.zeros(1, k.dtype)])
    r0 = (a0 + k_right[0]) ** 2 + b0 * b0
    damping = jnp.zeros(n).at[n - 1].set(gamma)

    def step(carry, x):
        a, b, mant, expo = carry
        k_left, kr, ei, mi, gi = x
        ka = k_left + a  # r_{i−1} = k_{i−1} + q_{i−1}
        scale = k_left / (ka * ka + b * b)
        tail_re = scale * (a * ka + b * b)  # k q / (k + q)
        tail_im = scale * (b * ka - a * b)
        a = (ei - w2 * mi) + tail_re
        b = tail_im - w * gi
        r_re = a + kr
        mant, ex = jnp.frexp(mant * (r_re * r_re + b * b))  # Π|r|², no overflow
        return (a, b, mant, expo + ex), None

    mant0, expo0 = jnp.frexp(r0)
    xs = (k, k_right[1:], e[1:], m[1:], damping[1:])
    # unroll: XLA's per-iteration overhead halved (measured ~2× on CPU), same arithmetic
    (_, _, mant, expo), _ = jax.lax.scan(step, (a0, b0, mant0, expo0), xs, unroll=4)
    log_k = jnp.sum(jnp.log(k))
    log_g = log_k - 0.5 * (jnp.log(mant) + expo * math.log(2.0))
    t = 4.0 * gamma * gamma * w2 * jnp.exp(2.0 * log_g)
    # ω = 0: T(0) = 1 for a free chain (cofactors of a path Laplacian all equal Π k_i,
    # det Z ≈ −2iωγ Π k_i), 0 for a pinned or walled one
    t0 = jnp.where(jnp.all(e == 0.0), 1.0, 0.0)
    return jnp.where(zero, t0, t)


@_config.jit(compiler_options=False)  # XLA's fusion emitters: ~2.5× faster for this scan
def transmittance_transfer(chain: TridiagonalChain, omega):
    """T(ω) = 4γ²ω²|G_1N|² (Eq. 17) of a tridiagonal chain by the ratio recurrence.

    O(N) per frequency, relatively accurate (a few N·ε) at every ω, including far above
    the band and ω → 0 of a free chain. Runs under ``jit``/``vmap``/``grad``.

    Args:
      chain: a :class:`TridiagonalChain` (:func:`from_network`, :func:`tridiagonal_chain`).
      omega: real frequencies, any shape (T is even in ω).

    Returns:
      float64 array with the shape of ``omega``.
    """
    omega = jnp.asarray(omega, jnp.float64)
    flat = jnp.abs(jnp.ravel(omega))
    return _transmittance_flat(chain, flat).reshape(omega.shape)


def _evaluate(omega, chain):
    """T at the frequencies ``omega`` (NumPy), padded to a power of two up to 16384, then to
    a multiple of 16384 (one compilation per size: few sizes, bounded padding)."""
    size = max(1024, 1 << (omega.size - 1).bit_length())
    if size > 16384:
        size = -(-omega.size // 16384) * 16384
    padded = np.ones(size)
    padded[:omega.size] = omega
    return np.asarray(transmittance_transfer(chain, jnp.asarray(padded)))[:omega.size]


# ------------------------------------------------------------------------------ J


def _ts_map(t):
    """x(t) = (1 + tanh(π/2 sinh t)) / 2 in (0, 1) and dx/dt (tanh-sinh, both ends clustered)."""
    u = 0.5 * math.pi * np.sinh(t)
    x = 1.0 / (1.0 + np.exp(-2.0 * u))  # keeps relative accuracy as x → 0
    return x, 0.25 * math.pi * np.cosh(t) / np.cosh(u) ** 2


def _gauss_pieces(change, t_lo, t_hi, chain):
    """G16 and |G8 − G16| of ∫ T(ω(t)) ω'(t) dt / 2π on each piece [t_lo, t_hi];
    ``change(t)`` gives ω and dω/dt at the nodes (one row per piece)."""
    out = []
    for nodes, weights in _GAUSS:
        half = 0.5 * (t_hi - t_lo)[:, None]
        omega, jac = change(0.5 * (t_hi + t_lo)[:, None] + half * nodes[None, :])
        tr = _evaluate(omega.ravel(), chain).reshape(omega.shape)
        out.append(np.sum(tr * jac * weights[None, :] * half, axis=1) / (2 * math.pi))
    return out[1], np.abs(out[1] - out[0])


def _peaks(chain: TridiagonalChain, n: int):
    """A function ``peaks(lo, hi)`` → the undamped eigenfrequencies ω_lo … ω_{hi−1}
    (of M^−½ K_w M^−½), by LAPACK bisection on the needed index range: O(N) per value."""
    m = np.asarray(chain.masses)
    k = np.asarray(chain.spring)
    e = np.asarray(chain.excess)
    diag = e + np.concatenate([[0.0], k]) + np.concatenate([k, [0.0]])
    s = 1.0 / np.sqrt(m)
    d, off = diag * s * s, -k * s[:-1] * s[1:]
    if n <= 1024:
        lam = scipy.linalg.eigh_tridiagonal(d, off, eigvals_only=True)
        omega = np.sqrt(np.clip(lam, 0.0, None))
        return lambda lo, hi: omega[lo:hi]

    def peaks(lo, hi):
        lam = scipy.linalg.eigh_tridiagonal(d, off, eigvals_only=True, select="i",
                                            select_range=(lo, hi - 1))
        return np.sqrt(np.clip(np.sort(lam), 0.0, None))

    return peaks


def _flux_per_kelvin(chain: TridiagonalChain, rtol: float):
    """(J/ΔT, error estimate, peaks summed) by peak-by-peak quadrature (module docstring)."""
    n = int(chain.masses.shape[0])
    peaks = _peaks(chain, n)
    chain = TridiagonalChain(*(jnp.asarray(x, jnp.float64) for x in chain))  # on device once
    omega_max = float(peaks(n - 1, n)[0])
    tail_start = 2.0 * omega_max

    def half_intervals(j, hi):
        """Nodes' starts and lengths of the half-intervals of peaks j … hi − 1."""
        peak = peaks(j, min(hi + 1, n))
        left = peaks(j - 1, j) if j > 0 else None
        nxt = peak[1:] if hi < n else np.append(peak[1:], 2.0 * tail_start - peak[-1])
        peak = peak[: hi - j]
        prev = np.concatenate([[0.0] if left is None else left, peak[:-1]])
        mid_lo = 0.5 * (prev + peak) if left is not None else np.concatenate(
            [[0.0], 0.5 * (prev[1:] + peak[1:])])
        if left is None:
            mid_lo[0] = 0.0
        mid_hi = 0.5 * (peak + nxt)
        if hi == n:
            mid_hi[-1] = tail_start
        start = np.concatenate([peak, peak])
        length = np.concatenate([mid_lo - peak, mid_hi - peak])
        keep = length != 0  # a zero mode's empty left half (free ends)
        return start[keep], length[keep]

    def integrate(start, length, t_lo, t_hi):
        def change(t):
            x, dx = _ts_map(t)
            return start[:, None] + length[:, None] * x, np.abs(length)[:, None] * dx
        return _gauss_pieces(change, t_lo, t_hi, chain)

    def tail(t_lo, t_hi):
        def change(t):
            _, dx = _ts_map(t)
            one_minus_x = 1.0 / (1.0 + np.exp(np.pi * np.sinh(t)))  # 1 − x, no cancellation
            return tail_start / one_minus_x, tail_start * dx / one_minus_x ** 2
        return _gauss_pieces(change, t_lo, t_hi, chain)

    total, error, last, j = 0.0, 0.0, math.inf, 0
    edges = np.linspace(-_T_MAX, _T_MAX, _PIECES + 1)
    while j <= n:
        hi = min(j + _CHUNK, n)
        if j < n:
            start, length = half_intervals(j, hi)
        else:
            start, length = np.array([tail_start]), None
        count = start.shape[0]
        start = np.repeat(start, _PIECES)
        t_lo = np.tile(edges[:-1], count)
        t_hi = np.tile(edges[1:], count)
        if length is None:
            val, err = tail(t_lo, t_hi)
        else:
            length = np.repeat(length, _PIECES)
            val, err = integrate(start, length, t_lo, t_hi)
        for _ in range(60):  # halve the worst pieces until the chunk's error is small
            target = 0.1 * rtol * max(total + val.sum(), 1e-300)
            if err.sum() <= target:
                break
            # a piece whose |G8 − G16| is at the rounding level of T (relative N·ε) is not
            # split again: halving cannot shrink it (these floors sum to ≤ N·ε·J)
            floor = n * _EPS * np.abs(val)
            split = (err > min(err.max(), target / err.size) * 0.5) & (err > floor)
            if not split.any():
                break
            mid_t = 0.5 * (t_lo[split] + t_hi[split])
            new_lo = np.concatenate([t_lo[split], mid_t])
            new_hi = np.concatenate([mid_t, t_hi[split]])
            new_start = np.tile(start[split], 2)
            if length is None:
                new_val, new_err = tail(new_lo, new_hi)
            else:
                new_len = np.tile(length[split], 2)
                new_val, new_err = integrate(new_start, new_len, new_lo, new_hi)
                length = np.concatenate([length[~split], new_len])
            start = np.concatenate([start[~split], new_start])
            t_lo = np.concatenate([t_lo[~split], new_lo])
            t_hi = np.concatenate([t_hi[~split], new_hi])
            val = np.concatenate([val[~split], new_val])
            err = np.concatenate([err[~split], new_err])
        total += val.sum()
        error += err.sum()
        last = val.sum()
        if j == n:
            break
        j = hi
        if 4 * _CHUNK <= j < n and last < 1e-3 * rtol * total:
            break
    remaining = math.ceil((n - j) / _CHUNK) if j < n else 0
    return total, error + remaining * last + 2.0 * n * _EPS * total, j


def flux_transfer(chain: TridiagonalChain, rtol: float = 1e-10) -> FluxResult:
    """J (Eq. 16, ΔT included) of one concrete tridiagonal chain with its error estimate.

    Peak-by-peak adaptive quadrature of the recurrence's T(ω) (module docstring: method,
    accuracy contract, cost). Host-driven (NumPy decides the refinement on concrete values;
    the T evaluations are one jitted kernel): not traceable, not differentiable.

    Returns:
      FluxResult (float64 0-d arrays); ``converged``: estimate ≤ 1e-9·|J|.
    """
    j, err, _ = _flux_per_kelvin(chain, rtol)
    dt = float(chain.t_left) - float(chain.t_right)
    converged = bool(np.isfinite(j) and err <= CONVERGED_RTOL * abs(j))
    return FluxResult(jnp.asarray(j * dt), jnp.asarray(err * abs(dt)), jnp.asarray(converged))


def flux_transfer_callback(chain: TridiagonalChain, rtol: float = 1e-10) -> FluxResult:
    """:func:`flux_transfer` as one JAX operation (``jax.pure_callback``): usable inside
    ``jit`` and ``vmap`` (systems run one after another on the host; the chain's O(N)
    arrays cross, not K). Not differentiable. The chain is trusted to be tridiagonal
    (check concrete K with :func:`from_network` first)."""
    def host(masses, spring, excess, gamma, t_left, t_right):
        chain = TridiagonalChain(*(np.asarray(x, np.float64) for x in (
            masses, spring, excess, gamma, t_left, t_right)))
        r = flux_transfer(chain, rtol)
        return (np.float64(r.flux), np.float64(r.error_estimate), np.bool_(r.converged))

    shapes = (jax.ShapeDtypeStruct((), jnp.float64), jax.ShapeDtypeStruct((), jnp.float64),
              jax.ShapeDtypeStruct((), jnp.bool_))
    out = jax.pure_callback(host, shapes, *chain, vmap_method="sequential")
    return FluxResult(*out)


def nearest_neighbour_flux_with_error(masses, *, k=1.0, k0=0.0, gamma=1.0, t_left=1.0,
                                      t_right=0.0, k_prime=0.0,
                                      rtol: float = 1e-10) -> FluxResult:
    """Heat flux J (Eq. 16) of a nearest-neighbour chain without forming K: O(N) memory.

    For chains too long for the dense N × N K of ``networks.nearest_neighbour`` (N ≫ 10⁴);
    the same J as ``heat_flux_with_error(networks.nearest_neighbour(...), method="transfer")``.
    Parameters as :func:`meanfield_jax.networks.nearest_neighbour` (``k``: a scalar or the
    N − 1 springs). Method, accuracy and cost: module ``_transfer`` (peak-by-peak quadrature
    of the O(N)-per-frequency recurrence; ~O(N^1.5) for disordered chains).

    Args:
      masses: the N masses (N ≥ 2).
      k: the nearest-neighbour spring, a scalar or the N − 1 springs.
      k0, gamma, t_left, t_right, k_prime: pinning, bath friction and temperatures, wall
        springs, as in :func:`meanfield_jax.networks.nearest_neighbour`.
      rtol: the relative accuracy the quadrature aims at.

    Returns:
      A :class:`FluxResult` (flux, error_estimate, converged).

    Raises:
      ValueError, TypeError: naming the bad parameter.

    >>> import meanfield_jax as mf
    >>> r = mf.nearest_neighbour_flux_with_error([1.0] * 5, k=1.0, gamma=1.0)
    >>> round(float(r.flux), 12), bool(r.converged)  # k γ / (2 (k m + γ²)), any N
    (0.25, True)
    """
    chain = tridiagonal_chain(masses, k=k, k0=k0, gamma=gamma, t_left=t_left,
                              t_right=t_right, k_prime=k_prime)
    return flux_transfer(chain, rtol)


# -------------------------------------------------------------- end amplitudes of modes


def end_amplitudes(chain: TridiagonalChain):
    """Eigenvalues λ_j of (K_w, M) and the mass-normalised modes' end amplitudes
    (U_1j, U_Nj), UᵀMU = I, to full relative accuracy however small (1e-300).

    Each λ_j (LAPACK, absolute error ~ε‖K̃‖) is refined by one Rayleigh-quotient step on
    the twisted factorisation of K̃ − λ_j (K̃ = M^−½ K_w M^−½): the pivots d⁺_i from particle 1
    down and d⁻_i from particle N up meet at the twist r = argmin |γ_r|, γ_r =
    d⁺_r + d⁻_r − (K̃_rr − λ); the mode z (z_r = 1) follows outward by products
    z_i = −b_i z_{i+1}/d⁺_i (i < r), z_i = −b_{i−1} z_{i−1}/d⁻_i (i > r): products with no
    cancellation, carried in logarithms, so |z_1| = e^(−40) or e^(−700) comes out with a
    relative error of a few N·ε (Dhillon & Parlett's twisted factorisation; LAPACK's own
    vectors are accurate only to ~ε in absolute terms and truncate small entries).
    O(N) per mode, O(N²) in all (vectorised over modes).

    Returns:
      (lam (N,), u1 (N,), un (N,)) as NumPy arrays; signs of u1, un relative to each other
      are the mode's (u1 > 0).
    """
    m = np.asarray(chain.masses, dtype=np.float64)
    k = np.asarray(chain.spring, dtype=np.float64)
    e = np.asarray(chain.excess, dtype=np.float64)
    diag = e + np.concatenate([[0.0], k]) + np.concatenate([k, [0.0]])
    s = 1.0 / np.sqrt(m)
    a, b = diag * s * s, -k * s[:-1] * s[1:]
    lam = scipy.linalg.eigh_tridiagonal(a, b, eigvals_only=True)
    lam, log1, logn, sgn = (np.asarray(x) for x in _twisted(jnp.asarray(a), jnp.asarray(b),
                                                           jnp.asarray(lam)))
    # U = M^−½ Φ: the end amplitudes of the mass-normalised modes
    u1 = np.exp(log1) * s[0]
    un = sgn * np.exp(logn) * s[-1]
    return lam, u1, un


@_config.jit
def _twisted(a, b, lam):
    """Twisted factorisation per eigenvalue (``_secular.twisted_end_amplitudes``, see
    :func:`end_amplitudes`): refined λ, log|φ_1|, log|φ_N| of the unit eigenvector φ, and
    sign(φ_N/φ_1). Vectorised over λ."""
    return twisted_end_amplitudes(a, b, lam, a.shape[0] - 1)


# ------------------------------------------------------------------------- T_n


def _mode_data(chain: TridiagonalChain):
    """λ (N,), U = M^−½Φ (N, N) with LAPACK's interior entries, and each mode's bath
    amplitudes to full relative accuracy as size s_j = |(U_1j, U_Nj)| and direction
    d_bj = U_bj/s_j (from :func:`_twisted`'s logarithms: s underflows harmlessly, d never)."""
    m = np.asarray(chain.masses, dtype=np.float64)
    k = np.asarray(chain.spring, dtype=np.float64)
    e = np.asarray(chain.excess, dtype=np.float64)
    diag = e + np.concatenate([[0.0], k]) + np.concatenate([k, [0.0]])
    sq = 1.0 / np.sqrt(m)
    a, b = diag * sq * sq, -k * sq[:-1] * sq[1:]
    lam0, phi = scipy.linalg.eigh_tridiagonal(a, b)
    lam, log1, logn, rel = (np.asarray(x) for x in _twisted(jnp.asarray(a), jnp.asarray(b),
                                                           jnp.asarray(lam0)))
    log1 = log1 + np.log(sq[0])
    logn = logn + np.log(sq[-1])
    top = np.maximum(log1, logn)
    log_s = top + 0.5 * np.log1p(np.exp(2.0 * (np.minimum(log1, logn) - top)))
    # orient the accurate amplitudes like LAPACK's column (its larger end's sign)
    lapack_sign = np.where(log1 >= logn, np.sign(phi[0]), np.sign(phi[-1]))
    lapack_sign = np.where(lapack_sign == 0, 1.0, lapack_sign)
    sign1 = np.where(log1 >= logn, lapack_sign, lapack_sign * rel)
    signn = sign1 * rel
    d = np.stack([sign1 * np.exp(log1 - log_s), signn * np.exp(logn - log_s)])
    return lam, sq[:, None] * phi, np.exp(log_s), d


def temperatures_transfer(chain: TridiagonalChain):
    """Local temperatures T_n (Eq. 31) of a tridiagonal chain, exact for modes however
    weakly they touch the baths. Host-driven NumPy/LAPACK, O(N³) (dense solve of 3N).

    Normal modes (λ_j, U, UᵀMU = I) of (K_w, M) with the bath amplitudes u_bj = U_bj
    (b = 1, N) to full relative accuracy (:func:`end_amplitudes`). In mode coordinates the
    stationary Lyapunov equations with damping C = γ Σ_b u_b u_bᵀ and noise
    D = 2γ Σ_b T_b u_b u_bᵀ, for P = ⟨ẏẏᵀ⟩ and the antisymmetric Y = ⟨yẏᵀ⟩ (positions
    eliminated without dividing by λ, so a free chain's zero mode is included), read, with
    c_ij = 1/(λ_j − λ_i) (i ≠ j), V = BᵀP and W = BᵀY (B = [u_1, u_N], 2 × N unknowns):

        Y_ij = c_ij (CP + PC − D)_ij,   P_ij = −γ c_ij Σ_b (λ_j u_bi W_bj − λ_i W_bi u_bj),
        Σ_b u_bj V_bj = Σ_b T_b u_bj²   (energy balance of mode j).

    Closing V_aj = Σ_i u_ai P_ij and W_aj = Σ_i u_ai Y_ij gives 5N linear equations; each
    mode's are divided by its amplitude s_j (and s_j²), so a mode with s_j = 1e-40 keeps
    O(1) coefficients and comes out at its weak-coupling temperature
    T_R + (T_L − T_R) u_1j²/s_j² plus its (tiny) exact correction: no mode is "unresolved".
    W is eliminated (2N × 2N products), the 3N system (V, P_jj) solved by LU with one step
    of iterative refinement. Then T_n = m_n Σ_ij U_ni U_nj P_ij (Eq. 31).

    Error estimate per site: the refinement step's change of T_n (twice), the rounding
    of the sums (8(N+4)ε m_n (|U||P||U|)_nn), the eigenvalues' errors (4ε‖K̃‖ absolute after
    the Rayleigh step) through each c_ij, and LAPACK's absolute error in U's interior entries.
    ``converged``: every estimate ≤ 1e-9·max(T_L, T_R).

    Returns:
      TemperatureResult of NumPy arrays (temperatures (N,), error_estimate (N,), converged).
    """
    lam, u, s, d = _mode_data(chain)
    n = lam.shape[0]
    gamma = float(chain.gamma)
    tb = np.array([float(chain.t_left), float(chain.t_right)])
    m = np.asarray(chain.masses, dtype=np.float64)
    diff = lam[None, :] - lam[:, None]  # (i, j): λ_j − λ_i
    off = ~np.eye(n, dtype=bool)
    c = np.where(off & (diff != 0), 1.0 / np.where(diff != 0, diff, 1.0), 0.0)
    s2 = s * s
    amp = [[(s2 * d[a] * d[b]) @ c for b in range(2)] for a in range(2)]  # A^{ab}_j
    ct = c.T  # ct[j, i] = c_ij
    g_blocks = [[gamma * (np.diag(amp[a][b]) + d[b][:, None] * (ct * (d[a] * s2)[None, :]))
                 for b in range(2)] for a in range(2)]
    g_rhs = [-2.0 * gamma * sum(tb[b] * d[b] * amp[a][b] for b in range(2)) for a in range(2)]
    h_blocks = [[gamma * (np.diag(lam * amp[a][b])
                          - d[b][:, None] * (ct * (d[a] * s2 * lam)[None, :]))
                 for b in range(2)] for a in range(2)]
    g_mat = np.block(g_blocks)
    h_mat = np.block(h_blocks)
    g_vec = np.concatenate(g_rhs)
    system = np.zeros((3 * n, 3 * n))
    system[:2 * n, :2 * n] = np.eye(2 * n) + h_mat @ g_mat
    system[:n, 2 * n:] = -np.diag(d[0])
    system[n:2 * n, 2 * n:] = -np.diag(d[1])
    system[2 * n:, :n] = np.diag(d[0])
    system[2 * n:, n:2 * n] = np.diag(d[1])
    rhs = np.concatenate([-h_mat @ g_vec, tb[0] * d[0] ** 2 + tb[1] * d[1] ** 2])
    lu = scipy.linalg.lu_factor(system)
    x = scipy.linalg.lu_solve(lu, rhs)
    dx = scipy.linalg.lu_solve(lu, rhs - system @ x)

    def temperatures(x):
        v = x[:2 * n]
        w = (g_mat @ v + g_vec).reshape(2, n)
        p = np.zeros((n, n))
        for b in range(2):
            lw = lam * w[b]
            p -= gamma * (np.outer(d[b], lw) - np.outer(lw, d[b]))
        p *= c * np.outer(s, s)
        p[np.diag_indices(n)] = x[2 * n:]
        return m * np.sum((u @ p) * u, axis=1), p

    temps, p = temperatures(x + dx)
    temps_unrefined, _ = temperatures(x)
    eps = _EPS
    ua, pa = np.abs(u), np.abs(p)
    rounding = 8.0 * (n + 4) * eps * m * np.sum((ua @ pa) * ua, axis=1)
    # λ after the Rayleigh step on the twisted factorisation: a few ε‖K̃‖ absolute
    lam_err = 4.0 * eps * np.max(np.abs(lam))
    pc = pa * np.minimum(lam_err * np.abs(c), 1.0)  # relative error of each c_ij
    eig = m * np.sum((ua @ pc) * ua, axis=1)
    interior = 8.0 * n * eps * m * np.max(ua, axis=0).max() * np.sum(ua @ pa, axis=1)
    err = 2.0 * np.abs(temps - temps_unrefined) + rounding + eig + interior
    scale = max(abs(tb[0]), abs(tb[1]))
    converged = bool(np.all(np.isfinite(temps)) and np.all(err <= CONVERGED_RTOL * scale))
    return TemperatureResult(temps, err, np.bool_(converged))
