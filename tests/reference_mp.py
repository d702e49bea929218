"""Independent high-precision (mpmath) reference for the exact heat flux J and the local
temperatures T_n of a small mean-field harmonic chain (N = 2 ... ~8) between two Langevin
baths (Defaveri, Olivares & Anteneodo, PRE 105, 054149 (2022), Sec. II, Eqs. 1-17, 31).

This module never imports :mod:`meanfield_jax` (nor ``reference_numpy``); it uses only
mpmath.  Inputs are Python floats; they are converted to mpf *exactly*, so the answer is
the exact answer for the float64 inputs the library also sees (e.g. masses
``1 + 1e-12*n`` rounded to float64 are distinct, and treated as such).

API (inputs: Python floats / lists; n_tilde = 'kac' or a positive number)
-----------------------------------------------------------------------
chain_flux_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0, dps=60,
              *, check=False) -> mpf   J including Delta T (method 1)
chain_temperatures_mp(same) -> list of mpf   T_1..T_N (method 1)
chain_steady_state_mp(same) -> (J, [T_n])   one solve for both
chain_flux_residues_mp / chain_temperatures_residues_mp(..., dps=60)   method 2 (check)
chain_flux_both_sides_mp(...) -> (gamma (T_L - T_1)/m_1, gamma (T_N - T_R)/m_N)

Model (k_B = 1)
---------------
masses m_n; K = (k0 + N k/Ñ) I - (k/Ñ) 1 1^T (Ñ = N - 1 for ``'kac'``, else the given
positive number); wall springs k' >= 0 add k' to K_11 and K_NN (K_w); friction gamma on
particles 1 and N only, noise <eta_i eta_j> = 2 gamma T_i delta_ij delta(t-t') with
T_1 = T_L, T_N = T_R.  T_n = m_n <v_n^2>;  J = gamma (T_L - T_1)/m_1 = gamma (T_N - T_R)/m_N.

Method 1 (primary; used by the public functions): Lyapunov equation in normal modes
----------------------------------------------------------------------------------
Mass-weighted coordinates y = M^{1/2} q, D = M^{-1/2} K_w M^{-1/2} = U diag(lam) U^T
(``mp.eigsy``), mode coordinates xi = U^T y:

    xi'' = -Lam xi - B xi' + noise,  B = gamma (c1 c1^T + cN cN^T),
    c1 = U[0, :]/sqrt(m_1), cN = U[N-1, :]/sqrt(m_N),  Q = 2 gamma (T_L c1c1^T + T_R cNcN^T).

With X = <xi xi^T>, Y = <xi xi'^T>, V = <xi' xi'^T> the stationary Lyapunov equations are
Y + Y^T = 0, V - X Lam - Y B = 0, B V + V B + Lam Y - Y Lam = Q.  Because Lam is diagonal,
X can be eliminated *exactly* without dividing by lam: (X Lam)_ij = (V - YB)_ij, and X
symmetric means lam_i (X Lam)_ij = lam_i lam_j X_ij is symmetric, i.e.
lam_i (V - YB)_ij = lam_j (V - YB)_ji  (i < j).
The unknowns are V (symmetric) and Y (antisymmetric): n^2 unknowns for n kept modes
(64 for N = 8, instead of 136 for vec(C) with symmetry), solved by Gaussian elimination
with partial pivoting in mpf (both bath right-hand sides in one pass).  Why this and not
vec(C) in the original coordinates: the normal-mode form makes both singular cases (a),
(b) below exact algebraic reductions instead of regularisations, and it is 2x smaller.
Precision: the eigen-decomposition is done at ``dps``; then the whole computation is
redone with ``2 log10(1/a_min) + 10`` guard digits, a_min the smallest bath amplitude of a
kept mode (its relaxation rate is ~gamma a_min^2, the conditioning ~1/a_min^2).

* (a) Momentum zero mode (k0 = k' = 0): lam_0 = 0 (set exactly).  The centre of mass
  *position* xi_0 diffuses and has no stationary variance, but xi_0 enters the dynamics only
  through lam_0 xi_0 = 0.  In the eliminated system every occurrence of xi_0 (X_0j, Y_0j
  as a position-velocity moment) is multiplied by lam_0, so the (V, Y) system is exactly the
  stationary Lyapunov equation of the reduced state (xi_1..., xi'_all), whose generator is
  Hurwitz (the zero root of det(s^2 M + s Gamma + K) is simple since gamma > 0 and the zero
  mode touches both ends).  No pinning epsilon, no extrapolation: an exact reduction.
  (Y_0j in the unknowns stands for -<xi_j xi'_0>, which is a stationary reduced moment.)
* (b) Modes with zero amplitude at both bath sites (identical bulk masses) are undamped
  and undriven; from rest they stay at zero (the Green-function / Eq. 31 answer used by
  the library: the paper's "particular solution for q = p = 0").  They are exactly
  decoupled from everything else (Lam diagonal, zero rows of B and Q), so they are removed:
  eigenvalues are clustered (|lam_i - lam_j| <= 10^(-dps/2) * max|lam|, exact
  degeneracies come out at ~10^-dps), and inside each cluster the basis is rotated so that
  at most two vectors span the projections of the two bath rows; the orthogonal
  complement (zero amplitude at both baths, still eigenvectors) is dropped.  Isolated
  modes with both bath amplitudes below 10^(-dps/2) are dropped too (two equal bulk masses
  give such a non-degenerate mode).  In the kept set no eigenvector of Lam is orthogonal to
  both c1 and cN, so the reduced system is Hurwitz and the linear system nonsingular.
* Nearly identical float64 masses (relative differences >= ~1e-16, e.g. 1 + 1e-12 n) give
  splittings and bath amplitudes >= ~1e-16 >> 10^(-dps/2), so those modes are *kept*: the
  exact (true) steady state is computed.  Their relaxation rates are ~gamma*delta^2, so the
  linear system's condition number can reach ~1e24..1e32 (times the gamma / k / mass
  spread): at dps = 60 this still leaves > 20 correct digits.  The self-checks compare
  dps = 60 with dps = 90 in such cases.
* No cancellation: the flux is obtained from the right-bath-only solution,
  J = (T_L - T_R) * gamma * T_1^{(R)} / m_1, where T_1^{(R)} is T_1 for T_L = 0, T_R = 1
  (uses T_1^{(L)} + T_1^{(R)} = 1, the equilibrium identity).  T_n = T_L T_n^{(L)} + T_R
  T_n^{(R)}, T_n^{(.)} = sum_st U_ns U_nt V_st (one elimination, two right-hand sides).

Method 2 (independent check, :func:`chain_flux_residues_mp`, :func:`chain_temperatures_residues_mp`)
--------------------------------------------------------------------------------------------------
Z(w) = diag(A) + b 1 1^T with A_n = k0 + N k/Ñ + k'_n - m_n w^2 + i gamma_n w, b = -k/Ñ
(Eqs. 7-10 with walls).  Grouping *exactly* equal bulk masses (value g, multiplicity r_g)
and writing S = 1 + b sum 1/A_n,  D = A_1 A_N prod_g A_g * S  (polynomial; the common
factors A_g^{r_g - 1} of det Z and all cofactors are cancelled exactly, which removes the
decoupled real-axis modes), G_1N = -b prod_g A_g / D (Eq. 14), G_n1 = -b A_N
prod_{h != g(n)} A_h / D (bulk n), G_11 = [A_N prod A_g + b prod A_g + b A_N sum_g r_g
prod_{h!=g} A_h] / D.  Integrals int_R w^2 |p/D|^2 dw = 2 pi i sum_{D(r)=0} r^2 p(r)
pbar(r) / (D'(r) Dbar(r)) (all roots of D in the upper half plane; pbar = conjugated
coefficients).  For k0 = k' = 0, D(0) = 0 exactly: the factor w is divided out (it cancels
the w^2).  Roots by ``mp.polyroots`` with extra precision, then Newton-polished.
J = (T_L - T_R) gamma^2/pi * I(G_1N);  T_n = gamma m_n / pi * (T_L I(G_n1) + T_R I(G_nN)).
Assumes simple roots of D (generic); near-coincident roots (nearly identical masses) are
handled by the extra precision.  The two methods share nothing but the parameters.

Timings (measured, shared 2-core box, mpmath 1.3 pure Python, dps = 60; see TIMINGS)
-----------------------------------------------------------------------------------
N = 8 random masses: chain_flux_mp / chain_temperatures_mp / chain_steady_state_mp
~0.17 s each (0.2 s at dps = 90; up to ~1-4 s when the box is heavily loaded); N = 8
identical masses 0.01 s (3 kept modes); N = 8 masses 1 + 1e-12 n or 1 + 2^-52 n 0.2 s.
Residue check: 0.2-0.4 s at N = 8 generic, 2.5-4 s for nearly identical masses (the guard
digits needed for the clustered roots).  tests/test_reference_mp.py: 7-8 s
(19 s with the two cores busy).

Accuracy (measured, tests/test_reference_mp.py and a 120-case random fuzz over N = 2..8,
k, k0, k' in 1e-4..1e4 (k0, k' also 0), gamma in 1e-6..1e6, Ñ = 'kac' or 0.1..10, masses
1e-2..1e2 random / identical / two repeated values / 1 + 1e-12 n / 1 + 2^-52 n): method 1
at dps 60 vs dps 90 agrees to <= 2e-58 for J and <= 3e-34 for T_n (worst: float-distinct
nearly identical masses 1 + 2^-52 n with strong damping); method 2 agrees with method 1
to <= 1e-53 (J) and <= 3e-55 (T_n).  ``check=True`` makes every call verify itself
against dps + 30.

Notes for users (property tests)
--------------------------------
* Masses that are equal as floats are identical (modes dropped, "from rest" answer);
  masses that differ in the last bit are *different*: the exact steady state is then
  thermalised (e.g. N = 8, 1 + 2^-52 n, k0 = 0, gamma = 1, T_L = 1.5, T_R = 0.5: bulk
  T_n = 1 to 1e-16), whereas for exactly identical masses (from rest) the bulk sits at
  (T_L + T_R) / (2 (N - 2)) = 1/6.  The relaxation time is ~1e32, so a float64
  frequency-integral code cannot see the difference; it must report non-convergence or
  be compared with care there.  (The flux barely differs: 0.0625 - 4e-17 vs 0.0625.)
* k = 0 (no coupling) works in method 1 (J = 0, bulk at rest); method 2 refuses it.
"""

from __future__ import annotations

import mpmath
from mpmath import mp

__all__ = [
    "chain_flux_mp",
    "chain_temperatures_mp",
    "chain_steady_state_mp",
    "chain_flux_both_sides_mp",
    "chain_flux_residues_mp",
    "chain_temperatures_residues_mp",
    "TIMINGS",
]

TIMINGS = {  # seconds per call at dps = 60, measured on the shared 2-core box (low load)
    "N8 random masses, k0=0, gamma=1: chain_flux_mp": 0.17,
    "N8 ratio 1e4, gamma=1e-6, k=1e4, k0=1e-4, walls: chain_flux_mp": 0.14,
    "N8 identical, gamma=1e6: chain_flux_mp": 0.01,
    "N8 masses 1+1e-12 n: chain_flux_mp": 0.19,
    "N8 random masses: chain_flux_residues_mp": 0.19,
    "N8 masses 1+2^-52 n: chain_flux_residues_mp": 3.7,
}


# ----------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------


def _params(masses, k, k0, n_tilde, gamma, k_prime):
    """Exact mpf conversion of the (float) inputs; returns (m list, N, b = k/Ñ, diag, g, kp)."""
    m = [mp.mpf(float(x)) for x in masses]
    N = len(m)
    if N < 2:
        raise ValueError("need N >= 2")
    if any(not x > 0 for x in m):
        raise ValueError("masses must be > 0")
    if isinstance(n_tilde, str):
        if n_tilde != "kac":
            raise ValueError("n_tilde must be 'kac' or a positive number")
        nt = mp.mpf(N - 1)
    else:
        nt = mp.mpf(float(n_tilde))
        if not nt > 0:
            raise ValueError("n_tilde must be > 0")
    k, k0, g, kp = (mp.mpf(float(x)) for x in (k, k0, gamma, k_prime))
    if not g > 0:
        raise ValueError("gamma must be > 0")
    if k < 0 or k0 < 0 or kp < 0:
        raise ValueError("k, k0, k_prime must be >= 0")
    bk = k / nt  # k / Ñ
    diag = k0 + N * bk  # diagonal of K is diag - bk
    return m, N, bk, diag, k0, g, kp


# ----------------------------------------------------------------------------------------
# Method 1: Lyapunov equation in normal modes
# ----------------------------------------------------------------------------------------


def _kept_modes(m, N, bk, diag, k0, kp, tol_digits):
    """Eigen-decomposition of D = M^{-1/2} K_w M^{-1/2} with decoupled modes removed
    (degeneracy / zero-amplitude tolerance 10^-tol_digits).

    Returns (lam list, U as list of columns (each a list of N mpf))."""
    sq = [mp.sqrt(x) for x in m]
    D = mp.matrix(N, N)
    for i in range(N):
        for j in range(N):
            Kij = (diag - bk) if i == j else -bk
            if i == j and (i == 0 or i == N - 1):
                Kij += kp
            D[i, j] = Kij / (sq[i] * sq[j])
    E, Q = mp.eigsy(D)
    order = sorted(range(N), key=lambda i: E[i])
    lam = [E[i] for i in order]
    cols = [[Q[r, i] for r in range(N)] for i in order]
    if k0 == 0 and kp == 0:
        # exact momentum zero mode: eigenvector M^{1/2} 1 (normalised), eigenvalue 0
        nrm = mp.sqrt(mp.fsum(m))
        lam[0] = mp.zero
        cols[0] = [s / nrm for s in sq]
    scale = max(abs(x) for x in lam)
    tol = mp.mpf(10) ** (-tol_digits)
    # clusters of (numerically exactly) degenerate eigenvalues
    clusters, cur = [], [0]
    for i in range(1, N):
        if abs(lam[i] - lam[cur[-1]]) <= tol * scale:
            cur.append(i)
        else:
            clusters.append(cur)
            cur = [i]
    clusters.append(cur)
    kept_lam, kept_cols = [], []
    for cl in clusters:
        if len(cl) == 1:
            i = cl[0]
            if abs(cols[i][0]) > tol or abs(cols[i][N - 1]) > tol:
                kept_lam.append(lam[i])
                kept_cols.append(cols[i])
            continue
        lam_c = mp.fsum(lam[i] for i in cl) / len(cl)
        W = [cols[i] for i in cl]  # d vectors of length N
        basis = []  # orthonormal vectors in R^d spanning the bath rows
        for row in (0, N - 1):
            r = [w[row] for w in W]
            for bvec in basis:
                dot = mp.fsum(x * y for x, y in zip(r, bvec))
                r = [x - dot * y for x, y in zip(r, bvec)]
            nr = mp.sqrt(mp.fsum(x * x for x in r))
            if nr > tol:
                basis.append([x / nr for x in r])
        for bvec in basis:
            v = [mp.fsum(bvec[a] * W[a][r] for a in range(len(W))) for r in range(N)]
            kept_lam.append(lam_c)
            kept_cols.append(v)
    return kept_lam, kept_cols


def _gauss_solve(A, R):
    """Gaussian elimination with partial pivoting on lists of mpf (A: n x n, R: n x r);
    A and R are overwritten.  ~3x faster than mp.lu_solve and one pass for both
    right-hand sides.  Raises ZeroDivisionError on an exactly singular pivot."""
    n = len(A)
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(A[r][c]))
        if A[p][c] == 0:
            raise ZeroDivisionError("singular Lyapunov system")
        if p != c:
            A[c], A[p] = A[p], A[c]
            R[c], R[p] = R[p], R[c]
        Ac, Rc = A[c], R[c]
        inv = 1 / Ac[c]
        for r in range(c + 1, n):
            Ar = A[r]
            f = Ar[c]
            if f == 0:
                continue
            f = f * inv
            for q in range(c + 1, n):
                if Ac[q] != 0:
                    Ar[q] -= f * Ac[q]
            Rr = R[r]
            for q in range(len(Rc)):
                Rr[q] -= f * Rc[q]
    X = [None] * n
    for c in range(n - 1, -1, -1):
        Ac = A[c]
        X[c] = [(R[c][q] - mp.fsum(Ac[j] * X[j][q] for j in range(c + 1, n))) / Ac[c]
                for q in range(len(R[c]))]
    return X


def _mode_covariances(masses, k, k0, n_tilde, gamma, k_prime):
    """Solve for V^(L), V^(R) (unit bath temperatures) in the kept modes.

    Returns (m, U_cols, VL, VR, gamma) with V as dense n x n lists."""
    dps = mp.dps
    m, N, bk, diag, k0m, g, kp = _params(masses, k, k0, n_tilde, gamma, k_prime)
    lam, U = _kept_modes(m, N, bk, diag, k0m, kp, (3 * dps) // 5)
    # guard digits: a mode with bath amplitude a relaxes at rate ~ gamma a^2, the linear
    # system loses ~2 log10(1/a) digits; recompute with that many extra digits.
    amin = min(max(abs(u[0]), abs(u[N - 1])) for u in U)
    guard = int(2 * max(0, -mp.log10(amin))) + 10
    mp.dps = dps + guard
    m, N, bk, diag, k0m, g, kp = _params(masses, k, k0, n_tilde, gamma, k_prime)
    lam, U = _kept_modes(m, N, bk, diag, k0m, kp, (3 * dps) // 5)
    n = len(lam)
    c1 = [u[0] / mp.sqrt(m[0]) for u in U]
    cN = [u[N - 1] / mp.sqrt(m[N - 1]) for u in U]
    B = [[g * (c1[i] * c1[j] + cN[i] * cN[j]) for j in range(n)] for i in range(n)]

    # unknown indices
    vidx, yidx = {}, {}
    cnt = 0
    for i in range(n):
        for j in range(i, n):
            vidx[(i, j)] = cnt
            cnt += 1
    for i in range(n):
        for j in range(i + 1, n):
            yidx[(i, j)] = cnt
            cnt += 1
    assert cnt == n * n

    def V_(i, j):
        return vidx[(i, j)] if i <= j else vidx[(j, i)]

    def Y_(i, j):  # (index, sign) or None for the diagonal
        if i == j:
            return None
        return (yidx[(i, j)], 1) if i < j else (yidx[(j, i)], -1)

    Amat = [[mp.zero] * cnt for _ in range(cnt)]
    rhs_rows = []  # (row, i, j) of the V equations (rhs = Q_ij)
    row = 0
    # (E1) B V + V B + Lam Y - Y Lam = Q, i <= j
    for i in range(n):
        for j in range(i, n):
            Ar = Amat[row]
            for kk in range(n):
                Ar[V_(kk, j)] += B[i][kk]
                Ar[V_(i, kk)] += B[kk][j]
            if i != j:
                Ar[yidx[(i, j)]] += lam[i] - lam[j]
            rhs_rows.append((row, i, j))
            row += 1
    # (E2) lam_i (V - YB)_ij - lam_j (V - YB)_ji = 0, i < j
    for i in range(n):
        for j in range(i + 1, n):
            Ar = Amat[row]
            Ar[vidx[(i, j)]] += lam[i] - lam[j]
            for kk in range(n):
                t = Y_(i, kk)  # -lam_i Y_ik B_kj
                if t is not None:
                    Ar[t[0]] += -lam[i] * t[1] * B[kk][j]
                t = Y_(j, kk)  # +lam_j Y_jk B_ki
                if t is not None:
                    Ar[t[0]] += lam[j] * t[1] * B[kk][i]
            row += 1
    assert row == cnt

    rhs = [[mp.zero, mp.zero] for _ in range(cnt)]
    for r, i, j in rhs_rows:
        rhs[r][0] = 2 * g * c1[i] * c1[j]
        rhs[r][1] = 2 * g * cN[i] * cN[j]
    sol = _gauss_solve(Amat, rhs)
    out = []
    for col in (0, 1):
        out.append([[sol[V_(i, j)][col] for j in range(n)] for i in range(n)])
    return m, U, out[0], out[1], g


def _site_temps(m, U, V):
    N = len(m)
    n = len(U)
    res = []
    for s in range(N):
        u = [U[a][s] for a in range(n)]
        res.append(mp.fsum(u[a] * u[b] * V[a][b] for a in range(n) for b in range(n)))
    return res


def _steady(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime, dps):
    with mp.workdps(dps):
        m, U, VL, VR, g = _mode_covariances(masses, k, k0, n_tilde, gamma, k_prime)
        TLs, TRs = _site_temps(m, U, VL), _site_temps(m, U, VR)
        tl, tr = mp.mpf(float(t_left)), mp.mpf(float(t_right))
        # J = gamma (T_L - T_1)/m_1 without cancellation: T_1^(L) + T_1^(R) = 1
        J = (tl - tr) * g * TRs[0] / m[0]
        return J, [tl * a + tr * b for a, b in zip(TLs, TRs)]


def _checked(args, dps, check):
    J, T = _steady(*args, dps)
    if check:
        J2, T2 = _steady(*args, dps + 30)
        tol = mp.mpf(10) ** (-(dps // 3))
        with mp.workdps(dps + 30):
            bad = [(a, b) for a, b in zip([J] + T, [J2] + T2)
                   if abs(a - b) > tol * abs(b)]
        if bad:
            raise ArithmeticError(f"reference_mp: dps {dps} and {dps + 30} disagree: {bad[0]}")
    return J, T


def chain_steady_state_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0,
                          dps=60, *, check=False):
    """(J, [T_1..T_N]) as mpf from one normal-mode Lyapunov solve at ``dps`` digits (plus
    guard digits, see the module docstring).  ``check=True`` recomputes at dps + 30 and
    raises ArithmeticError unless all values agree to 10^-(dps//3) relative (2x cost)."""
    return _checked((masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime), dps, check)


def chain_temperatures_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0,
                          dps=60, *, check=False):
    """Local temperatures T_n = m_n <v_n^2>, n = 1..N (list of mpf, computed at ``dps``
    digits; read them with ``float``).

    For modes decoupled from both baths (identical bulk masses) the answer is the one from
    rest (they carry no energy), as in the Green-function formula Eq. (31)."""
    return chain_steady_state_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime,
                                 dps, check=check)[1]


def chain_flux_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0, dps=60, *,
                  check=False):
    """Exact steady heat flux J (left to right, including Delta T = T_L - T_R) as mpf,
    computed at ``dps`` digits by the normal-mode Lyapunov method (see module docstring).
    J = (T_L - T_R) gamma T_1^(R) / m_1 with T_1^(R) the temperature of particle 1 for
    T_L = 0, T_R = 1 (cancellation-free form of gamma (T_L - T_1)/m_1)."""
    return chain_steady_state_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime,
                                 dps, check=check)[0]


def chain_flux_both_sides_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0,
                             dps=60):
    """(gamma (T_L - T_1)/m_1, gamma (T_N - T_R)/m_N) from Method 1 (energy balance check)."""
    with mp.workdps(dps):
        T = chain_temperatures_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime,
                                  dps)
        m = [mp.mpf(float(x)) for x in masses]
        g = mp.mpf(float(gamma))
        return (g * (mp.mpf(float(t_left)) - T[0]) / m[0],
                g * (T[-1] - mp.mpf(float(t_right))) / m[-1])


# ----------------------------------------------------------------------------------------
# Method 2: residues of the rational integrands (Eqs. 7-17, 31)
# ----------------------------------------------------------------------------------------


def _pmul(p, q):  # coefficient lists, lowest degree first
    r = [mp.mpc(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, c in enumerate(q):
            r[i + j] += a * c
    return r


def _padd(*ps):
    L = max(len(p) for p in ps)
    return [mp.fsum(p[i] for p in ps if i < len(p)) for i in range(L)]


def _pscale(p, s):
    return [s * a for a in p]


def _pprod(ps):
    r = [mp.mpc(1)]
    for p in ps:
        r = _pmul(r, p)
    return r


def _peval(p, x):
    r = mp.mpc(0)
    for a in reversed(p):
        r = r * x + a
    return r


def _pder(p):
    return [i * p[i] for i in range(1, len(p))]


def _pconj(p):
    return [mp.conj(a) for a in p]


def _residue_setup(masses, k, k0, n_tilde, gamma, k_prime):
    m, N, bk, diag, k0m, g, kp = _params(masses, k, k0, n_tilde, gamma, k_prime)
    if bk == 0:
        raise ValueError("the residue check needs k > 0 (k = 0: undamped bulk poles)")
    b = -bk

    def Apoly(mass, end):  # A_n(w) = diag + k'_n - m w^2 + i gamma_n w (lowest first)
        return [mp.mpc(diag + (kp if end else 0)), mp.mpc(0, g if end else 0), mp.mpc(-mass)]

    A1, AN = Apoly(m[0], True), Apoly(m[-1], True)
    groups = {}  # exact bulk mass value -> list of site indices
    for s in range(1, N - 1):
        groups.setdefault(m[s], []).append(s)
    gkeys = list(groups)
    Ag = {mv: Apoly(mv, False) for mv in gkeys}
    r = {mv: len(groups[mv]) for mv in gkeys}
    PA = _pprod([Ag[x] for x in gkeys])
    PA_except = {x: _pprod([Ag[y] for y in gkeys if y != x]) for x in gkeys}
    Ssum = _padd([mp.mpc(0)], *[_pscale(PA_except[x], r[x]) for x in gkeys])
    D = _padd(_pprod([A1, AN, PA]), _pscale(_pmul(AN, PA), b), _pscale(_pmul(A1, PA), b),
              _pscale(_pprod([A1, AN, Ssum]), b))
    zero_mode = (k0m == 0 and kp == 0)
    if zero_mode:
        D = D[1:]  # D(0) = det K = 0 exactly; divide by w
    while abs(D[-1]) == 0:
        D.pop()
    # numerators of G_n1 and G_nN over the common denominator D
    num1, numN = [], []
    for s in range(N):
        if s == 0:
            n1 = _padd(_pmul(AN, PA), _pscale(PA, b), _pscale(_pmul(AN, Ssum), b))
            nN = _pscale(PA, -b)
        elif s == N - 1:
            n1 = _pscale(PA, -b)
            nN = _padd(_pmul(A1, PA), _pscale(PA, b), _pscale(_pmul(A1, Ssum), b))
        else:
            pe = PA_except[m[s]]
            n1 = _pscale(_pmul(AN, pe), -b)
            nN = _pscale(_pmul(A1, pe), -b)
        num1.append(n1)
        numN.append(nN)
    return m, g, D, zero_mode, num1, numN


def _residue_guard(masses):
    """Extra digits for nearly coincident roots of D: s distinct masses within relative
    gaps delta make a cluster of s roots whose positions are perturbed by
    ~eps / delta^(s-1) (and their imaginary parts are only ~delta^2): use
    (s + 1) log10(1/delta) + 10 extra digits for the worst cluster."""
    vals = sorted(set(float(x) for x in masses))
    guard, s, dmin = 10, 1, 1.0
    for a, c in zip(vals, vals[1:]):
        d = (c - a) / c
        if d < 1e-3:
            s += 1
            dmin = min(dmin, d)
            guard = max(guard, int((s + 1) * -mpmath.log10(dmin)) + 10)
        else:
            s, dmin = 1, 1.0
    return guard


def _roots(D):
    """Roots of D (complex coefficients, lowest first), polished by Newton at 2x precision."""
    coeffs = list(reversed(D))
    prec = mp.prec
    roots = mp.polyroots(coeffs, maxsteps=400, extraprec=3 * prec, cleanup=False)
    dD = _pder(D)
    out = []
    with mp.workprec(2 * prec):
        for r0 in roots:
            z = mp.mpc(r0)
            for _ in range(60):
                step = _peval(D, z) / _peval(dD, z)
                z -= step
                if abs(step) <= abs(z) * mp.mpf(2) ** (-2 * prec + 8):
                    break
            out.append(z)
    return out


def _rational_integral(D, zero_mode, nums, roots):
    """int_R w^2 |p(w)|^2 / |D_full(w)|^2 dw for each p in nums (D_full = w D if zero_mode)."""
    dD = _pder(D)
    Dc = _pconj(D)
    res = [mp.mpc(0)] * len(nums)
    for z in roots:
        if mp.im(z) <= 0:
            raise ArithmeticError(f"root of D not in the upper half plane: {z}")
        w2 = mp.one if zero_mode else z * z
        den = _peval(dD, z) * _peval(Dc, z)
        for a, p in enumerate(nums):
            res[a] += w2 * _peval(p, z) * _peval(_pconj(p), z) / den
    return [mp.re(2j * mp.pi * x) for x in res]


def chain_flux_residues_mp(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0,
                           dps=60):
    """Heat flux J by the residue theorem applied to Eq. (16)-(17) (independent check)."""
    with mp.workdps(dps + _residue_guard(masses)):
        m, g, D, zm, num1, numN = _residue_setup(masses, k, k0, n_tilde, gamma, k_prime)
        roots = _roots(D)
        (I,) = _rational_integral(D, zm, [num1[-1]], roots)
        dT = mp.mpf(float(t_left)) - mp.mpf(float(t_right))
        return dT * g**2 / mp.pi * I


def chain_temperatures_residues_mp(masses, k, k0, n_tilde, gamma, t_left, t_right,
                                   k_prime=0.0, dps=60):
    """Local temperatures by the residue theorem applied to Eq. (31) (independent check)."""
    with mp.workdps(dps + _residue_guard(masses)):
        m, g, D, zm, num1, numN = _residue_setup(masses, k, k0, n_tilde, gamma, k_prime)
        roots = _roots(D)
        I = _rational_integral(D, zm, num1 + numN, roots)
        N = len(m)
        tl, tr = mp.mpf(float(t_left)), mp.mpf(float(t_right))
        return [g * m[s] / mp.pi * (tl * I[s] + tr * I[N + s]) for s in range(N)]


def network_steady_state_mp(masses, K, gamma, t_left, t_right, k_prime=0.0, dps=50):
    """(J, [T_n]) of any harmonic network (stiffness matrix K, list of lists of floats;
    baths on particles 1 and N, wall springs k' on both) in ``dps``-digit mpmath: the
    state-space Lyapunov equation A C + C Aᵀ + D = 0, A = [[0, I], [−M⁻¹K_w, −M⁻¹Γ]], solved
    in A's eigenbasis (``mp.eig``): C = V X Vᴴ, X_ij = −(W D Wᴴ)_ij / (s_i + s̄_j),
    W = V⁻¹. Needs every mode damped (no decoupled mode). O(N³) in mpmath: ~20 s at N = 24.
    """
    with mp.workdps(dps):
        n = len(masses)
        m = [mp.mpf(x) for x in masses]
        a = mp.zeros(2 * n, 2 * n)
        for i in range(n):
            a[i, n + i] = 1
            for j in range(n):
                kij = mp.mpf(K[i][j]) + (mp.mpf(k_prime) if i == j and i in (0, n - 1) else 0)
                a[n + i, j] = -kij / m[i]
        g = mp.mpf(gamma)
        a[n, n] = -g / m[0]
        a[2 * n - 1, 2 * n - 1] -= g / m[n - 1]
        d = mp.zeros(2 * n, 2 * n)
        d[n, n] = 2 * g * mp.mpf(t_left) / m[0] ** 2
        d[2 * n - 1, 2 * n - 1] += 2 * g * mp.mpf(t_right) / m[n - 1] ** 2
        s, v = mp.eig(a)
        w = mp.inverse(v)
        f = w * d * w.transpose_conj()
        x = mp.matrix(2 * n, 2 * n)
        for i in range(2 * n):
            for j in range(2 * n):
                x[i, j] = -f[i, j] / (s[i] + mp.conj(s[j]))
        c = v * x * v.transpose_conj()
        temps = [mp.re(c[n + i, n + i]) * m[i] for i in range(n)]
        flux = g * (mp.mpf(t_left) - temps[0]) / m[0]
        return flux, temps


def tridiagonal_end_amplitudes_mp(masses, K, k_prime, lams, dps=120, max_iterations=12):
    """End amplitudes (U_1j, U_Nj) of the mass-normalised modes (UᵀMU = I) of a
    nearest-neighbour network (K tridiagonal, walls k' on particles 1 and N) at ``dps``
    digits, one per approximate eigenvalue in ``lams`` (float64, e.g. from eigh).

    Inverse iteration on D = M^{-1/2} K_w M^{-1/2} (built in mpf from the float64 inputs):
    (D − λ) x = x_old by the Thomas algorithm (O(N) per solve), λ ← xᵀDx/xᵀx after each
    solve (Rayleigh-quotient iteration: cubic convergence), from x = (1, …, 1) until λ
    moves by less than 10^(20−dps)·max|λ| (at least 3, at most ``max_iterations`` solves):
    the admixture of other modes, which would swamp a tiny end amplitude, falls below
    10^-dps. Backward stable at ``dps`` digits, so an amplitude a of the unit mode carries
    an absolute error ~10^-dps: relative 10^-dps/a (dps = 120 resolves 1e-100). Returns
    two lists of mpf, signs relative to each other (U_1j > 0). O(N) per mode and solve,
    O(N²) in all (~20–40 s at N = 300).
    """
    with mp.workdps(dps):
        n = len(masses)
        s = [1 / mp.sqrt(mp.mpf(x)) for x in masses]
        a = [(mp.mpf(K[i][i]) + (mp.mpf(k_prime) if i in (0, n - 1) else 0)) * s[i] ** 2
             for i in range(n)]
        b = [mp.mpf(K[i][i + 1]) * s[i] * s[i + 1] for i in range(n - 1)]

        def apply(x):
            return [a[i] * x[i] + (b[i - 1] * x[i - 1] if i > 0 else 0)
                    + (b[i] * x[i + 1] if i < n - 1 else 0) for i in range(n)]

        tiny = mp.mpf(10) ** (-2 * dps)

        def nonzero(piv):  # an exactly singular leading block: perturb below the precision
            return piv if piv != 0 else tiny

        def solve(lam, r):  # Thomas algorithm for (D − λ) x = r
            c, d = [mp.mpf(0)] * n, [mp.mpf(0)] * n
            piv = nonzero(a[0] - lam)
            c[0] = b[0] / piv if n > 1 else 0
            d[0] = r[0] / piv
            for i in range(1, n):
                piv = nonzero(a[i] - lam - b[i - 1] * c[i - 1])
                c[i] = b[i] / piv if i < n - 1 else 0
                d[i] = (r[i] - b[i - 1] * d[i - 1]) / piv
            x = [mp.mpf(0)] * n
            x[-1] = d[-1]
            for i in range(n - 2, -1, -1):
                x[i] = d[i] - c[i] * x[i + 1]
            return x

        first, last = [], []
        tol = mp.mpf(10) ** (20 - dps) * max(abs(mp.mpf(float(v))) for v in lams)
        for lam0 in lams:
            lam = mp.mpf(float(lam0))
            x = [mp.mpf(1)] * n
            for it in range(max_iterations):
                x = solve(lam, x)
                norm = mp.sqrt(mp.fsum(v * v for v in x))
                x = [v / norm for v in x]
                new = mp.fsum(u * v for u, v in zip(x, apply(x)))
                moved, lam = abs(new - lam), new
                if it >= 2 and moved <= tol:
                    break
            sign = 1 if x[0] >= 0 else -1
            first.append(sign * x[0] * s[0])
            last.append(sign * x[-1] * s[-1])
        return first, last
