"""Tests for meanfield_jax.analytic (closed forms of PRE 105, 054149 and the exact finite-N flux).

Independent references are built here with numpy: dense solves of Z(ω) (Eq. 7) and
scipy quadrature of the resulting transmittance (Eqs. 16-17).
"""

from __future__ import annotations

import doctest
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, linalg, optimize

import meanfield_jax.analytic as an

# ----------------------------------------------------------------------------- references


def dense_Z(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0, dtype=complex):
    """Stack of Z(ω) matrices, Eq. 7, shape (len(omega), n, n)."""
    omega = np.atleast_1d(np.asarray(omega, dtype=float)).astype(np.longdouble)
    ld = np.longdouble
    kap = ld(k) / ld(n_tilde)
    Z = np.empty((omega.size, n, n), dtype=np.clongdouble)
    Z[:] = -kap
    idx = np.arange(n)
    Z[:, idx, idx] = ((n - 1) * kap + ld(k0) - ld(m) * omega**2)[:, None]
    Z[:, 0, 0] += 1j * omega * ld(gamma) + ld(k_prime)
    Z[:, -1, -1] += 1j * omega * ld(gamma) + ld(k_prime)
    return Z.astype(dtype)


def refined_solve(Z_ld, rhs):
    """numpy LU solve in complex128 plus mixed-precision iterative refinement.

    The residual is formed in long double (64-bit mantissa on x86), so the result is
    accurate to ~eps_64 even where Z is ill-conditioned (cond up to ~1e8: free chain at
    ω → 0, where Z has the translation zero mode).
    """
    Z = Z_ld.astype(complex)
    rhs_ld = rhs.astype(np.clongdouble)
    if Z.ndim == 2:                       # one matrix: factor once
        lu = linalg.lu_factor(Z)
        solve = lambda r: linalg.lu_solve(lu, r)  # noqa: E731
    else:                                 # stack of small matrices
        solve = lambda r: np.linalg.solve(Z, r)  # noqa: E731
    x = solve(rhs)
    for _ in range(2):
        r = rhs_ld - Z_ld @ x.astype(np.clongdouble)
        x = x + solve(r.astype(complex))
    return x


def dense_G1N(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0, refine=True):
    Z = dense_Z(omega, n, m, k, k0, n_tilde, gamma, k_prime, dtype=np.clongdouble)
    rhs = np.zeros((Z.shape[0], n, 1), dtype=complex)
    rhs[:, -1, 0] = 1.0
    if refine:
        return refined_solve(Z, rhs)[:, 0, 0]
    return np.linalg.solve(Z.astype(complex), rhs)[:, 0, 0]


def dense_T(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0, refine=True):
    omega = np.atleast_1d(np.asarray(omega, dtype=float))
    g = dense_G1N(omega, n, m, k, k0, n_tilde, gamma, k_prime, refine)
    return 4 * gamma**2 * omega**2 * np.abs(g) ** 2


def dense_T_point(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Scalar T(ω) from a plain complex128 N×N solve of Z (for the quadrature, N <= 10)."""
    kap = k / n_tilde
    Z = np.full((n, n), -kap, dtype=complex)
    np.fill_diagonal(Z, (n - 1) * kap + k0 - m * omega**2)
    Z[0, 0] += 1j * omega * gamma + k_prime
    Z[-1, -1] += 1j * omega * gamma + k_prime
    e = np.zeros(n, dtype=complex)
    e[-1] = 1.0
    return 4 * gamma**2 * omega**2 * abs(np.linalg.solve(Z, e)[0]) ** 2


def reduced_T(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """T(ω) from Z restricted to the permutation-symmetric ansatz q = (q1, θ, …, θ, qN).

    The bulk responds uniformly to end forces, so Z q = e_N reduces *exactly* to a 3×3
    linear system M (q1, θ, qN)ᵀ = e₃ (rows: particle 1, any bulk particle, particle N),
    solved here by Cramer's rule in long double.  Used for N >= 100 in the quadrature
    test, where N×N solves at ~10³ frequencies would be too slow; checked against the full
    N×N solve and against a 40-digit mpmath solve in ``test_reduced_solve_matches_dense``.
    """
    ld = np.longdouble
    w = ld(omega)
    kap = ld(k) / ld(n_tilde)
    a = (n - 1) * kap + ld(k0) - ld(m) * w * w                  # Eq. 8
    b = -kap                                                     # Eq. 9
    p = a + np.clongdouble(1j) * (w * ld(gamma)) + ld(k_prime)   # a + c
    r = (n - 2) * b                                              # bulk sum seen by an end
    t = 2 * kap + ld(k0) - ld(m) * w * w                         # a + (N-3) b, no cancellation
    # M = [[p, r, b], [b, t, b], [b, r, p]];  q1 = (M⁻¹)₁₃ = cofactor₃₁ / det M
    det = p * (t * p - b * r) - r * (b * p - b * b) + b * (b * r - t * b)
    q1 = (r * b - b * t) / det
    return float(4 * gamma**2 * omega**2 * abs(q1) ** 2)


def pole_breakpoints(n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Positive frequencies around the poles of T (roots of its degree-6 denominator)."""
    kap = k / n_tilde
    P = np.polynomial.polynomial
    A1 = [n * kap + k0 + k_prime, gamma, m]                          # a - b + c at s = iω
    Q = P.polyadd(P.polymul([k0, 0, m], A1), [2 * kap * k_prime, 2 * kap * gamma])
    roots = np.roots(P.polymul(A1, Q)[::-1])
    pts = [np.sqrt((n * kap + k0) / m)]                              # zero of T
    for r in roots:
        # (N = 2, k0 = 0: roots on the axis cancel against the numerator; keep widths sane)
        for t in (-4, -1, 0, 1, 4):
            pts.append(abs(r.imag) + t * max(abs(r.real), 1e-6 * abs(r)))
    pts = np.sort(np.array([p for p in pts if p > 0]))
    keep = [pts[0]]
    for p in pts[1:]:                                                # merge near-duplicates
        if p - keep[-1] > 1e-9 * pts[-1]:
            keep.append(p)
    return keep


def quad_flux(n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """J/ΔT = (1/4π)∫T dω by scipy quad of a numerical solve of Z (Eq. 16)."""
    if n <= 10:
        f = lambda w: dense_T_point(w, n, m, k, k0, n_tilde, gamma, k_prime)  # noqa: E731
    else:
        f = lambda w: reduced_T(w, n, m, k, k0, n_tilde, gamma, k_prime)  # noqa: E731
    bp = pole_breakpoints(n, m, k, k0, n_tilde, gamma, k_prime)
    top = 4.0 * bp[-1]
    edges = [0.0] + bp + [top]
    tot = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi > lo:
            tot += integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    tot += integrate.quad(f, top, np.inf, epsabs=0.0, epsrel=1e-12, limit=200)[0]
    return 2.0 * tot / (4.0 * np.pi)                                 # T is even in ω


def ntilde(n, kac):
    return n - 1.0 if kac else 1.0


def kac_or_one(kac):
    """The n_tilde of the large-N formulas: "kac" (Ñ = N − 1) or 1."""
    return "kac" if kac else 1


# ---------------------------------------------------------------- (a) T(ω) vs dense solve

A_CASES = list(itertools.product(
    (2, 3, 5, 50),                 # N
    (0.0, 0.3),                    # k0
    (True, False),                 # Kac?
    ((1.0, 1.0, 1.0), (1.7, 0.1, 0.3)),   # (m, k, gamma)
    (0.0, 0.4),                    # k'
))


@pytest.mark.parametrize("n,k0,kac,mkg,kp", A_CASES)
def test_transmittance_matches_dense_solve(n, k0, kac, mkg, kp):
    m, k, g = mkg
    nt = ntilde(n, kac)
    kap = k / nt
    w_scale = np.sqrt((n * kap + k0 + kp) / m)
    omega = np.concatenate([
        np.geomspace(1e-6, 1e-1, 25) * w_scale,
        np.linspace(0.01, 3.0, 300) * w_scale,
        np.geomspace(3.0, 30.0, 25) * w_scale,
    ])
    # Z is singular where a - b = 0 (N-3 bulk modes, Sec. III A) and T has its zero:
    # a dense LU solve loses accuracy there, the closed form does not.  Skip that point.
    d = n * kap + k0 - m * omega**2
    omega = omega[np.abs(d) > 1e-3 * (n * kap + k0)]
    ref = dense_T(omega, n, m, k, k0, nt, g, kp)
    got = np.asarray(an.transmittance_identical(omega, n, m, k, k0, nt, g, kp))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=0)
    # complex G_1N, too (Eq. 14/18 with sign).  Free chain: G_1N ~ 1/(2iγω) and cond(Z) ~ ω⁻²,
    # beyond what even the refined reference resolves for ω < 1e-4 (mpmath test covers it).
    omega = omega[omega > 1e-4 * w_scale]
    gref = dense_G1N(omega, n, m, k, k0, nt, g, kp)
    ggot = np.asarray(an.greens_1n_identical(omega, n, m, k, k0, nt, g, kp))
    np.testing.assert_allclose(ggot, gref, rtol=1e-11, atol=0)
    assert np.all(got <= 1.0 + 1e-12) and np.all(got >= 0.0)


@pytest.mark.parametrize("n", [2, 3, 5, 50])
@pytest.mark.parametrize("kac", [True, False])
def test_transmittance_at_zero_frequency(n, kac):
    nt = ntilde(n, kac)
    # k0 = k' = 0: finite limit 1 (Eq. 23); pinned or walled: 0
    assert float(an.transmittance_identical(0.0, n, 1.0, 0.7, 0.0, nt, 0.5)) == pytest.approx(1.0, abs=1e-15)
    assert float(an.transmittance_identical(0.0, n, 1.0, 0.7, 0.2, nt, 0.5)) == 0.0
    assert float(an.transmittance_identical(0.0, n, 1.0, 0.7, 0.0, nt, 0.5, 0.3)) == 0.0
    # continuity: tiny ω agrees with the dense solve
    w = 1e-7
    ref = dense_T(w, n, 1.0, 0.7, 0.0, nt, 0.5)[0]
    assert float(an.transmittance_identical(w, n, 1.0, 0.7, 0.0, nt, 0.5)) == pytest.approx(ref, rel=1e-8)
    # and the paper's Eq. 23 literally
    m, k, g = 1.0, 0.7, 0.5
    for w in (1e-3, 0.4, 2.0):
        f = (n * k / nt - m * w**2) ** 2 + g**2 * w**2
        eq23 = (4 * g**2 * k**2 * (n * k / nt - m * w**2) ** 2 / nt**2) / (
            f * (m**2 * w**2 * f - 4 * g**2 * k * (m * w**2 / nt - k / nt**2)))
        assert float(an.transmittance_identical(w, n, m, k, 0.0, nt, g)) == pytest.approx(eq23, rel=1e-12)


def test_small_omega_vs_mpmath():
    """Free chain at ω → 0: the closed form vs a 40-digit mpmath solve of Z (Eq. 7)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    n, m, k, g = 12, 1.7, 0.1, 0.3
    for nt in (n - 1.0, 1.0):
        kap = mp.mpf(k) / nt
        for w in (1e-7, 1e-4, 3e-2):
            wm = mp.mpf(w)
            Z = mp.matrix(n, n)
            for i in range(n):
                for j in range(n):
                    Z[i, j] = -kap
                Z[i, i] = (n - 1) * kap - m * wm**2
            Z[0, 0] += 1j * wm * g
            Z[n - 1, n - 1] += 1j * wm * g
            e = mp.matrix(n, 1)
            e[n - 1] = 1
            g1n = mp.lu_solve(Z, e)[0]
            t_ref = float(4 * g**2 * wm**2 * abs(g1n) ** 2)
            assert float(an.transmittance_identical(w, n, m, k, 0.0, nt, g)) == pytest.approx(t_ref, rel=1e-14)
            assert complex(an.greens_1n_identical(w, n, m, k, 0.0, nt, g)) == pytest.approx(
                complex(g1n), rel=1e-14)


def test_transmittance_no_nan_at_removable_points_and_grad():
    # N = 2: numerator and Δ share the factor (a - b); hit its zero exactly
    m, k, k0, g = 1.0, 1.0, 0.0, 1.0
    w_star = np.sqrt(2.0 * k / m)              # a - b = 0 for N = 2, Ñ = 1
    val = float(an.transmittance_identical(w_star, 2, m, k, k0, 1.0, g))
    assert np.isfinite(val)
    ref = 4 * k**2 / ((k0 - m * w_star**2) ** 2 + g**2 * w_star**2)   # 4γ²ω²κ²/(|d+c|²|e+c|²), d=0
    assert val == pytest.approx(ref, rel=1e-12)
    assert val == pytest.approx(dense_T(w_star, 2, m, k, k0, 1.0, g)[0], rel=1e-12)
    # gradients are finite at ω = 0 (free chain) — the double-where trick
    for n in (2, 5):
        gT = jax.grad(an.transmittance_identical)(0.0, n, m, k, 0.0, n - 1.0, g)
        assert np.isfinite(float(gT)) and abs(float(gT)) < 1e-12
    # ∂T/∂k0 at k0 = 0 (ω ≠ 0) equals the centred finite difference of the rational T
    for n in (2, 5):
        dk = jax.grad(an.transmittance_identical, argnums=4)(0.3, n, m, k, 0.0, n - 1.0, g)
        h = 1e-6
        fd = (float(an.transmittance_identical(0.3, n, m, k, h, n - 1.0, g))
              - float(an.transmittance_identical(0.3, n, m, k, -h, n - 1.0, g))) / (2 * h)
        assert float(dk) == pytest.approx(fd, rel=1e-6)
    # jit + vmap over N and ω
    f = jax.jit(jax.vmap(an.transmittance_identical, in_axes=(0, 0, None, None, None, 0, None)))
    ns = jnp.array([2.0, 3.0, 10.0])
    out = f(jnp.array([0.0, 0.5, 1.0]), ns, m, k, 0.0, ns - 1, g)
    ref = [float(an.transmittance_identical(w, n, m, k, 0.0, n - 1, g))
           for w, n in zip([0.0, 0.5, 1.0], [2.0, 3.0, 10.0])]
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-14)


def test_reduced_solve_matches_dense():
    """The 3×3 reduced system used by the large-N quadrature equals the full N×N solve."""
    for n, kac, k0 in [(100, True, 0.0), (100, False, 0.02), (1000, False, 0.0)]:
        nt = ntilde(n, kac)
        # (for N = 1000 free chains inside the 1/N-wide peak, cond(Z) ~ 1e7 and the N×N
        # reference itself is only good to ~1e-10: that region is checked below vs mpmath)
        for w in ((0.013, 0.05, 0.31, 1.7) if n < 1000 else (0.05, 0.31)):
            Z = dense_Z(w, n, 1.0, 0.1, k0, nt, 1.0, dtype=np.clongdouble)[0]
            rhs = np.zeros(n, dtype=complex)
            rhs[-1] = 1.0
            ref = 4 * w**2 * abs(refined_solve(Z, rhs)[0]) ** 2
            assert reduced_T(w, n, 1.0, 0.1, k0, nt, 1.0) == pytest.approx(ref, rel=1e-11)
    # the reduced system in 40-digit arithmetic, inside the narrow peaks
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    for n, kac, k0, ws in [(1000, False, 0.0, (1e-6, 1e-4, 2e-3)), (1000, True, 0.0, (1e-6, 1e-3)),
                           (1000, True, 0.02, (0.1415, 0.1418)), (100, False, 1.0, (0.999, 1.0))]:
        nt = ntilde(n, kac)
        for w in ws:
            wm = mp.mpf(w)
            kap = mp.mpf(0.1) / nt
            a = (n - 1) * kap + k0 - wm**2
            b = -kap
            c = 1j * wm
            M = mp.matrix([[a + c, (n - 2) * b, b], [b, a + (n - 3) * b, b], [b, (n - 2) * b, a + c]])
            q1 = mp.lu_solve(M, mp.matrix([0, 0, 1]))[0]
            ref = float(4 * wm**2 * abs(q1) ** 2)
            assert reduced_T(w, n, 1.0, 0.1, k0, nt, 1.0) == pytest.approx(ref, rel=1e-13)


def test_eigenvalues_match_dense():
    for n in (2, 3, 4, 7):
        for kac in (True, False):
            nt = ntilde(n, kac)
            w, m, k, k0, g, kp = 0.7, 1.2, 0.9, 0.3, 0.4, 0.2
            ev = an.eigenvalues_identical(w, n, m, k, k0, nt, g, kp)
            Z = dense_Z(w, n, m, k, k0, nt, g, kp)[0]
            dense = np.sort_complex(np.linalg.eigvals(Z))
            if n == 2:
                assert np.isnan(complex(ev.minus).real)
                ours = [ev.plus, ev.end]
            else:
                ours = [ev.plus, ev.minus, ev.end] + [ev.bulk] * (n - 3)
            ours = np.sort_complex(np.array([complex(v) for v in ours]))
            np.testing.assert_allclose(ours, dense, rtol=1e-12, atol=1e-12)
            # determinant identity behind Eq. 18
            if n >= 3:
                det = complex(ev.plus * ev.minus * ev.end * ev.bulk ** (n - 3))
                assert det == pytest.approx(np.linalg.det(Z), rel=1e-11)


# ------------------------------------------------------- (b) exact flux vs quadrature

B_CASES = list(itertools.product(
    (2, 3, 4, 10, 100, 1000),      # N
    (0.0, 0.02, 1.0),              # k0
    (True, False),                 # Kac?
    (0.1, 1.0),                    # k
    (1.0, 0.3),                    # gamma
))


@pytest.mark.parametrize("n,k0,kac,k,g", B_CASES)
def test_flux_exact_vs_quadrature(n, k0, kac, k, g):
    nt = ntilde(n, kac)
    m = 1.0
    ex = float(an.flux_identical_exact(n, m, k, k0, nt, g))
    ref = quad_flux(n, m, k, k0, nt, g)
    assert ex == pytest.approx(ref, rel=1e-10, abs=0)


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("kp", [0.25, 2.0])
@pytest.mark.parametrize("k0", [0.0, 0.5])
def test_flux_exact_with_wall_springs(n, kp, k0):
    for kac in (True, False):
        nt = ntilde(n, kac)
        ex = float(an.flux_identical_exact(n, 1.3, 0.8, k0, nt, 0.6, kp))
        assert ex == pytest.approx(quad_flux(n, 1.3, 0.8, k0, nt, 0.6, kp), rel=1e-10, abs=0)


def test_flux_exact_k_prime_zero_form_and_batching():
    n = jnp.arange(2.0, 50.0)
    m, k, k0, g = 1.1, 0.4, 0.05, 0.7
    for nt in (n - 1.0, jnp.ones_like(n)):
        kap = k / nt
        closed = (g / (2 * m)) * (n - 1) * kap**2 / ((n - 1) ** 2 * kap**2 + g**2 / m * (kap + k0))
        got = jax.jit(jax.vmap(an.flux_identical_exact, in_axes=(0, None, None, None, 0, None)))(
            n, m, k, k0, nt, g)
        np.testing.assert_allclose(np.asarray(got), np.asarray(closed), rtol=1e-14)
    # differentiable in its parameters
    dj = jax.grad(an.flux_identical_exact, argnums=3)(10.0, m, k, k0, 9.0, g)
    assert np.isfinite(float(dj)) and float(dj) < 0          # pinning lowers the flux


# ------------------------------------------------------- (c) N·J/ΔT limits, O(1/N)


@pytest.mark.parametrize("kac", [True, False])
@pytest.mark.parametrize("k0", [0.0, 0.02, 1.0])
@pytest.mark.parametrize("mkg", [(1.0, 0.1, 1.0), (2.0, 1.0, 0.3)])
def test_large_n_limit_of_exact_flux(kac, k0, mkg):
    m, k, g = mkg
    if k0 == 0.0:
        lim = g / (2 * m)                                      # Eq. 25
    else:
        lim = 1.0 / (2 * float(an.amplitude_A(m, k, k0, kac_or_one(kac), g)))   # Eq. 30 (Ñ=1: γ/2m)
    ns = np.array([1e3, 1e4, 1e5, 1e6])
    nj = np.array([n * float(an.flux_identical_exact(n, m, k, k0, ntilde(n, kac), g)) for n in ns])
    # the paper's asymptotic formula is the same limit
    asym = np.asarray(an.flux_asymptotic(ns, m, k, k0, kac_or_one(kac), g))
    np.testing.assert_allclose(ns * asym, lim, rtol=1e-14)
    err = np.abs(nj - lim)
    assert np.all(err < 0.1 * lim)
    assert np.all(np.diff(err) < 0)                            # shrinking ...
    scaled = err * ns                                          # ... like 1/N:
    np.testing.assert_allclose(scaled[1:], scaled[-1], rtol=2e-2)   # N·err → const


# --------------------------------------------------------- (d) peak position, Eq. 26

_dT = jax.jit(jax.grad(an.transmittance_identical))


def exact_peak(n, m, k, k0, nt, g, kac):
    wc = float(an.omega_c_asymptotic(n, m, k, k0, kac_or_one(kac), g))
    width = 1.0 / (n * float(an.amplitude_A(m, k, k0, kac_or_one(kac), g)))
    grid = wc + np.linspace(-8, 8, 1601) * width
    T = np.asarray(an.transmittance_identical(grid, n, m, k, k0, nt, g))
    i = int(np.argmax(T))
    root = optimize.brentq(lambda w: float(_dT(w, n, m, k, k0, nt, g)),
                           grid[i - 1], grid[i + 1], xtol=1e-16, rtol=1e-15)
    return root, wc, float(an.transmittance_identical(root, n, m, k, k0, nt, g))


@pytest.mark.parametrize("kac", [True, False])
@pytest.mark.parametrize("mkk0g", [(1.0, 1.0, 1.0, 1.0), (1.0, 0.1, 0.02, 1.0), (1.3, 0.7, 0.5, 0.4)])
def test_peak_frequency_eq26_is_second_order(kac, mkk0g):
    m, k, k0, g = mkk0g
    ns = [300.0, 1000.0, 3000.0, 10000.0]
    scaled, scaled_first = [], []
    for n in ns:
        nt = ntilde(n, kac)
        wmax, wc, tmax = exact_peak(n, m, k, k0, nt, g, kac)
        assert tmax == pytest.approx(1.0, abs=1e-12)          # perfect transmission at ω_c
        scaled.append(n**2 * abs(wmax - wc))
        scaled_first.append(n * abs(wmax - np.sqrt(k0 / m)))
    scaled = np.array(scaled)
    # N²|ω_max - ω_c| stays bounded (and converges)
    assert np.all(scaled < 2.0)
    assert abs(scaled[-1] - scaled[-2]) < 0.02 * max(scaled[-1], 0.01) + 1e-3
    if kac:   # the 1/N term of Eq. 26 is really needed with the Kac factor
        assert scaled_first[-1] > 0.1 * (k * g**2 / m) * np.sqrt(k0 / m) / (k**2 + k0 / m * g**2)


# --------------------------------------------------------- (e) Lorentzians, Eqs. 24, 28


@pytest.mark.parametrize("kac", [True, False])
def test_lorentzian_k0_zero_converges(kac):
    m, k, g = 1.0, 1.0, 1.0
    errs = []
    ns = [100, 1000, 10000]
    for n in ns:
        w = np.linspace(-10, 10, 2001) * 2 * g / (n * m)       # ±10 half-widths of Eq. 24
        T = np.asarray(an.transmittance_identical(w, n, m, k, 0.0, ntilde(n, kac), g))
        L = np.asarray(an.lorentzian_k0_zero(w, n, m, g))
        errs.append(np.max(np.abs(T - L)))
    assert errs[-1] < 1e-3
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.2 * errs[1]


@pytest.mark.parametrize("kac", [True, False])
@pytest.mark.parametrize("mkk0g", [(1.0, 1.0, 1.0, 1.0), (1.0, 0.1, 0.02, 1.0)])
def test_lorentzian_pinned_converges(kac, mkk0g):
    m, k, k0, g = mkk0g
    errs = []
    for n in [100, 1000, 10000]:
        wc = float(an.omega_c_asymptotic(n, m, k, k0, kac_or_one(kac), g))
        width = 1.0 / (n * float(an.amplitude_A(m, k, k0, kac_or_one(kac), g)))
        w = wc + np.linspace(-10, 10, 2001) * width
        T = np.asarray(an.transmittance_identical(w, n, m, k, k0, ntilde(n, kac), g))
        L = np.asarray(an.lorentzian_pinned(w, n, m, k, k0, kac_or_one(kac), g))
        errs.append(np.max(np.abs(T - L)))
    assert errs[-1] < 1e-2
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.2 * errs[1]


# --------------------------------------------------------------- misc closed forms


def test_validity_condition_and_amplitude():
    m, k, g = 1.0, 0.1, 1.0
    # k0 = 0: both reduce to 4γ²/(mk) (text above Eq. 24)
    for kac in (True, False):
        assert float(an.validity_condition(m, k, 0.0, kac_or_one(kac), g)) == pytest.approx(4 * g**2 / (m * k))
        assert float(an.amplitude_A(m, k, 0.0, kac_or_one(kac), g)) == pytest.approx(m / g)
    k0 = 0.02
    w02 = k0 / m
    assert float(an.validity_condition(m, k, k0, "kac", g)) == pytest.approx(
        4 * k * g**2 / m * (k**2 - w02 * g**2) / (k**2 + w02 * g**2) ** 2)
    assert float(an.validity_condition(m, k, k0, 1, g)) == pytest.approx(
        4 * g**2 / (m * k) - 2 * w02 * g**2 / k**2)
    assert float(an.amplitude_A(m, k, k0, "kac", g)) == pytest.approx(3.0)


def test_doctests():
    res = doctest.testmod(an, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 5 and res.failed == 0


def test_flux_identical_exact_is_the_derived_formula_verbatim():
    """analytic.flux_identical_exact carries the sympy-derived block of
    scripts/derive_identical_flux.py (PY_SOURCE) verbatim: the formula was derived once and
    pasted, and must not drift from its derivation (read with ast: no sympy import)."""
    import ast
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "scripts", "derive_identical_flux.py")) as fh:
        tree = ast.parse(fh.read())
    source = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "PY_SOURCE" for t in node.targets))
    with open(an.__file__) as fh:
        assert source.strip("\n") in fh.read()


def test_one_spelling_of_n_tilde():
    """"kac" means Ñ = N − 1 wherever Ñ is a number; the large-N formulas take only "kac" or
    1, and a call in the former argument order (a bool after gamma) is refused."""
    w = np.array([0.0, 0.3, 1.1])
    for n in (2, 10):
        np.testing.assert_array_equal(an.transmittance_identical(w, n, 1.0, 0.7, 0.2, "kac", 0.6),
                                      an.transmittance_identical(w, n, 1.0, 0.7, 0.2, n - 1.0, 0.6))
        assert (float(an.flux_identical_exact(n, 1.0, 0.7, 0.2, "Kac", 0.6))
                == float(an.flux_identical_exact(n, 1.0, 0.7, 0.2, n - 1.0, 0.6)))
    assert float(an.amplitude_A(1.0, 0.1, 0.02, 1, 1.0)) == 1.0
    with pytest.raises(ValueError, match="n_tilde"):
        an.amplitude_A(1.0, 0.1, 0.02, 2.0, 1.0)
    with pytest.raises(ValueError, match="n_tilde"):
        an.omega_c_asymptotic(10, 1.0, 0.1, 0.02, "none", 1.0)
    with pytest.raises(TypeError, match="gamma"):
        an.flux_asymptotic(100, 1.0, 0.1, 0.02, 1.0, True)  # the old (…, gamma, kac) order
