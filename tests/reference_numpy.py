"""Independent float64 NumPy/SciPy/mpmath reference ("oracle") for meanfield_jax.

This module must never import :mod:`meanfield_jax`; it re-derives every quantity from the
paper (Defaveri, Olivares & Anteneodo, PRE 105, 054149 (2022); equation numbers below are
that paper's) with plain dense linear algebra, adaptive quadrature and, for identical
masses, 30-digit mpmath arithmetic.

Conventions
-----------
* N particles with masses ``m_n`` (1-d array), stiffness matrix ``K`` (N x N, symmetric
  positive semi-definite).  For the mean-field chain of Eq. (1)
  ``K = (k0 + N k / Ñ) I - (k / Ñ) 1 1^T`` (see :func:`chain_stiffness`).
* Langevin baths with friction ``gamma`` on particles 1 and N only, temperatures
  ``t_left`` (particle 1) and ``t_right`` (particle N), k_B = 1, noise
  <eta(t) eta(t')> = 2 gamma T delta(t - t').
* Optional wall springs ``k_prime`` >= 0 tie particles 1 and N to fixed walls: they add
  ``k_prime`` to K_11 and K_NN  (Sec. IV: c = i omega gamma + k').
* Z(omega) = K + k' P - omega^2 M + i omega gamma P, with P = e_1 e_1^T + e_N e_N^T
  (Eq. 7); G = Z^{-1}.  Transmittance T(omega) = 4 gamma^2 omega^2 |G_1N|^2 (Eq. 17);
  heat flux J = (T_L - T_R)/(4 pi) int_R T(omega) d omega (Eq. 16); local temperatures
  T_n = m_n <v_n^2> = 2 gamma m_n int_R d omega/(2 pi) omega^2 (T_L |G_n1|^2 + T_R |G_nN|^2)
  (Eq. 31).  Energy balance: J = gamma/m_1 (T_L - T_1) = gamma/m_N (T_N - T_R).
* Poles: with x(t) ~ e^{s t}, (M s^2 + Gamma s + K) x = 0, so Z(omega) is singular at
  omega_p = -i s_p.  Stable modes (Re s_p < 0) give Im omega_p = -Re s_p > 0; the
  half-width of the corresponding (Lorentzian-like) peak of T is |Im omega_p|.

Public functions
----------------
chain_stiffness, z_matrix, transmittance_dense, transmittance_chain_sm, poles_dense,
lyapunov_steady_state, flux_quad, local_temperatures_quad,
transmittance_identical, identical_masses_flux_quad, identical_masses_flux_residues,
graded_masses, random_masses.

Accuracy notes (measured; see tests/test_reference_oracle.py)
-------------------------------------------------------------
* :func:`lyapunov_steady_state` solves the float64-rounded problem with iterative
  refinement (residual in 80-bit long double).  At equilibrium the exact solution of the
  rounded problem has T_n = T exactly, so the equilibrium error measures the solver alone.
* The *physical* answer for given float64 masses can itself be sensitive to eps-level
  perturbations when some modes are only weakly coupled to the baths (narrow peaks):
  no float64 formulation can do better than ~eps / (relative width of the narrowest peak)
  for local temperatures.  The flux is insensitive (narrow peaks carry area ~ width).
* Identical bulk masses (any two bulk particles with equal mass, in the chain) give modes
  exactly decoupled from the baths: the Lyapunov equation is singular and the steady state
  depends on initial conditions.  :func:`lyapunov_steady_state` raises ``ValueError`` in
  that case; use :func:`identical_masses_flux_quad` (Eqs. 20-22) for the flux.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import scipy.linalg as sla
from scipy import integrate
from scipy.linalg import lapack

__all__ = [
    "chain_stiffness",
    "graded_masses",
    "random_masses",
    "z_matrix",
    "transmittance_dense",
    "transmittance_chain_sm",
    "poles_dense",
    "lyapunov_steady_state",
    "flux_quad",
    "local_temperatures_quad",
    "transmittance_identical",
    "identical_masses_flux_quad",
    "identical_masses_flux_residues",
]

# Relative threshold below which an eigenvalue of M^{-1/2} K_eff M^{-1/2} is treated as an
# exact zero mode (momentum conservation).  Pinning k0 below ~1e-11 * ||K|| is therefore
# treated as k0 = 0 by this oracle.
ZERO_MODE_RTOL = 1e-11


# ----------------------------------------------------------------------------------------
# System construction
# ----------------------------------------------------------------------------------------


def _n_tilde(n: int, n_tilde) -> float:
    if isinstance(n_tilde, str):
        if n_tilde != "kac":
            raise ValueError(f"n_tilde must be 'kac' or a positive number, got {n_tilde!r}")
        if n < 2:
            raise ValueError("Kac factor N-1 needs N >= 2")
        return float(n - 1)
    val = float(n_tilde)
    if not val > 0:
        raise ValueError(f"n_tilde must be > 0, got {n_tilde!r}")
    return val


def chain_stiffness(masses_len_N, k: float, k0: float, n_tilde="kac") -> np.ndarray:
    """Stiffness matrix of the mean-field chain, Eq. (1)/(5).

    ``K = (k0 + N k/Ñ) I - (k/Ñ) 1 1^T``: diagonal ``k0 + (N-1) k/Ñ``, off-diagonal
    ``-k/Ñ``.

    Parameters
    ----------
    masses_len_N : int or array_like
        N itself, or any sequence of length N (e.g. the masses).
    k, k0 : float
        Coupling and pinning stiffness.
    n_tilde : "kac" or float
        "kac" gives Ñ = N - 1; a number is used as Ñ directly.
    """
    n = int(masses_len_N) if np.ndim(masses_len_N) == 0 else len(masses_len_N)
    if n < 2:
        raise ValueError(f"need N >= 2, got {n}")
    b = float(k) / _n_tilde(n, n_tilde)
    K = np.full((n, n), -b)
    np.fill_diagonal(K, float(k0) + (n - 1) * b)
    return K


def graded_masses(n: int, m: float = 1.0, delta: float = 0.1) -> np.ndarray:
    """Graded masses m_n = m - delta + 2 delta (n-1)/(N-1), n = 1..N (paper, Fig. 4)."""
    return m - delta + 2.0 * delta * np.arange(n) / (n - 1)


def random_masses(n: int, m: float = 1.0, delta: float = 0.1, seed: int = 0) -> np.ndarray:
    """Masses uniform in [m - delta, m + delta] (paper, Fig. 4), reproducible via ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(m - delta, m + delta, size=n)


def _check(masses, K, gamma, k_prime):
    m = np.asarray(masses, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if m.ndim != 1 or m.size < 2:
        raise ValueError("masses must be a 1-d array with N >= 2")
    n = m.size
    if K.shape != (n, n):
        raise ValueError(f"K must be {n}x{n}, got {K.shape}")
    if not np.all(m > 0):
        raise ValueError("masses must be > 0")
    if not np.allclose(K, K.T, rtol=0, atol=1e-14 * max(1.0, np.abs(K).max())):
        raise ValueError("K must be symmetric")
    if not gamma > 0:
        raise ValueError("gamma must be > 0")
    if not k_prime >= 0:
        raise ValueError("k_prime must be >= 0")
    return m, 0.5 * (K + K.T)


def _k_eff(K, k_prime):
    Ke = np.array(K, dtype=np.float64, copy=True)
    Ke[0, 0] += k_prime
    Ke[-1, -1] += k_prime
    return Ke


def _bath_vector(n, value_first, value_last):
    v = np.zeros(n)
    v[0] += value_first
    v[-1] += value_last
    return v


def z_matrix(masses, K, gamma, k_prime, omega) -> np.ndarray:
    """Z(omega) = K + k' P - omega^2 M + i omega gamma P  (Eq. 7 with c = i omega gamma + k')."""
    m, K = _check(masses, K, gamma, k_prime)
    Z = _k_eff(K, k_prime).astype(np.complex128)
    g = _bath_vector(m.size, gamma, gamma)
    Z[np.diag_indices(m.size)] += -(omega**2) * m + 1j * omega * g
    return Z


# ----------------------------------------------------------------------------------------
# Dense evaluation of omega * G(omega) columns, with exact deflation of zero modes
# ----------------------------------------------------------------------------------------


class _Dense:
    """Evaluates Y(omega) = omega * G(omega)[:, cols] by dense solves.

    Without zero modes this is ``omega * solve(Z, E)``.  If K_eff = K + k'P has a null
    space V (momentum conservation), G ~ 1/omega near 0 and the plain solve loses
    ~eps/omega relative accuracy.  We then work in the orthonormal basis [W V]
    (W spans range(K_eff)), impose K_eff V = 0 exactly, and solve the scaled system

        [ W^T Z W        W^T Z V       ] [alpha]   [ omega W^T E ]
        [ V^T Z W/omega  V^T Z V/omega ] [beta ] = [ V^T E       ],

    whose blocks are all O(1) as omega -> 0 (V^T Z V/omega = -omega V^T M V + i V^T Gamma V).
    Then omega G E = W alpha + V beta, valid for all omega including omega = 0.
    """

    def __init__(self, masses, K, gamma, k_prime):
        m, K = _check(masses, K, gamma, k_prime)
        self.m = m
        self.n = m.size
        self.gamma = float(gamma)
        self.Ke = _k_eff(K, k_prime)
        self.g = _bath_vector(self.n, gamma, gamma)
        lam, U = np.linalg.eigh(self.Ke)
        scale = max(np.abs(lam).max(), 1e-300)
        if lam.min() < -ZERO_MODE_RTOL * scale:
            raise ValueError("K + k'P is not positive semi-definite")
        zero = lam <= ZERO_MODE_RTOL * scale
        self.nz = int(zero.sum())
        if self.nz:
            self.V = U[:, zero]
            self.W = U[:, ~zero]
            W, V = self.W, self.V
            self.WKW = np.diag(lam[~zero])  # W^T K W, exact in the eigenbasis
            self.WMW = W.T @ (m[:, None] * W)
            self.WGW = W.T @ (self.g[:, None] * W)
            self.WMV = W.T @ (m[:, None] * V)
            self.WGV = W.T @ (self.g[:, None] * V)
            self.VMV = V.T @ (m[:, None] * V)
            self.VGV = V.T @ (self.g[:, None] * V)
            if np.linalg.matrix_rank(self.VGV, tol=1e-12 * self.gamma) < self.nz:
                raise ValueError("a zero mode of K + k'P does not touch the baths")

    def omega_g(self, omega: float, cols) -> np.ndarray:
        n = self.n
        E = np.zeros((n, len(cols)))
        E[cols, np.arange(len(cols))] = 1.0
        if not self.nz:
            if omega == 0.0:
                return np.zeros((n, len(cols)), dtype=np.complex128)
            Z = self.Ke.astype(np.complex128)
            Z[np.diag_indices(n)] += -(omega**2) * self.m + 1j * omega * self.g
            return omega * np.linalg.solve(Z, E)
        w2, iw = omega**2, 1j * omega
        top = np.hstack([self.WKW - w2 * self.WMW + iw * self.WGW, -w2 * self.WMV + iw * self.WGV])
        bot = np.hstack(
            [(-omega * self.WMV + 1j * self.WGV).T, -omega * self.VMV + 1j * self.VGV]
        )
        rhs = np.vstack([omega * (self.W.T @ E), self.V.T @ E])
        sol = np.linalg.solve(np.vstack([top, bot]), rhs.astype(np.complex128))
        r = n - self.nz
        return self.W @ sol[:r] + self.V @ sol[r:]

    def transmittance(self, omega: float) -> float:
        y = self.omega_g(omega, [self.n - 1])
        return 4.0 * self.gamma**2 * abs(y[0, 0]) ** 2


class _ChainSM:
    """Sherman-Morrison evaluation of T(omega) for K_eff = diag(d) + b 1 1^T, O(N) per omega.

    Z = diag(A) + b 1 1^T with A_n = d_n - m_n w^2 + i w gamma_n, so (Eq. 14)
    G_1N = -b / (A_1 A_N (1 + b sum 1/A_n)).  Writing 1 + b sum_n 1/A_n
    = (1/N) sum_n (r_n - m_n w^2 + i w gamma_n)/A_n with r = K_eff 1 (row sums) avoids the
    cancellation near omega = 0; if r == 0 (zero mode, snapped when |r| < 1e-13 ||K||) the
    factor omega is divided out analytically.
    """

    def __init__(self, masses, K, gamma, k_prime):
        m, K = _check(masses, K, gamma, k_prime)
        Ke = _k_eff(K, k_prime)
        n = m.size
        off = Ke[~np.eye(n, dtype=bool)]
        b = off[0]
        if not np.all(off == b):
            raise ValueError("Sherman-Morrison path needs equal off-diagonal elements of K")
        self.b = b
        self.d = np.diag(Ke) - b
        r = Ke.sum(axis=1)
        self.zero_mode = bool(np.all(np.abs(r) <= 1e-13 * np.abs(Ke).max() * n))
        self.r = np.zeros(n) if self.zero_mode else r
        self.m, self.n, self.gamma = m, n, float(gamma)
        self.g = _bath_vector(n, gamma, gamma)

    def transmittance(self, omega: float) -> float:
        w = omega
        if w == 0.0 and not self.zero_mode:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            A = self.d - self.m * w * w + 1j * w * self.g
            if self.zero_mode:
                s = np.sum((-self.m * w + 1j * self.g) / A)
                wg = -self.b * self.n / (A[0] * A[-1] * s)
            else:
                s = np.sum((self.r - self.m * w * w + 1j * w * self.g) / A)
                wg = -self.b * self.n * w / (A[0] * A[-1] * s)
        if not np.isfinite(wg):  # A_n == 0 exactly for some n: removable, G_1N -> 0
            return 0.0
        return 4.0 * self.gamma**2 * abs(wg) ** 2


def transmittance_dense(masses, K, gamma, k_prime, omegas) -> np.ndarray:
    """Transmittance T(omega) = 4 gamma^2 omega^2 |G_1N|^2 (Eq. 17) by dense solves.

    One ``np.linalg.solve`` per frequency.  omega = 0 is handled by the limit: T(0) = 0
    when K + k'P is non-singular; with a zero mode (k0 = 0, k' = 0: null vector 1) the
    zero mode is deflated exactly (see :class:`_Dense`), giving e.g. T(0) = 1 for the
    momentum-conserving chain.  T is even; negative omegas are accepted.
    """
    sysd = _Dense(masses, K, gamma, k_prime)
    om = np.asarray(omegas, dtype=np.float64)
    out = np.array([sysd.transmittance(float(w)) for w in om.ravel()])
    return out.reshape(om.shape)


def transmittance_chain_sm(masses, K, gamma, k_prime, omegas) -> np.ndarray:
    """Same as :func:`transmittance_dense` for K with equal off-diagonals (the chain), O(N)."""
    sm = _ChainSM(masses, K, gamma, k_prime)
    om = np.asarray(omegas, dtype=np.float64)
    out = np.array([sm.transmittance(float(w)) for w in om.ravel()])
    return out.reshape(om.shape)


def _state_matrix_full(m, Ke, gamma):
    """2N x 2N drift matrix in mass-weighted coordinates x = M^{1/2} q, u = M^{1/2} v."""
    n = m.size
    s = 1.0 / np.sqrt(m)
    Kh = s[:, None] * Ke * s[None, :]
    g = _bath_vector(n, gamma / m[0], gamma / m[-1])
    A = np.zeros((2 * n, 2 * n))
    A[:n, n:] = np.eye(n)
    A[n:, :n] = -0.5 * (Kh + Kh.T)
    A[n:, n:] = -np.diag(g)
    return A


def poles_dense(masses, K, gamma, k_prime=0.0) -> np.ndarray:
    """The 2N complex frequencies omega_p = -i s_p at which Z(omega) is singular.

    s_p are the eigenvalues of the 2N x 2N state (companion) matrix
    [[0, I], [-M^{-1/2} K_eff M^{-1/2}, -M^{-1/2} Gamma M^{-1/2}]].  Damped modes have
    Im omega_p > 0; Re omega_p is the peak position, Im omega_p its half-width.  A zero
    mode of K_eff gives omega_p = 0 (and a purely imaginary partner, the damped
    centre-of-mass velocity).  Sorted by real part.
    """
    m, K = _check(masses, K, gamma, k_prime)
    s = np.linalg.eigvals(_state_matrix_full(m, _k_eff(K, k_prime), gamma))
    w = -1j * s
    return w[np.lexsort((w.imag, w.real))]


# ----------------------------------------------------------------------------------------
# Lyapunov steady state with iterative refinement
# ----------------------------------------------------------------------------------------


def _schur_eigs(T):
    """Eigenvalues of a real quasi-triangular (real Schur) matrix."""
    n = T.shape[0]
    out = []
    i = 0
    while i < n:
        if i + 1 < n and T[i + 1, i] != 0.0:
            out.extend(np.linalg.eigvals(T[i : i + 2, i : i + 2]))
            i += 2
        else:
            out.append(T[i, i])
            i += 1
    return np.asarray(out, dtype=np.complex128)


def lyapunov_steady_state(
    masses,
    K,
    gamma,
    t_left,
    t_right,
    k_prime=0.0,
    *,
    refine_steps: int = 10,
    min_decay_rtol: float = 2e-15,
) -> dict:
    """Exact steady state of the Langevin chain from the state-space Lyapunov equation.

    Formulation (mass-weighted, zero modes removed exactly):
      x = M^{1/2} q, u = M^{1/2} v, Kh = M^{-1/2} K_eff M^{-1/2}.  If Kh has a null space
      (eigenvalues <= ZERO_MODE_RTOL * ||Kh||) let the rows of B be an orthonormal basis of
      its complement and Kt = B Kh B^T (so Kh = B^T Kt B); otherwise B = I, Kt = Kh.
      State z = (y, u) with y = B x:
          dy = B u dt,   du = (-B^T Kt y - g u) dt + noise,   g = diag(gamma/m_1, .., gamma/m_N)
      (only particles 1 and N are damped), noise covariance D_uu = diag(2 gamma T_L/m_1, ..,
      2 gamma T_R/m_N).  This (2N - n_zero)-dimensional system is stable when all modes
      couple to the baths; its covariance C solves  A C + C A^T + D = 0.

    Solve: Bartels-Stewart exactly as ``scipy.linalg.solve_continuous_lyapunov`` (real
    Schur form A = Q S Q^T once, LAPACK ``dtrsyl``), then iterative
    refinement: the residual R = A C + C A^T + D is formed in np.longdouble (80-bit on
    x86-64; A and D are exact float64 numbers, so R is accurate to ~1e-19 relative), the
    correction solves A E + E A^T = -R with the *same* real Schur form A = Q S Q^T (LAPACK
    ``dtrsyl`` on S), C += E (accumulated in long double).  At equilibrium (T_L = T_R = T)
    the exact solution of the rounded problem is C_uu = T I, independent of rounding in Kt.

    Returns dict with
      velocity_cov  : N x N  <v_i v_j>
      temperatures  : T_n = m_n <v_n^2>
      flux          : gamma/m_1 (T_L - T_1)     (heat current from the left bath)
      flux_right    : gamma/m_N (T_N - T_R)     (heat current into the right bath)
      residual_norms: max|R| before each refinement step
      correction_norms: max|E| of each refinement correction
      min_decay_rate: min over eigenvalues s of A of -Re s (narrowest peak half-width)
      n_zero_modes  : number of exactly removed zero modes

    Raises ValueError when some mode is (numerically) undamped: -Re s <= min_decay_rtol *
    max|s|.  This happens for identical bulk masses (N-3 modes decoupled from the baths,
    paper Sec. III B; more generally whenever two bulk masses of the chain coincide): the
    Lyapunov equation is then singular and the steady state depends on initial conditions.
    Use :func:`identical_masses_flux_quad` for that case.
    """
    m, K = _check(masses, K, gamma, k_prime)
    n = m.size
    Ke = _k_eff(K, k_prime)
    s = 1.0 / np.sqrt(m)
    Kh = s[:, None] * Ke * s[None, :]
    Kh = 0.5 * (Kh + Kh.T)
    lam, U = np.linalg.eigh(Kh)
    scale = max(np.abs(lam).max(), 1e-300)
    if lam.min() < -ZERO_MODE_RTOL * scale:
        raise ValueError("K + k'P is not positive semi-definite")
    zero = lam <= ZERO_MODE_RTOL * scale
    nz = int(zero.sum())
    if nz == 1:
        # Householder reflector H = I - 2 h h^T with H v = -sign(v_N) e_N; B = H[:N-1]
        # (orthonormal rows spanning v-perp), applied in O(N) per column.
        v = U[:, zero][:, 0]
        h = v.copy()
        h[-1] += math.copysign(1.0, v[-1])
        h /= np.linalg.norm(h)
        H = np.eye(n) - 2.0 * np.outer(h, h)
        B = H[: n - 1]
        Kt = B @ Kh @ B.T
        Kt = 0.5 * (Kt + Kt.T)
    elif nz > 1:
        Qf, _ = np.linalg.qr(U[:, zero], mode="complete")
        B = Qf[:, nz:].T  # (n - nz) x n, orthonormal rows, B @ null = 0
        Kt = B @ Kh @ B.T
        Kt = 0.5 * (Kt + Kt.T)
        h = None
    else:
        B = None
        Kt = Kh
    ny = n - nz
    g = _bath_vector(n, gamma / m[0], gamma / m[-1])
    d = _bath_vector(n, 2.0 * gamma * t_left / m[0], 2.0 * gamma * t_right / m[-1])

    nt = ny + n
    A = np.zeros((nt, nt))
    A[:ny, ny:] = np.eye(n) if B is None else B
    A[ny:, :ny] = -Kt if B is None else -(B.T @ Kt)
    A[ny:, ny:] = -np.diag(g)
    D = np.zeros((nt, nt))
    D[ny:, ny:] = np.diag(d)

    S, Q = sla.schur(A, output="real")
    eig = _schur_eigs(S)
    decay = -eig.real.max()
    smax = np.abs(eig).max()
    if decay <= min_decay_rtol * smax:
        raise ValueError(
            "Lyapunov equation is (numerically) singular: some mode is undamped "
            f"(max Re s = {-decay:.3e}, max |s| = {smax:.3e}).  This happens for identical "
            "(bulk) masses, whose N-3 relative modes are decoupled from the baths; the "
            "steady state then depends on initial conditions. Use "
            "identical_masses_flux_quad for the flux in that case."
        )

    trsyl = lapack.dtrsyl

    def schur_solve(Rhs):
        """E with A E + E A^T = Rhs via the stored real Schur form (Bartels-Stewart)."""
        F = Q.T @ Rhs @ Q
        Y, sc, info = trsyl(S, S, F, tranb="T")
        if info < 0:
            raise RuntimeError(f"dtrsyl failed, info={info}")
        E = Q @ (Y / sc) @ Q.T
        return 0.5 * (E + E.T)

    # Initial solve: identical to scipy.linalg.solve_continuous_lyapunov(A, -D) (which
    # also does real Schur + dtrsyl), but reusing our Schur factor (a second Schur
    # decomposition costs ~10 s at N = 400).
    C = schur_solve(-D)

    ld = np.longdouble
    if np.finfo(ld).eps > 1e-18:
        warnings.warn(
            "np.longdouble is not extended precision on this platform: the refinement "
            "residual is only float64-accurate and ill-conditioned cases lose digits",
            RuntimeWarning,
            stacklevel=2,
        )
    Kt_ld = Kt.astype(ld)
    B_ld = None if B is None else B.astype(ld)
    g_ld = g.astype(ld)
    d_ld = d.astype(ld)
    X = C.astype(ld)

    h_ld = h.astype(ld) if nz == 1 else None

    def apply_B(Y):  # B @ Y in long double
        if nz == 1:
            return (Y - 2 * np.outer(h_ld, h_ld @ Y))[: n - 1]
        return B_ld @ Y

    def apply_BT(Y):  # B^T @ Y in long double
        if nz == 1:
            Z = np.vstack([Y, np.zeros((1, Y.shape[1]), dtype=ld)])
            return Z - 2 * np.outer(h_ld, h_ld[: n - 1] @ Y)
        return B_ld.T @ Y

    def residual(X):
        Xy, Xu = X[:ny], X[ny:]
        AX = np.empty_like(X)
        AX[:ny] = Xu if B is None else apply_B(Xu)
        KX = Kt_ld @ Xy
        AX[ny:] = -(KX if B is None else apply_BT(KX)) - g_ld[:, None] * Xu
        R = AX + AX.T
        R[ny:, ny:] += np.diag(d_ld)
        return R

    res_norms, corr_norms = [], []
    for _ in range(refine_steps):
        R = residual(X)
        rn = float(np.abs(R).max())
        res_norms.append(rn)
        if rn == 0.0:
            break
        E = schur_solve(-R.astype(np.float64))
        X = X + E.astype(ld)
        cn = float(np.abs(E).max())
        corr_norms.append(cn)
        # converged: correction at long-double rounding level, or no longer decreasing
        if cn <= 1e-18 * float(np.abs(X).max()) or (
            len(corr_norms) >= 3 and cn > 0.5 * corr_norms[-2]
        ):
            break

    Cuu = X[ny:, ny:]
    temps = np.diag(Cuu).astype(np.float64)
    vcov = (Cuu * (s.astype(ld)[:, None] * s.astype(ld)[None, :])).astype(np.float64)
    flux = float(gamma / m[0] * (ld(t_left) - Cuu[0, 0]))
    flux_r = float(gamma / m[-1] * (Cuu[-1, -1] - ld(t_right)))
    return {
        "velocity_cov": 0.5 * (vcov + vcov.T),
        "temperatures": temps,
        "flux": flux,
        "flux_right": flux_r,
        "residual_norms": res_norms,
        "correction_norms": corr_norms,
        "min_decay_rate": float(decay),
        "n_zero_modes": nz,
    }


# ----------------------------------------------------------------------------------------
# Adaptive quadrature over [0, inf) with pole-aware substitutions
# ----------------------------------------------------------------------------------------

# Half-window (in units of the half-width) integrated with the cot substitution.
_CORE = 1e3


def _pieces_from_poles(poles, scale):
    """Partition [0, inf) into pieces adapted to the peaks of T (and |G|^2).

    Peak centres c = |Re omega_p| with half-widths w = |Im omega_p|.  Between consecutive
    centres the interval is split at the midpoint; each half is attached to its centre:
      * core:  |omega - c| <= min(h, 1e3 w) with  omega = c +- w cot(phi):  a Lorentzian
               of width w becomes *constant* in phi, so peaks of width 1e-10 (or below) are
               integrated to full precision.  (cot near phi -> 0 keeps full relative
               precision, unlike tan near pi/2.)
      * outer: 1e3 w <= |omega - c| <= h with omega = c +- e^t (Lorentzian tails ~ e^{-t}).
    The last centre gets h = max(c_last, scale) on its right, then [.., inf) goes to QAGI.
    """
    w_floor = 1e-15 * scale
    cw = {}
    for p in poles:
        c, w = abs(p.real), abs(p.imag)
        if abs(p) <= 1e-12 * scale:
            continue  # exact zero mode of K_eff: no peak in T (T(0) is finite)
        cw.setdefault(c, []).append(max(w, w_floor))
    cs = sorted(cw)
    centres, widths = [], []
    for c in cs:
        w = min(cw[c])
        if centres and c - centres[-1] <= 1e-15 * scale:
            widths[-1] = min(widths[-1], w)
            continue
        centres.append(c)
        widths.append(w)
    pieces = []

    def side(c, w, sgn, h):
        W = min(h, _CORE * w)
        pieces.append(("core", c, w, sgn, math.atan2(w, W)))
        if h > W * (1 + 1e-12):
            pieces.append(("log", c, sgn, math.log(W), math.log(h)))

    if not centres:
        pieces.append(("lin", 0.0, scale))
        pieces.append(("inf", scale))
        return pieces
    if centres[0] > 1e-14 * scale:
        h = centres[0] / 2
        pieces.append(("lin", 0.0, h))
        side(centres[0], widths[0], -1, h)
    for i in range(len(centres) - 1):
        h = 0.5 * (centres[i + 1] - centres[i])
        side(centres[i], widths[i], +1, h)
        side(centres[i + 1], widths[i + 1], -1, h)
    H = max(centres[-1], scale)
    side(centres[-1], widths[-1], +1, H)
    pieces.append(("inf", centres[-1] + H))
    return pieces


def _piece_integrand(piece, f):
    kind = piece[0]
    if kind == "core":
        _, c, w, sgn, phi0 = piece

        def fun(phi):
            sp = math.sin(phi)
            return f(c + sgn * w * math.cos(phi) / sp) * (w / (sp * sp))

        return fun, phi0, 0.5 * math.pi
    if kind == "log":
        _, c, sgn, t0, t1 = piece

        def fun(t):
            e = math.exp(t)
            return f(c + sgn * e) * e

        return fun, t0, t1
    if kind == "lin":
        return f, piece[1], piece[2]
    if kind == "inf":
        return f, piece[1], math.inf
    raise AssertionError(kind)


def _integrate_pieces(pieces, f, epsrel, vector=False, limit=400):
    """Sum of adaptive integrals over the pieces.

    A cheap first pass (16-point Gauss-Legendre per finite piece) estimates the total I0;
    each piece is then integrated with scipy.integrate.quad (quad_vec for vectors) at
    epsrel with epsabs = 0.1 * epsrel * |I0| / n_pieces, so negligible pieces do not
    stall the adaptive scheme.
    """
    xg, wg = np.polynomial.legendre.leggauss(16)
    est = 0.0
    for p in pieces:
        fun, a, b = _piece_integrand(p, f)
        if math.isinf(b):
            # omega = a / u, u in (0, 1]
            vals = [fun(a / (0.5 * (1 + x))) * a / (0.5 * (1 + x)) ** 2 for x in xg]
            est = est + 0.5 * sum(wv * v for wv, v in zip(wg, vals))
        else:
            vals = [fun(a + 0.5 * (b - a) * (1 + x)) for x in xg]
            est = est + 0.5 * (b - a) * sum(wv * v for wv, v in zip(wg, vals))
    i0 = float(np.max(np.abs(est)))
    epsabs = 0.1 * epsrel * i0 / len(pieces)
    total, err = 0.0, 0.0
    for p in pieces:
        fun, a, b = _piece_integrand(p, f)
        if vector:
            val, e = integrate.quad_vec(fun, a, b, epsabs=epsabs, epsrel=epsrel, norm="max",
                                        limit=limit)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                val, e = integrate.quad(fun, a, b, epsabs=epsabs, epsrel=epsrel, limit=limit)
        total = total + val
        err = err + e
    return total, err


def _omega_scale(m, Ke):
    lam = np.linalg.eigvalsh((1 / np.sqrt(m))[:, None] * Ke * (1 / np.sqrt(m))[None, :])
    return math.sqrt(max(lam.max(), 1e-300))


def flux_quad(masses, K, gamma, t_left, t_right, k_prime=0.0, epsrel=1e-13, *,
              method="dense"):
    """Heat flux J = (T_L - T_R)/(2 pi) int_0^inf T(omega) d omega  (Eq. 16, T even).

    Adaptive ``scipy.integrate.quad`` on pieces built from *all* poles of G
    (:func:`poles_dense`): breakpoints at every Re omega_p, narrow peaks integrated with
    omega = c + w cot(phi) (equivalently c + w tan(theta)), tails by exp/QAGI
    substitutions (see :func:`_pieces_from_poles`).  T(omega) by dense solves
    (``method="dense"``, default) or by the O(N) Sherman-Morrison form of Eq. (14)
    (``method="sherman_morrison"``, K must have equal off-diagonal elements).

    Returns (J, abserr), abserr being the summed quad error estimates scaled like J.
    Cost: O(#poles * evaluations) dense solves; fine for N <~ 60.
    """
    m, K = _check(masses, K, gamma, k_prime)
    if method == "dense":
        ev = _Dense(m, K, gamma, k_prime)
    elif method in ("sherman_morrison", "sm"):
        ev = _ChainSM(m, K, gamma, k_prime)
    else:
        raise ValueError(f"unknown method {method!r}")
    Ke = _k_eff(K, k_prime)
    scale = _omega_scale(m, Ke)
    pieces = _pieces_from_poles(poles_dense(m, K, gamma, k_prime), scale)
    total, err = _integrate_pieces(pieces, ev.transmittance, epsrel)
    pref = (t_left - t_right) / (2 * math.pi)
    return pref * total, abs(pref) * err


def local_temperatures_quad(masses, K, gamma, t_left, t_right, k_prime=0.0, epsrel=1e-11):
    """Local temperatures by Eq. (31), T_n = (2 gamma m_n / pi) int_0^inf omega^2 (T_L |G_n1|^2
    + T_R |G_nN|^2) d omega, with ``scipy.integrate.quad_vec`` on the same pole-adapted pieces
    as :func:`flux_quad` and dense solves (zero modes deflated).

    Caveat: bulk temperatures receive O(1) contributions from narrow peaks (modes weakly
    coupled to the baths); a dense solve's backward error eps*||Z|| shifts a peak's width
    by ~eps*||Z||, i.e. relative error ~eps/(relative width).  Use
    :func:`lyapunov_steady_state` for accuracy; this is an independent cross-check.
    """
    m, K = _check(masses, K, gamma, k_prime)
    ev = _Dense(m, K, gamma, k_prime)
    n = m.size

    def f(w):
        y = ev.omega_g(w, [0, n - 1])
        return (2.0 * gamma / math.pi) * m * (t_left * np.abs(y[:, 0]) ** 2
                                              + t_right * np.abs(y[:, 1]) ** 2)

    scale = _omega_scale(m, _k_eff(K, k_prime))
    pieces = _pieces_from_poles(poles_dense(m, K, gamma, k_prime), scale)
    total, err = _integrate_pieces(pieces, f, epsrel, vector=True)
    return np.asarray(total, dtype=np.float64), err


# ----------------------------------------------------------------------------------------
# Identical masses: closed form, Eqs. (18)-(22), in mpmath
# ----------------------------------------------------------------------------------------


def _identical_params(n, m, k, k0, n_tilde, gamma, k_prime, ctx):
    nt = _n_tilde(n, n_tilde)
    return (ctx.mpf(n), ctx.mpf(m), ctx.mpf(k), ctx.mpf(k0), ctx.mpf(nt), ctx.mpf(gamma),
            ctx.mpf(k_prime))


def transmittance_identical(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """T(omega) for identical masses, Eqs. (20)-(22), generalised to wall springs k'.

    With P = N k/Ñ + k0 - m w^2, Q = k0 - m w^2, c = k' + i gamma w, Eq. (18) gives
    T = 4 gamma^2 w^2 (k/Ñ)^2 P^2 / (|P + c|^2 |Q P + c (Q + 2k/Ñ)|^2); for k' = 0,
    |P + c|^2 = f(w) (Eq. 21) and |QP + c(Q + 2k/Ñ)|^2 = Delta(w) (Eq. 22).  Float64 numpy
    evaluation (vectorised over omega).
    """
    w = np.asarray(omega, dtype=np.float64)
    return _identical_t_formula(w, n, m, k / _n_tilde(n, n_tilde), k0, gamma, k_prime,
                                unpinned=(k_prime == 0.0 and k0 == 0.0))


def _identical_t_formula(w, n, m, b, k0, gamma, k_prime, *, unpinned):
    """Eqs. (20)-(22) with b = k/Ñ; arithmetic only, so w and the parameters may be float64
    arrays or mpmath numbers. ``unpinned`` (k0 = k' = 0): Delta = w^2 [gamma^2 (2b - m w^2)^2
    + m^2 w^2 P^2], the w^2 cancelled so that T(0) = 1 comes out exactly."""
    P = n * b + k0 - m * w**2
    Qv = k0 - m * w**2
    f = (P + k_prime) ** 2 + (gamma * w) ** 2
    if unpinned:
        dlt = gamma**2 * (2 * b - m * w**2) ** 2 + (m * w * P) ** 2
        return 4 * gamma**2 * b**2 * P**2 / (f * dlt)
    dlt = (Qv * P + k_prime * (Qv + 2 * b)) ** 2 + (gamma * w * (Qv + 2 * b)) ** 2
    return 4 * gamma**2 * w**2 * b**2 * P**2 / (f * dlt)


def _identical_polys(n, m, k, k0, n_tilde, gamma, k_prime, ctx):
    """Numerator and denominator polynomials (mp coefficient lists, highest degree first)
    of T(w) = num(w) / (D(w) D*(w)),  D(w) = (P + c)(QP + c(Q + 2b)), omega factor of D
    removed in the momentum-conserving case (k0 = k' = 0)."""
    N, m, k, k0, nt, g, kp = _identical_params(n, m, k, k0, n_tilde, gamma, k_prime, ctx)
    b = k / nt
    pmul = lambda p, q: [sum(p[i] * q[j - i] for i in range(len(p)) if 0 <= j - i < len(q))
                         for j in range(len(p) + len(q) - 1)]
    P = [-m, ctx.mpf(0), N * b + k0]  # highest first
    Qp = [-m, ctx.mpf(0), k0]
    c = [1j * g, kp]  # i g w + k'
    Pc = [P[0], P[1] + c[0], P[2] + c[1]]
    QP = pmul(Qp, P)
    Q2b = [Qp[0], Qp[1], Qp[2] + 2 * b]
    cQ = pmul(c, Q2b)
    second = [QP[0]] + [QP[i] + cQ[i - 1] for i in range(1, 5)]
    num = pmul([4 * g**2 * b**2, 0, 0], pmul(P, P))  # 4 g^2 b^2 w^2 P^2
    if k0 == 0 and k_prime == 0:
        assert second[-1] == 0
        second = second[:-1]  # divide by w
        num = num[:-2]  # divide by w^2
    D = pmul(Pc, second)
    Dstar = [ctx.conj(x) for x in D]
    # D*(w) = conj(D(conj w)) has conjugated coefficients
    den = pmul(D, Dstar)
    return num, D, den


def _polyval(p, x):
    r = 0
    for a in p:
        r = r * x + a
    return r


def identical_masses_flux_quad(n, m, k, k0, n_tilde, gamma, t_left, t_right, k_prime=0.0,
                               dps=30, return_error=False):
    """Heat flux for identical masses from the closed form Eqs. (20)-(22) (J, Eq. 16),
    integrated with ``mpmath.quad`` (tanh-sinh) at ``dps`` digits.

    Breakpoints: the poles of T are the roots of D(w) (see :func:`_identical_polys`);
    around each centre c = |Re w_p| with half-width h = |Im w_p| (for k0 > 0 near
    omega_0 = sqrt(k0/m) with h ~ 1/N; for k0 = 0 at 0) points c +- h*10^j are added, so
    peaks of any width are resolved.  Independent of the Lyapunov route, which fails for
    identical masses.  Returns float J (and mp error estimate if ``return_error``).
    """
    with mpmath.workdps(dps):
        ctx = mpmath.mp
        num, D, _ = _identical_polys(n, m, k, k0, n_tilde, gamma, k_prime, ctx)
        roots = mpmath.polyroots(D, maxsteps=200, extraprec=4 * dps)
        scale = max(abs(r) for r in roots)
        pts = {ctx.mpf(0)}
        for r in roots:
            c, h = abs(ctx.re(r)), abs(ctx.im(r))
            pts.add(c)
            j = 0
            while h * 10**j < 4 * scale:
                for sgn in (-1, 1):
                    x = c + sgn * h * 10**j
                    if x > 0:
                        pts.add(x)
                j += 1
        pts = sorted(pts)
        pts.append(ctx.inf)
        Np, mm, kk, kk0, ntt, g, kp = _identical_params(n, m, k, k0, n_tilde, gamma,
                                                        k_prime, ctx)
        b = kk / ntt

        def T(w):
            return _identical_t_formula(w, Np, mm, b, kk0, g, kp,
                                        unpinned=(k0 == 0 and k_prime == 0))

        val, err = mpmath.quad(T, pts, error=True, maxdegree=10)
        pref = (ctx.mpf(t_left) - ctx.mpf(t_right)) / (2 * ctx.pi)
        J = pref * val
        if return_error:
            return float(J), float(abs(pref) * err)
        return float(J)


def identical_masses_flux_residues(n, m, k, k0, n_tilde, gamma, t_left, t_right,
                                   k_prime=0.0, dps=30):
    """Same flux as :func:`identical_masses_flux_quad`, but exactly by residues:
    int_R num/(D D*) = 2 pi i sum_{Im w_p > 0} Res, with the roots of D D* from
    ``mpmath.polyroots`` (simple poles assumed; fine for generic parameters)."""
    with mpmath.workdps(dps):
        ctx = mpmath.mp
        num, D, den = _identical_polys(n, m, k, k0, n_tilde, gamma, k_prime, ctx)
        dden = [a * (len(den) - 1 - i) for i, a in enumerate(den[:-1])]
        rootsD = mpmath.polyroots(D, maxsteps=200, extraprec=4 * dps)
        # roots of D* are conjugates of roots of D
        roots = list(rootsD) + [ctx.conj(r) for r in rootsD]
        total = 0
        # Real roots of D are removable (T is finite on the real axis for gamma > 0: for
        # N = 2, D has the factor P, cancelled by the numerator's P^2); they carry no residue.
        tiny = ctx.mpf(10) ** (-dps // 2)
        for r in roots:
            if ctx.im(r) > tiny * abs(r):
                total += _polyval(num, r) / _polyval(dden, r)
        integral = ctx.re(2j * ctx.pi * total)
        pref = (ctx.mpf(t_left) - ctx.mpf(t_right)) / (4 * ctx.pi)
        return float(pref * integral)
