"""Exact transport through any harmonic network by its normal modes: the 2×2 secular form.

Notation (paper, Sec. II, for any K): Z(ω) = K_w − ω² M + iωγ P with K_w = K + k'P and
P = e₁e₁ᵀ + e_Ne_Nᵀ (Eq. 7); G = Z⁻¹ (Eq. 11).

Normal modes. One symmetric eigendecomposition M^{-1/2} K_w M^{-1/2} = Φ Λ Φᵀ (``eigh``,
O(N³), runs on CPU and GPU) gives U = M^{-1/2} Φ with Uᵀ M U = I, UᵀK_wU = Λ, and the
bath amplitudes b_j = (U_1j, U_Nj). Then UᵀZU = D(ω) + iωγ BᵀB, D = diag(λ_j − ω²), a
diagonal plus a rank-2 term, and Woodbury gives the bath block and columns of G exactly:

    S(ω) = Σ_j b_j b_jᵀ / (λ_j − ω²)                      (2×2, the undamped G on 1, N)
    E(ω) = I + iωγ S(ω),   Δ(ω) = det E = 1 + iωγ tr S − γ²ω² det S
    G_{1N} = S_{1N}/Δ,     G_{:,(1,N)} = Y(ω) E(ω)⁻¹,  Y_{na} = Σ_j U_nj b_{aj}/(λ_j − ω²)

so T(ω) = 4γ²ω²|S_1N|²/|Δ|² (Eq. 17) costs O(N) per frequency.

Deflation. Modes are grouped by eigenvalue (|λ_i − λ_j| ≤ δ·λ_max, δ = 32 N ε: equal to
the accuracy of ``eigh``); a group g enters only through R_g = Σ_{j∈g} b_j b_jᵀ, whose rank
r_g ∈ {0, 1, 2} (eigenvalues of R_g below (8Nε)² max tr R count as zero) is the number of
modes of the group that touch a bath. Rank-0 groups (modes with no amplitude at particles
1 and N, e.g. the N − 3 relative bulk modes of identical masses) carry no flux and are
dropped: in T_n they keep zero energy (the particular solution from rest, as in the paper
and as ``method="lyapunov"``). A mode whose bath amplitude is below rounding cannot be
told from a decoupled one by the poles; it is deflated, and T_n gives it its weak-coupling
temperature or keeps it at rest (``_secular_residues.temperatures_by_secular``,
``decoupled=``). Its amplitudes are exact where the structure allows: reflection-symmetric
networks (parity-projected modes, |b_1j| = |b_Nj|) and nearest-neighbour networks (twisted
factorisation, full relative accuracy); :func:`network_modes`.

Poles. The poles of G that couple to the baths are the zeros of

    f(ω) = Δ(ω) Π_g (λ_g − ω²)^{r_g},   a polynomial of degree 2 Σ r_g ≤ 2N,

all in the upper half plane (ω and −ω̄ together), except ω = 0 for a momentum-conserving
network (λ = 0 mode, k0 = k' = 0), which is a zero of f but not a pole of T (T(0) is finite)
and is deflated. Σ_p ω_p = iγ(1/m_1 + 1/m_N) (trace of the state matrix): a sum rule we check.
They are found by Aberth–Ehrlich iteration on f (all zeros at once, started from the
first-order positions Ω_g ± iγμ/2, μ an eigenvalue of R_g), O(N²) per sweep, then
polished by Newton steps on the home-scaled secular function below with exact offsets.

Exact offsets. Near its nearest ("home") node Ω_h a zero is written ω = σΩ_h + τ,
σ = ±1, and every λ_g − ω² = ((Ω_g − σΩ_h) − τ)((Ω_g + σΩ_h) + τ) (exact differences, as
in the chain solver, docs/method.md). With S = R_h/d_h + S′ (S′ without group h) the scaled
secular function

    F = d_h Δ = d_h + iωγ(tr R_h + d_h tr S′) − γ²ω²(d_h det S′ + R_h : adj S′)   (r_h = 1)
    F = d_h² Δ = d_h F₁ − γ²ω² det R_h                                             (r_h = 2)

(R : A = R₁₁A₁₁ + R_NN A_NN + 2R_1N A_1N) has no cancellation however narrow the resonance.

Residue sums. Eq. (16) closed in the upper half plane, using Δ(−ω_p) = −2iγω_p tr S(ω_p):

    J/ΔT = Re Σ_p t_p,  t_p = −γ ω_p S_1N² /(Δ′ tr S) = −γ ω_p s̃² d_h^{r−1} / (F′ t̃)

with s̃ = d_h S_1N, t̃ = d_h tr S (or, where t̃ cancels, the equivalent
2iγ²ω² S_1N²/(Δ′Δ(−ω)) in scaled form). O(N) per pole, O(N²) in all. For T_n (Eq. 31 for
networks: T_n = 2γ m_n ∫ dω/2π ω² Σ_b T_b |G_nb|²) the same poles give

    T_n = 2γ m_n Re i Σ_p ω_p² Σ_b T_b [Res_p G_{:,b}]_n [G_{:,b}(−ω_p)]_n,

Res_p G_{:,b} = Y(ω_p) adj E(ω_p) e_b / Δ′(ω_p), G_{:,b}(−ω_p) = Y(ω_p) E(−ω_p)⁻¹ e_b,
with the home group's term of Y scaled out analytically (adj R_h = 0 for rank 1). Y for
all poles is one product U·W (N × N times N × 2P): O(N³), the cost of the eigh.

Error estimate (never smaller than the error we can bound): each zero ω_p carries a
position error δ_p = max(last Newton step, η_F/|F′|), η_F a first-order bound on the
rounding noise of F; its term's error |t_p′|δ_p (forward-mode derivative), summed; plus
16(N+4)ε Σ|t_p| rounding. T_n the same with the per-site derivative of each pole's
contribution. ``converged`` needs error ≤ 1e-9|J| (T_n: ≤ 1e-9 max(T_L, T_R) at every
site), the sum rule to 1e-8 (or to the position bounds of near-degenerate pairs) and
Aberth's convergence.

Near-degenerate pairs (strong damping with symmetric ends: the two end-localised overdamped
modes, e.g. ω ≈ iγ/m in an ordered nearest-neighbour chain, split by a coupling that decays
with N) have large, nearly opposite terms whose sum the position errors spoil: J takes
their sum as the trapezoidal rule for (1/4π)∮T dω on a circle around the pair (``_contour``,
the chain solver's rule), T(z) in the home-scaled form above; T_n likewise, with the
integrand ω² Σ_b T_b G_nb(ω)G_nb(−ω) at the circle's nodes (Y for all nodes as one GEMM).
The circle has radius D/8 (D: the pair's distance to the other poles), where F is not small;
the sum rule is checked to within the pair's position bounds (at most 1e-6 of the trace).

Derivatives: zeros are located on gradient-stopped modal data, then one Newton step on the
live data carries the implicit-function derivative (as in the chain solver). ``eigh``'s
derivative is singular for exactly degenerate eigenvalues, so gradients are finite only
for networks without degenerate modes (e.g. random masses or springs).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config
from ._solver_base import EPS, aberth, batch_size, safe_div

__all__ = [
    "NetworkModes",
    "network_modes",
    "is_tridiagonal_traced",
    "reflection_symmetric",
    "twisted_end_amplitudes",
    "secular_transmittance",
    "network_poles",
]

_MAX_ABERTH_ITERATIONS = 300
_NEWTON_REFINEMENTS = 3
CHUNK_ELEMENTS = 400_000  # array entries per batch of the chunked loops (memory bound)


class NetworkModes(NamedTuple):
    """Modal data of a network with its baths (see module docstring). Groups are indexed
    0..N−1 (only the first ``n_groups`` are used); all arrays, traceable.

    Attributes:
      u: (N, N) mass-normalised modes, column j is mode j (Uᵀ M U = I).
      lam: (N,) eigenvalues λ_j of (K_w, M), ascending, snapped to their group's value.
      group: (N,) group index of each mode.
      b1, bn: (N,) bath amplitudes U_1j, U_Nj (zero for modes of rank-0 groups).
      omega: (N,) group frequencies Ω_g = √λ_g (0 for the zero mode and unused groups).
      r11, rnn, r1n, det_r: (N,) R_g entries and det R_g (rank-1 groups: det 0).
      mu1, mu2: (N,) eigenvalues of R_g (μ₁ ≥ μ₂, thresholded to 0).
      rank: (N,) r_g.
      zero_mode: () True if a coupled group has λ_g = 0 (momentum conservation).
      lam_max: () largest eigenvalue (scale).
      raw_lam: (N,) eigenvalues as eigh returned them (not snapped to groups).
      symmetric: () True for a reflection-symmetric network (:func:`reflection_symmetric`).
      parity: (N,) ±1 for a mode of exact parity (U_{N+1−i,j} = ±U_ij, so |U_Nj| = |U_1j|
        bit for bit), 0 where none was imposed (asymmetric networks, degenerate groups).
      accurate_ends: (N,) True for a mode whose end amplitudes U_1j, U_Nj carry full
        relative accuracy (twisted factorisation; nearest-neighbour networks).
    """

    u: jax.Array
    lam: jax.Array
    group: jax.Array
    b1: jax.Array
    bn: jax.Array
    omega: jax.Array
    r11: jax.Array
    rnn: jax.Array
    r1n: jax.Array
    det_r: jax.Array
    mu1: jax.Array
    mu2: jax.Array
    rank: jax.Array
    zero_mode: jax.Array
    lam_max: jax.Array
    raw_lam: jax.Array
    symmetric: jax.Array
    parity: jax.Array
    accurate_ends: jax.Array


def is_tridiagonal_traced(matrix):
    """Whether every entry of ``matrix`` off its three central diagonals is zero, as a
    traced bool (a padded network's inert block is diagonal: it passes). O(N²)."""
    size = matrix.shape[-1]
    index = jnp.arange(size)
    far = jnp.abs(index[:, None] - index[None, :]) > 1
    return jnp.all(jnp.where(far, matrix == 0, True))


def reflection_symmetric(network, n=None):
    """Whether the network is invariant under the reflection i → N + 1 − i of its particles,
    as a traced bool, and the reflection as an index map (padded particles map to
    themselves). Masses and K must agree bit for bit (γ and k' are the same at both ends
    by construction); ``networks``' constructors build such K for symmetric springs and
    masses. Exact on purpose: a K asymmetric in its last bits is a different network, and
    the weak-coupling temperature of a mode with end amplitudes ~1e-17 depends on such a
    perturbation at O(1) (measured: 1-ulp differences in the diagonal of an ordered
    power-law chain, α = 0.5, N = 24, change T_n by 5e-5 in a 40-digit solution). O(N²)."""
    m = network.masses
    size = m.shape[-1]
    n = size if n is None else n
    index = jnp.arange(size)
    rev = jnp.where(index < n, n - 1 - index, index)
    k = network.stiffness
    return jnp.all(m == m[rev]) & jnp.all(k == k[rev][:, rev]), rev


def k_tilde(network, n=None):
    """K̃ = M^−½ (K + k'P) M^−½ (symmetrized), the matrix :func:`network_modes` decomposes,
    and the padded block's eigenvalue unit c (``n``: true N of a padded network; c = 0
    unpadded). O(N²)."""
    m = network.masses
    size = m.shape[-1]
    padded = n is not None
    n = size if n is None else n
    index = jnp.arange(size)
    ends = (index == 0) | (index == n - 1)
    k_w = network.stiffness + jnp.diag(jnp.where(ends, network.k_prime, 0.0))
    s = 1.0 / jnp.sqrt(m)
    kh = s[:, None] * k_w * s[None, :]
    kh = 0.5 * (kh + kh.T)
    pad_value = jnp.zeros((), kh.dtype)
    if padded:  # the padded block's eigenvalues above the real spectrum
        real = index < n
        bound = jnp.max(jnp.sum(jnp.abs(jnp.where(real[:, None] & real[None, :], kh, 0.0)),
                                axis=1))
        pad_value = jax.lax.stop_gradient(2.0 * bound + 1.0)
        # distinct values c, 2c, 3c, …: no degenerate pair, whose eigh derivative is 0/0
        kh = kh + jnp.diag(jnp.where(real, 0.0, pad_value * (index - n + 1)))
    return kh, pad_value


def network_modes(network, n=None) -> NetworkModes:
    """Eigendecomposition of (K_w, M), grouping of degenerate modes, bath amplitudes. O(N³).

    ``network``: a HarmonicNetwork (masses (N,), stiffness (N, N), k_prime, ...). ``n``: the
    true N of a network padded to a size bucket (``_buckets.pad_network``): particles
    0 … n − 1 are real (baths on 0 and n − 1), the rest carry no spring to them. K's block
    structure keeps them out of every real mode (eigh keeps the blocks apart exactly); their
    own block gets the eigenvalues c, 2c, 3c, … (c = 2G + 1, G: Gershgorin bound of the real
    block; distinct, so that eigh's derivative stays finite), above every real eigenvalue:
    they form the last groups, of zero amplitude at both baths (rank 0, deflated), and the
    real groups, λ_max and the grouping tolerance are the unpadded ones.

    Reflection symmetry (:func:`reflection_symmetric`, a traced check): every
    non-degenerate mode of a symmetric network is even or odd, U_{N+1−i,j} = ±U_ij, so
    |U_Nj| = |U_1j| exactly, and its weak-coupling temperature (T_L b_1j² + T_R b_Nj²)/
    (b_1j² + b_Nj²) is (T_L + T_R)/2 however small its amplitudes are (1e-17 and below,
    where ``eigh``'s absolute error ~ε leaves b_Nj/b_1j unknown). Each such mode is
    projected on its parity, φ_j ← (φ_j ± Jφ_j)/‖·‖ (J the reflection, the sign that of
    φ_jᵀJφ_j, which is ±(1 − O(ε²/gap²))): the projection removes eigh's error component
    of the wrong parity and makes |U_1j| = |U_Nj| bit for bit. A degenerate group's R_g is
    symmetrised instead (R_g,11 = R_g,NN holds exactly for an invariant eigenspace).
    O(N²) on top of the eigh.

    Nearest-neighbour networks (K̃ tridiagonal, :func:`is_tridiagonal_traced`; asymmetric,
    or degenerate-free modes without an imposed parity): each non-degenerate mode's end
    amplitudes U_1j, U_Nj come from the twisted factorisation at eigh's λ_j
    (:func:`twisted_end_amplitudes`), to relative accuracy ~N·ε however small (1e-130),
    instead of eigh's ~ε absolute; rows 1 and N of U take these values (eigh's derivative
    kept). ``accurate_ends`` marks them. O(N²) (a lax.cond: nothing for other networks)."""
    m = network.masses
    size = m.shape[-1]
    padded = n is not None
    n = size if n is None else n
    index = jnp.arange(size)
    kh, pad_value = k_tilde(network, None if not padded else n)
    s = 1.0 / jnp.sqrt(m)
    symmetric, rev = reflection_symmetric(network, None if not padded else n)
    lam, phi = jnp.linalg.eigh(kh)
    if padded:
        lam_max = jnp.maximum(jnp.max(jnp.where(lam < 0.5 * pad_value, jnp.abs(lam), 0.0)),
                              1e-300)
    else:
        lam_max = jnp.maximum(jnp.max(jnp.abs(lam)), 1e-300)
    tol = 32.0 * n * EPS
    lam_f = jax.lax.stop_gradient(lam)
    new = jnp.concatenate([jnp.ones(1, bool), (lam_f[1:] - lam_f[:-1]) > tol * lam_max])
    group = jnp.cumsum(new) - 1
    used = index <= group[-1]

    def seg(x):
        return jax.ops.segment_sum(x, group, num_segments=size, indices_are_sorted=True)

    count = seg(jnp.ones(size))
    # reflection symmetry: project each non-degenerate mode on its parity (docstring)
    phi_rev = phi[rev]
    overlap = jax.lax.stop_gradient(jnp.sum(phi * phi_rev, axis=0))  # φ_jᵀJφ_j ≈ ±1
    parity = jnp.where(symmetric & (count[group] == 1) & (jnp.abs(overlap) > 0.5),
                       jnp.sign(overlap), 0.0)
    projected = 0.5 * (phi + parity[None, :] * phi_rev)
    norm = jnp.sqrt(jnp.sum(projected * projected, axis=0))
    phi = jnp.where(parity[None, :] != 0, projected / jnp.where(parity != 0, norm, 1.0), phi)
    u = s[:, None] * phi
    # nearest-neighbour (tridiagonal) networks: end amplitudes to full relative accuracy
    single_mode = count[group] == 1
    accurate, b1_acc, bn_acc = _accurate_end_amplitudes(
        jax.lax.stop_gradient(kh), lam_f, jax.lax.stop_gradient(phi), s, n)
    accurate = accurate & single_mode & (parity == 0)
    # the values replaced, eigh's derivative kept: x − stop_gradient(x) is exactly 0
    # (not b − x added to x, which would lose a b far below x's rounding)
    row1, rown = u[0], u[n - 1]
    row1 = jnp.where(accurate, b1_acc + (row1 - jax.lax.stop_gradient(row1)), row1)
    rown = jnp.where(accurate, bn_acc + (rown - jax.lax.stop_gradient(rown)), rown)
    u = u.at[0].set(row1).at[n - 1].set(rown)
    lam_g = safe_div(seg(lam), count, count > 0)
    single = count == 1
    is_zero = used & (jax.lax.stop_gradient(lam_g) <= tol * lam_max)
    lam_g = jnp.where(is_zero, 0.0, jnp.maximum(lam_g, 0.0))
    b1, bn = u[0], u[n - 1]
    r11, rnn, r1n = seg(b1 * b1), seg(bn * bn), seg(b1 * bn)
    r_mean = 0.5 * (r11 + rnn)  # symmetric network: R_g,11 = R_g,NN (equal already for
    r11 = jnp.where(symmetric, r_mean, r11)  # modes of exact parity; groups: symmetrised)
    rnn = jnp.where(symmetric, r_mean, rnn)
    tr = r11 + rnn
    # eigenvalues of R_g (2×2 symmetric): μ₁ = tr/2 + √(((r11 − rnn)/2)² + r1n²), μ₂ = det/μ₁
    disc2 = (0.5 * (r11 - rnn)) ** 2 + r1n**2
    disc = jnp.sqrt(jnp.where(disc2 > 0, disc2, 1.0)) * (disc2 > 0)
    mu1 = 0.5 * tr + disc
    det_full = r11 * rnn - r1n**2
    mu2 = jnp.where(single, 0.0, safe_div(det_full, mu1, mu1 > 0))
    thr = (8.0 * n * EPS) ** 2 * jnp.max(jax.lax.stop_gradient(tr))
    keep1 = used & (jax.lax.stop_gradient(mu1) > thr)
    keep2 = keep1 & (jax.lax.stop_gradient(mu2) > thr)
    rank = keep1.astype(jnp.int32) + keep2.astype(jnp.int32)
    # rank-1 groups of several modes: project R_g on its leading eigenvector (drop the noise)
    vx = jnp.where(r11 >= rnn, mu1 - rnn, r1n)
    vy = jnp.where(r11 >= rnn, r1n, mu1 - r11)
    vnorm2 = vx**2 + vy**2
    proj = keep1 & ~keep2 & ~single
    ok_v = vnorm2 > 0
    p11 = safe_div(mu1 * vx * vx, vnorm2, ok_v)
    pnn = safe_div(mu1 * vy * vy, vnorm2, ok_v)
    p1n = safe_div(mu1 * vx * vy, vnorm2, ok_v)
    r11 = jnp.where(proj, p11, r11) * keep1
    rnn = jnp.where(proj, pnn, rnn) * keep1
    r1n = jnp.where(proj, p1n, r1n) * keep1
    det_r = jnp.where(keep2, det_full, 0.0)
    mu2 = jnp.where(keep2, mu2, 0.0)
    mu1 = jnp.where(keep1, mu1, 0.0)
    omega = jnp.sqrt(jnp.where(lam_g > 0, lam_g, 1.0)) * (lam_g > 0)
    coupled_mode = keep1[group]
    zero_mode = jnp.any(is_zero & keep1)
    return NetworkModes(u, lam_g[group], group, jnp.where(coupled_mode, b1, 0.0),
                        jnp.where(coupled_mode, bn, 0.0), omega, r11, rnn, r1n, det_r,
                        mu1, mu2, rank, zero_mode, lam_max, lam, symmetric, parity, accurate)


def _accurate_end_amplitudes(kh, lam, phi, s, n):
    """(tridiagonal (N,) bool, U_1j, U_nj) with the end amplitudes of every mode from the
    twisted factorisation at eigh's λ_j (:func:`twisted_end_amplitudes`), oriented like
    eigh's column (the sign of its larger end). Skipped (lax.cond) unless K̃ is
    tridiagonal. O(N²)."""
    size = lam.shape[0]
    tri = is_tridiagonal_traced(kh)

    def compute(_):
        _, log1, logn, rel = twisted_end_amplitudes(jnp.diagonal(kh), jnp.diagonal(kh, 1),
                                                    lam, n - 1)
        big1 = log1 >= logn
        sign = jnp.sign(jnp.where(big1, phi[0], phi[n - 1]))
        sign = jnp.where(sign == 0, 1.0, sign)
        sign1 = jnp.where(big1, sign, sign * rel)
        b1 = sign1 * jnp.exp(log1) * s[0]
        bn = sign1 * rel * jnp.exp(logn) * s[n - 1]
        ok = jnp.isfinite(b1) & jnp.isfinite(bn)
        return ok, jnp.where(ok, b1, 0.0), jnp.where(ok, bn, 0.0)

    def skip(_):
        zeros = jnp.zeros(size)
        return jnp.zeros(size, bool), zeros, zeros

    ok, b1, bn = jax.lax.cond(tri, compute, skip, None)
    return tri & ok, b1, bn


def twisted_end_amplitudes(a, b, lam, last):
    """Twisted factorisation of the symmetric tridiagonal matrix (diagonal ``a``,
    off-diagonal ``b``) at each eigenvalue ``lam`` (absolute error ~ε‖K̃‖, e.g. from eigh):
    refined λ, log|φ_1|, log|φ_last| of the unit eigenvector φ, and sign(φ_last/φ_1).

    Each λ is refined by one Rayleigh-quotient step on the twisted factorisation of
    K̃ − λ: the pivots d⁺_i from particle 1 down and d⁻_i from the last particle up meet at
    the twist r = argmin |γ_r|, γ_r = d⁺_r + d⁻_r − (K̃_rr − λ); the mode z (z_r = 1) follows
    outward by products z_i = −b_i z_{i+1}/d⁺_i (i < r), z_i = −b_{i−1} z_{i−1}/d⁻_i (i > r):
    products with no cancellation, carried in logarithms, so |z_1| = e^(−40) or e^(−700)
    comes out with a relative error of a few N·ε (Dhillon & Parlett; LAPACK's own vectors
    are accurate only to ~ε in absolute terms). ``last``: index of the last real particle
    (traced; a padded block after it, coupled by b = 0, gets z = 0). O(N) per eigenvalue,
    vectorised over ``lam`` in batches of 64."""
    b2 = b * b
    n = a.shape[0]
    tiny = 1e-300

    def pivots(lam):
        def fwd(d, x):
            ai, bprev2 = x
            d = ai - lam - bprev2 / d
            d = jnp.where(d == 0, tiny, d)
            return d, d

        d0 = a[0] - lam
        d0 = jnp.where(d0 == 0, tiny, d0)
        _, dp = jax.lax.scan(fwd, d0, (a[1:], b2))
        dplus = jnp.concatenate([d0[None], dp])

        def bwd(d, x):
            ai, bnext2 = x
            d = ai - lam - bnext2 / d
            d = jnp.where(d == 0, tiny, d)
            return d, d

        dn = a[-1] - lam
        dn = jnp.where(dn == 0, tiny, dn)
        _, dm = jax.lax.scan(bwd, dn, (a[:-1][::-1], b2[::-1]))
        dminus = jnp.concatenate([dm[::-1], dn[None]])
        gam = dplus + dminus - (a - lam)
        return dplus, dminus, gam

    def one(lam):
        def vector(lam):
            dplus, dminus, gam = pivots(lam)
            r = jnp.argmin(jnp.abs(gam))
            idx = jnp.arange(n)
            # log|z_i/z_{i+1}| = log|b_i/d⁺_i| (i < r), log|z_i/z_{i−1}| = log|b_{i−1}/d⁻_i| (i > r)
            lb = jnp.log(jnp.abs(b))
            up = jnp.concatenate([lb - jnp.log(jnp.abs(dplus[:-1])), jnp.zeros(1)])
            down = jnp.concatenate([jnp.zeros(1), lb - jnp.log(jnp.abs(dminus[1:]))])
            sg_up = jnp.concatenate([-jnp.sign(b) * jnp.sign(dplus[:-1]), jnp.ones(1)])
            sg_dn = jnp.concatenate([jnp.ones(1), -jnp.sign(b) * jnp.sign(dminus[1:])])
            up = jnp.where(idx < r, up, 0.0)
            down = jnp.where(idx > r, down, 0.0)
            sg_up = jnp.where(idx < r, sg_up, 1.0)
            sg_dn = jnp.where(idx > r, sg_dn, 1.0)
            # log|z_i| = Σ_{i ≤ l < r} up_l (i < r), Σ_{r < l ≤ i} down_l (i > r)
            log_z = jnp.where(idx < r, jnp.cumsum(up[::-1])[::-1], 0.0) + jnp.where(
                idx > r, jnp.cumsum(down), 0.0)
            sign = jnp.where(idx < r, jnp.cumprod(sg_up[::-1])[::-1], 1.0) * jnp.where(
                idx > r, jnp.cumprod(sg_dn), 1.0)
            z = sign * jnp.exp(log_z)  # |z| ≤ ~1 near the twist; tiny entries underflow
            norm2 = jnp.sum(z * z)
            return gam[r], norm2, log_z, sign

        g, norm2, _, _ = vector(lam)
        lam = lam + g / norm2  # Rayleigh quotient step: γ_r / ‖z‖² (z_r = 1)
        _, norm2, log_z, sign = vector(lam)
        half_log = 0.5 * jnp.log(norm2)
        return lam, log_z[0] - half_log, log_z[last] - half_log, sign[0] * sign[last]

    return jax.lax.map(one, lam, batch_size=64)


# ------------------------------------------------------------------ the secular function


class HomeSums(NamedTuple):
    z: jax.Array  # ω = σΩ_h + τ
    d: jax.Array  # (N,) λ_g − ω², exact offsets
    dh: jax.Array
    s11: jax.Array  # S′ entries (groups other than h)
    snn: jax.Array
    s1n: jax.Array
    abs11: jax.Array  # Σ |R_g,ab / d_g|, for noise bounds
    absnn: jax.Array
    abs1n: jax.Array


def home_sums(md: NetworkModes, h, sigma, tau) -> HomeSums:
    """λ_g − ω² with exact offsets from the home node σΩ_h, and S′ = Σ_{g≠h} R_g/d_g. O(N)."""
    oh = sigma * md.omega[h]
    d = ((md.omega - oh) - tau) * ((md.omega + oh) + tau)
    other = (md.rank > 0) & (jnp.arange(md.omega.shape[0]) != h)
    inv = safe_div(1.0, d, other)
    ainv = jnp.abs(inv)
    return HomeSums(oh + tau, d, d[h], jnp.sum(md.r11 * inv), jnp.sum(md.rnn * inv),
                 jnp.sum(md.r1n * inv), jnp.sum(jnp.abs(md.r11) * ainv),
                 jnp.sum(jnp.abs(md.rnn) * ainv), jnp.sum(jnp.abs(md.r1n) * ainv))


def scaled_secular(md: NetworkModes, gamma, h, e: HomeSums, sign=1.0):
    """(F, s̃, t̃) at the home point: F = d_h^{r_h} Δ(±ω) (``sign`` = −1: Δ(−ω)), s̃ = d_h S_1N,
    t̃ = d_h tr S (module docstring)."""
    r11, rnn, r1n = md.r11[h], md.rnn[h], md.r1n[h]
    dh, z = e.dh, e.z
    tr_s = e.s11 + e.snn
    det_s = e.s11 * e.snn - e.s1n**2
    r_adj = r11 * e.snn + rnn * e.s11 - 2.0 * r1n * e.s1n
    t_t = (r11 + rnn) + dh * tr_s
    g = sign * 1j * gamma * z
    core = dh + g * t_t + g * g * (dh * det_s + r_adj)
    f = jnp.where(md.rank[h] == 2, dh * core + g * g * md.det_r[h], core)
    s_t = r1n + dh * e.s1n
    return f, s_t, t_t


def secular_noise(md: NetworkModes, gamma, h, e: HomeSums):
    """First-order bound on the rounding noise of F (each term's size times a few ε)."""
    r11, rnn, r1n = jnp.abs(md.r11[h]), jnp.abs(md.rnn[h]), jnp.abs(md.r1n[h])
    adh = jnp.abs(e.dh)
    g = jnp.abs(gamma * e.z)
    t_abs = r11 + rnn + adh * (e.abs11 + e.absnn)
    det_abs = e.abs11 * e.absnn + e.abs1n**2
    radj_abs = r11 * e.absnn + rnn * e.abs11 + 2.0 * r1n * e.abs1n
    core = adh + g * t_abs + g * g * (adh * det_abs + radj_abs)
    n = md.omega.shape[0]
    rank2 = md.rank[h] == 2
    size = jnp.where(rank2, adh * core + g * g * jnp.abs(md.det_r[h]), core)
    return 8.0 * (n + 4) * EPS * size


def _home_of(md: NetworkModes, z):
    """Nearest active node ±Ω_g of z: (h, σ, τ = z − σΩ_h)."""
    active = md.rank > 0
    dp = jnp.where(active, jnp.abs(z - md.omega), jnp.inf)
    dm = jnp.where(active, jnp.abs(z + md.omega), jnp.inf)
    best = jnp.minimum(dp, dm)
    h = jnp.argmin(best)
    sigma = jnp.where(dp[h] <= dm[h], 1.0, -1.0)
    return h, sigma, z - sigma * md.omega[h]


def _f_and_derivative(md, gamma, h, sigma, tau):
    """F(τ) and dF/dω at the home point (holomorphic: forward mode with tangent 1)."""
    def fn(t):
        return scaled_secular(md, gamma, h, home_sums(md, h, sigma, t))[0]
    return jax.jvp(fn, (tau,), (jnp.ones_like(tau),))


def _log_derivative(md, gamma, z):
    """f′/f at z (module docstring), the zero mode's ω = 0 deflated. O(N)."""
    h, sigma, tau = _home_of(md, z)
    f, df = _f_and_derivative(md, gamma, h, sigma, tau)
    e = home_sums(md, h, sigma, tau)
    other = (md.rank > 0) & (jnp.arange(md.omega.shape[0]) != h)
    nodes = jnp.sum(safe_div(-2.0 * z * md.rank, e.d, other))
    zero = jnp.where(md.zero_mode, 1.0 / jnp.where(z == 0, 1.0, z), 0.0)
    return df / f + nodes - zero


# ------------------------------------------------------------------------- transmittance


def secular_transmittance(md: NetworkModes, gamma, omega):
    """T(ω) = 4γ²ω²|S_1N|²/|Δ|² (Eq. 17) at one real ω from the modal data. O(N).

    Home-scaled (exact at a mode frequency); at ω = 0 with a zero mode the finite limit
    4 R_1N²/(tr R)² of the zero-mode group (T(0) = 1 for identical masses, Eq. 23)."""
    h, sigma, tau = _home_of(md, omega + 0j)
    e = home_sums(md, h, sigma, tau)
    f, s_t, _ = scaled_secular(md, gamma, h, e)
    # ω G_1N = ω s̃ d_h^{r−1}/F; for the zero-mode home F/ω is finite at ω = 0
    zero_home = (md.omega[h] == 0) & md.zero_mode
    w_is_zero = omega == 0
    safe_w = jnp.where(w_is_zero, 1.0, omega)
    tr_s = e.s11 + e.snn
    det_s = e.s11 * e.snn - e.s1n**2
    r_adj = md.r11[h] * e.snn + md.rnn[h] * e.s11 - 2.0 * md.r1n[h] * e.s1n
    # zero-mode home: d_h = −ω², F/ω = −ω + iγ(tr R + d tr S′) − γ²ω(d det S′ + R:adj S′)
    f_over_w = (-omega + 1j * gamma * ((md.r11[h] + md.rnn[h]) + e.dh * tr_s)
                - gamma**2 * omega * (e.dh * det_s + r_adj))
    wg = jnp.where(zero_home, s_t / f_over_w,
                   jnp.where(w_is_zero, 0.0, safe_w * s_t
                             * jnp.where(md.rank[h] == 2, e.dh, 1.0) / f))
    t = 4.0 * gamma**2 * (wg.real**2 + wg.imag**2)
    return jnp.where(jnp.isfinite(t), t, 0.0)


# ---------------------------------------------------------------------------------- poles


class NetworkPoles(NamedTuple):
    """Zeros of f (module docstring): 2N slots, ``active`` marks the real ones.

    home/sigma/tau: ω_p = σΩ_home + τ with τ to full relative precision.
    step: size of the last Newton step; noise: η_F/|F′| (position-error bound);
    """

    omega: jax.Array
    active: jax.Array
    home: jax.Array
    sigma: jax.Array
    tau: jax.Array
    step: jax.Array
    noise: jax.Array
    aberth_rel: jax.Array
    aberth_iterations: jax.Array


def _start_points(md: NetworkModes, gamma):
    """First-order zeros ±Ω_g + iγμ/2 of every coupled direction, compacted to N slots;
    returns (z0 (2N,), active (2N,))."""
    n = md.omega.shape[0]
    # slot (g, k): k = 0 for μ₁, 1 for μ₂; active if rank_g > k
    act = jnp.concatenate([md.rank > 0, md.rank > 1])
    mu = jnp.concatenate([md.mu1, md.mu2])
    om = jnp.concatenate([md.omega, md.omega])
    order = jnp.argsort(~act, stable=True)[:n]  # Σ r_g ≤ N: the active slots fit
    act, mu, om = act[order], mu[order], om[order]
    scale = jnp.sqrt(md.lam_max)
    width = 0.5 * gamma * mu + 1e-3 * scale / n
    # break the mirror symmetry (a symmetric start cannot resolve zeros on the imaginary axis)
    zp = om + 1j * width * 1.01 + 1e-7 * scale
    zm = -om + 1j * width * 0.97
    # the zero mode: one zero is ω = 0 (deflated), its partner iγ tr R (overdamped drift)
    is_zero = act & (om == 0) & md.zero_mode
    first_zero = is_zero & (jnp.cumsum(is_zero) == 1)
    zp = jnp.where(first_zero, 1j * (gamma * mu + 1e-3 * scale / n), zp)
    z0 = jnp.concatenate([zp, zm])
    active = jnp.concatenate([act, act & ~first_zero])
    return z0, active


def _aberth(md: NetworkModes, gamma, z0, active, scale):
    """Aberth–Ehrlich on f (``_solver_base.aberth``): all zeros at once. O(N²) per sweep,
    chunked."""
    p = z0.shape[0]
    batch = batch_size(p, 4 * md.omega.shape[0] + p, CHUNK_ELEMENTS)

    def correction(z):
        def one(zi):
            ld = _log_derivative(md, gamma, zi)
            diff = zi - z
            ok = active & (diff != 0)
            inter = jnp.sum(safe_div(1.0, diff, ok))
            return ld - inter
        den = _config.map_in_batches(one, z, batch)
        w = 1.0 / den
        return jnp.where(active & jnp.isfinite(w), w, 0.0)

    return aberth(correction, z0, _MAX_ABERTH_ITERATIONS, scale, 1e-12)


def _newton_step(md, gamma, h, sigma, tau):
    f, df = _f_and_derivative(md, gamma, h, sigma, tau)
    step = safe_div(f, df, df != 0)
    return jnp.where(jnp.isfinite(step), step, 0.0)


def network_poles(md: NetworkModes, gamma, md_live: NetworkModes | None = None,
                  gamma_live=None) -> NetworkPoles:
    """All coupled zeros of f, located on ``md`` (gradient-stopped), the last Newton step on
    ``md_live`` (carries the implicit-function derivative). O(N²)."""
    md_live = md if md_live is None else md_live
    gamma_live = gamma if gamma_live is None else gamma_live
    scale = jnp.sqrt(md.lam_max) + gamma * jnp.max(md.mu1)
    z0, active = _start_points(md, gamma)
    z, rel, iters = _aberth(md, gamma, z0, active, 1e-6 * scale)
    z = jnp.where(active, z, 1j * scale)
    p = z.shape[0]
    batch = batch_size(p, 4 * md.omega.shape[0], CHUNK_ELEMENTS)

    def polish(zi):
        h, sigma, tau = _home_of(md, zi)
        tau = jax.lax.fori_loop(0, _NEWTON_REFINEMENTS,
                                lambda _, t: t - _newton_step(md, gamma, h, sigma, t), tau)
        e = home_sums(md, h, sigma, tau)
        _, df = _f_and_derivative(md, gamma, h, sigma, tau)
        noise = secular_noise(md, gamma, h, e) / jnp.abs(df)
        return h, sigma, tau, noise

    h, sigma, tau, noise = _config.map_in_batches(polish, z, batch)
    tau = jax.lax.stop_gradient(tau)
    step = jax.vmap(lambda hh, ss, tt: _newton_step(md_live, gamma_live, hh, ss, tt))(
        h, sigma, tau)
    tau = tau - step
    omega = sigma * md_live.omega[h] + tau
    return NetworkPoles(omega, active, h, sigma, tau, jnp.abs(jax.lax.stop_gradient(step)),
                        jax.lax.stop_gradient(noise), rel, iters)
