#!/usr/bin/env python
"""Derive the exact finite-N heat flux J(N)/ΔT for identical masses (beyond PRE 105, 054149).

Run once, offline:   .venv/bin/python scripts/derive_identical_flux.py
It is NOT imported by the package; its output was pasted into
``meanfield_jax.analytic.flux_identical_exact``.

Idea
----
For identical masses only three modes couple to the baths, so the transmittance
(Eqs. 17-18) is a rational function of ω.  With s = iω and the end-spring
generalisation c = iωγ + k' of Sec. IV,

    G_1N = κ d / [(d + c) ((d - Nκ)(d + c) + 2 κ c)],     κ = k/Ñ = -b,
    d    = a - b = Nκ + k0 - mω²,                         (Eq. 18, signed)

so  T(ω) = 4γ²ω²|G_1N|² = |B(iω)/A(iω)|²  with

    B(s) = 2 γ κ s (m s² + Nκ + k0),
    A(s) = (m s² + γ s + Nκ + k0 + k') · [(m s² + k0)(m s² + γ s + Nκ + k0 + k') + 2κ(γ s + k')],

A of degree 6 in s.  (The (a-b)^(N-3) factor of det Z, from the N-3 bulk modes, has
already cancelled in Eq. 18.)  For a Hurwitz-stable A(s) = a_0 s^n + ... and
deg B <= n-1 the classical result (Åström / James-Nichols-Phillips; proved below by
closing the contour in the right half plane) is

    (1/2π) ∫ |B(iω)/A(iω)|² dω = c_{n-1} / a_0,

where C(s) = c_0 + ... + c_{n-1} s^{n-1} is the unique solution of the linear
"spectral factor" identity   B(s)B(-s) = A(s)C(-s) + A(-s)C(s)   (n equations, one per
even power of s).  Proof: on s = iω the left side over A(s)A(-s) equals 2 Re[C/A](iω);
C/A is analytic in Re s >= 0 and ~ (c_{n-1}/a_0)/s at infinity, so the semicircle in
the right half plane gives ∫ C/A(iω) dω = π c_{n-1}/a_0.

Hence  J/ΔT = (1/4π) ∫ T dω = (1/2) c_{n-1}/a_0.   We solve for c_{n-1} with Cramer's
rule in dimensionless units (time m/γ, stiffness γ²/m):

    x = κ m/γ²,  p = k0 m/γ²,  q = k' m/γ²,   J/ΔT = (γ/2m) · I(N, x, p, q).

Result (printed and verified below):  with  u = x + p,  v = (N-1) x + q,

    I = x [ (v - q)(v + u) + q x (q - 1) ] / [ (v² + u)(v + u) + q x (q x - 2u - 3v + 1) ]

and for k' = 0 (q = 0) it collapses to

    J/ΔT = (γ/2m) (N-1) x² / ((N-1)² x² + x + p)
         = (γ/2m) (N-1) κ² / ((N-1)² κ² + (γ²/m)(κ + k0)).

The rational function is continuous at k0 = 0 and N = 2 (where A(s) loses strict
stability: a root at s = 0, resp. a pair on the imaginary axis, which cancels against
B); the common factors (N-2), (Nx+p+q), (Npx+p²+pq+2qx) cancel symbolically, so the
formula holds there by continuity of the integral — checked numerically below.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import sympy as sp
from scipy import integrate


def derive():
    s = sp.symbols("s")
    N, x, p, q = sp.symbols("N x p q", positive=True)
    # dimensionless (m = γ = 1): κ -> x, k0 -> p, k' -> q
    d = N * x + p + s**2            # a - b   at s = iω  (ω² = -s²)
    e = p + s**2                    # a - b + N b
    c = s + q                       # iωγ + k'
    A = sp.expand((d + c) * (e * (d + c) + 2 * x * c))
    B = sp.expand(2 * x * s * d)

    # sanity: |B/A|² at s = iω equals Eqs. 20-22 when q = 0
    w = sp.symbols("omega", real=True)
    Aw = sp.expand(A.subs(s, sp.I * w))
    Bw = sp.expand(B.subs(s, sp.I * w))
    T_ours = sp.expand(Bw * sp.conjugate(Bw)) / sp.expand(Aw * sp.conjugate(Aw))
    K = N * x
    f = (K + p - w**2) ** 2 + w**2
    Delta = w**2 * (2 * x + p - w**2) ** 2 + (p - w**2) ** 2 * (K + p - w**2) ** 2
    T_paper = 4 * w**2 * x**2 * (K + p - w**2) ** 2 / (f * Delta)
    assert sp.simplify((T_ours - T_paper).subs(q, 0)) == 0, "B/A disagrees with Eq. 20"
    print("check: |B(iω)/A(iω)|² reproduces Eqs. 20-22 (k' = 0)  OK")

    PA = sp.Poly(A, s)
    n = PA.degree()
    a0 = PA.LC()
    cs = sp.symbols(f"c0:{n}")
    C = sum(cs[i] * s**i for i in range(n))
    ident = sp.expand(A * C.subs(s, -s) + A.subs(s, -s) * C - B * B.subs(s, -s))
    eqs = [sp.Poly(ident, s).coeff_monomial(s ** (2 * j)) for j in range(n)]
    M, rhs = sp.linear_eq_to_matrix(eqs, cs)
    M2 = M.copy()
    M2[:, n - 1] = rhs
    num = sp.factor(M2.det(method="berkowitz"))
    den = sp.factor(M.det(method="berkowitz") * a0)
    I_raw = sp.cancel(num / den)
    print(f"deg A = {n}, a0 = {a0}")
    print("Cramer numerator   :", num)
    print("Cramer denominator :", den)
    print("I = c_{n-1}/a0 (cancelled):", sp.factor(I_raw))

    u = x + p
    v = (N - 1) * x + q
    I_compact = x * ((v - q) * (v + u) + q * x * (q - 1)) / (
        (v**2 + u) * (v + u) + q * x * (q * x - 2 * u - 3 * v + 1))
    assert sp.cancel(I_raw - I_compact) == 0
    I_q0 = (N - 1) * x**2 / ((N - 1) ** 2 * x**2 + x + p)
    assert sp.cancel(I_raw.subs(q, 0) - I_q0) == 0
    print("compact form verified symbolically:")
    print("  I =", I_compact)
    print("  I(k'=0) =", I_q0)
    return I_compact, (N, x, p, q)


PY_SOURCE = '''
    x = kappa * m / gamma**2          # dimensionless k/Ñ
    p = k0 * m / gamma**2             # dimensionless pinning
    q = k_prime * m / gamma**2        # dimensionless wall spring
    u = x + p
    v = (n - 1.0) * x + q
    num = x * ((v - q) * (v + u) + q * x * (q - 1.0))
    den = (v * v + u) * (v + u) + q * x * (q * x - 2.0 * u - 3.0 * v + 1.0)
    return 0.5 * (gamma / m) * num / den
'''


def shipped_source_matches() -> bool:
    """True when meanfield_jax/analytic.py contains PY_SOURCE verbatim (the pasted block)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "meanfield_jax",
                        "analytic.py")
    with open(path, encoding="utf-8") as fh:
        return PY_SOURCE.strip("\n") in fh.read()


def formula(n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Numerical twin of PY_SOURCE (what analytic.flux_identical_exact computes)."""
    kappa = k / n_tilde
    ns = {}
    exec("def _f(n, m, kappa, k0, gamma, k_prime):" + PY_SOURCE, ns)
    return ns["_f"](n, m, kappa, k0, gamma, k_prime)


def dense_transmittance(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """T(ω) from a dense solve of Z(ω) (Eq. 7), independent of the algebra above."""
    kap = k / n_tilde
    Z = np.full((n, n), -kap, dtype=complex)
    np.fill_diagonal(Z, (n - 1) * kap + k0 - m * omega**2)
    Z[0, 0] += 1j * omega * gamma + k_prime
    Z[-1, -1] += 1j * omega * gamma + k_prime
    rhs = np.zeros(n, dtype=complex)
    rhs[-1] = 1.0
    g1n = np.linalg.solve(Z, rhs)[0]
    return 4 * gamma**2 * omega**2 * abs(g1n) ** 2


def numeric_flux(n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    kap = k / n_tilde
    # poles: roots of A(s) (physical units) give the peak positions/widths
    P = np.polynomial.polynomial
    A1 = [n * kap + k0 + k_prime, gamma, m]
    Q = P.polyadd(P.polymul([k0, 0, m], A1), [2 * kap * k_prime, 2 * kap * gamma])
    roots = np.roots(P.polymul(A1, Q)[::-1])
    bp = sorted({abs(r.imag) + t * max(abs(r.real), 1e-12) for r in roots for t in (-3, -1, 0, 1, 3)}
                | {np.sqrt((n * kap + k0) / m)})
    bp = [b for b in bp if b > 0]
    top = 4 * max(bp)
    edges = [0.0] + bp + [top]
    f = lambda w: dense_transmittance(w, n, m, k, k0, n_tilde, gamma, k_prime)
    tot = sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=400)[0]
              for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo)
    tot += integrate.quad(f, top, np.inf, epsabs=0, epsrel=1e-13, limit=400)[0]
    return 2 * tot / (4 * np.pi)          # T even in ω


def check_lemma(rng):
    """(1/2π)∫|B/A|² = c_{n-1}/a0 on random stable polynomials."""
    for deg in (2, 3, 6):
        roots = -rng.uniform(0.1, 2, deg // 2) + 1j * rng.uniform(0.2, 3, deg // 2)
        roots = np.concatenate([roots, roots.conj()] + ([[-0.7]] if deg % 2 else []))
        A = np.real(np.poly(roots))                 # highest power first
        B = rng.normal(size=deg)                     # degree n-1
        n = deg
        M = np.zeros((n, n))
        rhs = np.zeros(n)
        # coefficient of s^(2j) in A(s)C(-s)+A(-s)C(s) and B(s)B(-s)
        a = A[::-1]
        b = B[::-1]
        for j in range(n):
            for i in range(n):              # c_i
                l = 2 * j - i               # a_l s^l * c_i s^i
                if 0 <= l <= n:
                    M[j, i] = a[l] * ((-1) ** i + (-1) ** l)
            rhs[j] = sum(b[i] * b[2 * j - i] * (-1) ** (2 * j - i)
                         for i in range(len(b)) if 0 <= 2 * j - i < len(b))
        c = np.linalg.solve(M, rhs)
        val = c[-1] / A[0]
        g = lambda w: abs(np.polyval(B, 1j * w) / np.polyval(A, 1j * w)) ** 2
        ref = integrate.quad(g, -np.inf, np.inf, epsabs=0, epsrel=1e-13, limit=400)[0] / (2 * np.pi)
        assert abs(val / ref - 1) < 1e-9, (deg, val, ref)
    print("check: lemma (1/2π)∫|B/A|² dω = c_{n-1}/a0 on random stable A  OK")


def main() -> int:
    derive()
    print("\nPython source for analytic.flux_identical_exact (κ = k/Ñ):")
    print(PY_SOURCE)
    if not shipped_source_matches():
        print("MISMATCH: meanfield_jax/analytic.py does not hold PY_SOURCE verbatim; paste it")
        return 1
    print("check: meanfield_jax/analytic.py holds exactly this source  OK")
    rng = np.random.default_rng(0)
    check_lemma(rng)
    worst = 0.0
    cases = [(n, m, k, k0, nt, g, kp)
             for n in (2, 3, 4, 7, 20)
             for (m, k, g) in ((1.0, 0.1, 1.0), (1.3, 1.0, 0.3))
             for k0 in (0.0, 0.02, 1.0)
             for nt in ("kac", "one")
             for kp in (0.0, 0.5)]
    for n, m, k, k0, nt, g, kp in cases:
        n_tilde = n - 1.0 if nt == "kac" else 1.0
        ex = formula(n, m, k, k0, n_tilde, g, kp)
        nu = numeric_flux(n, m, k, k0, n_tilde, g, kp)
        err = abs(ex / nu - 1)
        worst = max(worst, err)
        if err > 1e-9:
            print("MISMATCH", (n, m, k, k0, nt, g, kp), ex, nu, err)
            return 1
    print(f"check: exact J/ΔT vs quad of dense-solve T over {len(cases)} cases "
          f"(N = 2..20, k0 = 0/0.02/1, Ñ = N-1/1, k' = 0/0.5): max rel err {worst:.2e}  OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
