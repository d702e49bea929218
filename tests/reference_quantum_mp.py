"""Independent high-precision reference for quantum baths: Landauer J, κ(T) and kinetic T*_n.

Never imports :mod:`meanfield_jax` (nor the other references); mpmath and NumPy only.
Any harmonic network: masses m, stiffness K (the walls k' already added to K_11, K_NN),
friction γ on particles 1 and N, baths at T_L, T_R ≥ 0 (k_B = 1), ħ > 0.

At each frequency the Green's columns G_{:,1}, G_{:,N} of

    G(ω) = [K − ω²M − iωΓ]⁻¹,   Γ = γ(e₁e₁ᵀ + e_Ne_Nᵀ),

come from a dense Gaussian elimination (partial pivoting) at ``dps`` digits (30 by default)
with both right-hand sides, cached per node; then, with F_T(ω) = ħω/(exp(ħω/T) − 1)
(F_0 = 0) and T(ω) = 4γ²ω²|G_1N(ω)|² (Eq. 17 of PRE 105, 054149),

    J      = ∫_0^∞ (dω/2π) T(ω) [F_{T_L}(ω) − F_{T_R}(ω)]                 (Landauer)
    κ(T)   = ∫_0^∞ (dω/2π) T(ω) ∂F_T/∂T,   ∂F_T/∂T = x² eˣ/(eˣ − 1)², x = ħω/T
    T*_n:  Σ_{a=1,N} ∫_0^∞ dω ω² |G_na(ω)|² [F_{T_a}(ω) − F_{T*}(ω)] = 0

(the kinetic temperature: the temperature of both baths at which particle n has the same
m_n⟨v_n²⟩; the zero-point parts cancel). The integrals are tanh-sinh quadratures
(``mpmath.quad``) split at the real parts of the poles of G (from the float64 eigenvalues of
the state matrix: breakpoints only, exactness not needed: tanh-sinh clusters its nodes at
each end of a piece, so a resonance of any width at a breakpoint is resolved), at ±5
widths around each, and at the thermal scales T/ħ; the last piece runs to ∞. Each result
comes with the quadrature's error estimate (checked: ≤ 1e-15 relative, else RuntimeError).
T*_n is the root of a strictly increasing function of T* (F_T increases with T at every
ω), bracketed by [min T_a, max T_a] and found by bisection-safeguarded secant (Illinois)
to 1e-14 of the bracket.

Cost: O(N³) per frequency node at ``dps`` digits; a few thousand nodes per system.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

__all__ = ["QuantumReference", "chain_stiffness", "power_law_stiffness", "nearest_neighbour_stiffness"]


def chain_stiffness(n, k, k0, n_tilde, k_prime=0.0):
    """Mean-field chain (Eq. 1): K = (k0 + Nk/Ñ) I − (k/Ñ) 11ᵀ, walls k' on 1 and N (floats)."""
    nt = (n - 1.0) if n_tilde == "kac" else float(n_tilde)
    K = -(k / nt) * np.ones((n, n))
    K[np.diag_indices(n)] = k0 + n * k / nt - k / nt
    K[0, 0] += k_prime
    K[-1, -1] += k_prime
    return K


def _laplacian(springs, k0, k_prime):
    n = springs.shape[0]
    springs = springs.copy()
    springs[np.diag_indices(n)] = 0.0
    K = np.diag(k0 + springs.sum(axis=1)) - springs
    K[0, 0] += k_prime
    K[-1, -1] += k_prime
    return K


def power_law_stiffness(n, alpha, k=1.0, k0=0.0, n_tilde=1.0, k_prime=0.0):
    """k_ij = (k/Ñ)/|i − j|^α (Ñ a number here), plus pinning and walls."""
    d = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float)
    springs = np.where(d > 0, (k / n_tilde) / np.where(d > 0, d, 1.0) ** alpha, 0.0)
    return _laplacian(springs, k0, k_prime)


def nearest_neighbour_stiffness(n, k=1.0, k0=0.0, k_prime=0.0):
    d = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return _laplacian(np.where(d == 1, k, 0.0), k0, k_prime)


def _poles_float(masses, K, gamma):
    """Eigenvalues ω of det(K − ω²M − iωΓ) = 0 in float64 (breakpoints only)."""
    n = len(masses)
    minv = 1.0 / np.asarray(masses)
    g = np.zeros(n)
    g[0] = g[-1] = gamma
    # state x = (q, v): v' = −M⁻¹K q − M⁻¹Γ v; e^{λt}, ω = iλ... use ω = −iλ (G ∝ e^{−iωt})
    A = np.block([[np.zeros((n, n)), np.eye(n)], [-minv[:, None] * K, -np.diag(minv * g)]])
    lam = np.linalg.eigvals(A)
    return 1j * lam  # ω with Im ω = −Re λ ≥ 0


#: Dense 30-digit solves up to this N; above, the 50-digit mode form (same G, O(N²) per
#: frequency instead of O(N³); the two agree to 1e-25 at N = 10, tests/test_quantum.py).
DENSE_UP_TO = 12


class QuantumReference:
    """One system at ``dps`` digits: J, κ(T), T*_n by quadrature over dense solves."""

    def __init__(self, masses, K, gamma, hbar, dps=30, quad_dps=20, solver="auto"):
        self.n = len(masses)
        self.dps = dps
        self.quad_dps = quad_dps
        with mp.workdps(dps):
            self.m = [mp.mpf(float(x)) for x in masses]
            self.K = [[mp.mpf(float(x)) for x in row] for row in np.asarray(K)]
            self.gamma = mp.mpf(float(gamma))
            self.hbar = mp.mpf(float(hbar))
        self._cache = {}
        self.solver = ("dense" if self.n <= DENSE_UP_TO else "modes") if solver == "auto" else solver
        if self.solver == "modes":
            self._modes()
        poles = _poles_float(masses, K, gamma)
        pts = set()
        for w in poles:
            if w.real > 0:
                for s in (0.0,):
                    x = w.real + s * abs(w.imag)
                    if x > 0:
                        pts.add(float(x))
        self._breaks = sorted(pts)

    # -- Green's columns -------------------------------------------------------------
    def _columns(self, w):
        key = w
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if self.solver == "dense":
            with mp.workdps(self.dps):
                out = self._solve(mp.mpf(w))
        else:
            with mp.workdps(self.modes_dps):
                out = self._solve_modes(mp.mpf(w))
        self._cache[key] = out
        return out

    def _modes(self):
        """K̃ = M^{-1/2} K M^{-1/2} = U Λ Uᵀ at ``modes_dps`` digits (once)."""
        self.modes_dps = self.dps + 20
        with mp.workdps(self.modes_dps):
            n = self.n
            s = [1 / mp.sqrt(x) for x in self.m]
            kt = mp.matrix(n, n)
            for i in range(n):
                for j in range(n):
                    kt[i, j] = s[i] * self.K[i][j] * s[j]
            lam, U = mp.eigsy(kt)
            self._lam = [lam[j] for j in range(n)]
            self._U = [[U[i, j] for j in range(n)] for i in range(n)]
            self._s = s
            # UᵀC, C = M^{-1/2}(e₁, e_N)
            self._uc = [(U[0, j] * s[0], U[n - 1, j] * s[n - 1]) for j in range(n)]

    def _solve_modes(self, w):
        """G_{:,1}, G_{:,N} from the modes: with R₀ = (K̃ − ω²)⁻¹, W = R₀C, S = CᵀR₀C,
        G_{:,b} = M^{-1/2} W (I − iωγS)⁻¹ e_b (Woodbury for the rank-2 damping)."""
        n = self.n
        d = [1 / (lj - w * w) for lj in self._lam]
        y = [(d[j] * self._uc[j][0], d[j] * self._uc[j][1]) for j in range(n)]
        W = [(mp.fsum(self._U[i][j] * y[j][0] for j in range(n)),
              mp.fsum(self._U[i][j] * y[j][1] for j in range(n))) for i in range(n)]
        s11 = W[0][0] * self._s[0]
        s1n = W[0][1] * self._s[0]
        snn = W[n - 1][1] * self._s[n - 1]
        g = 1j * w * self.gamma
        a, b, c = 1 - g * s11, -g * s1n, 1 - g * snn  # I − iωγS (symmetric)
        det = a * c - b * b
        inv = ((c / det, -b / det), (-b / det, a / det))
        cols = ([], [])
        for i in range(n):
            for col in (0, 1):
                v = W[i][0] * inv[0][col] + W[i][1] * inv[1][col]
                cols[col].append(self._s[i] * v)
        return cols

    def _solve(self, w):
        n = self.n
        A = [[mp.mpc(self.K[i][j]) for j in range(n)] for i in range(n)]
        for i in range(n):
            A[i][i] -= w * w * self.m[i]
        A[0][0] -= 1j * w * self.gamma
        A[n - 1][n - 1] -= 1j * w * self.gamma
        B = [[mp.mpc(0), mp.mpc(0)] for _ in range(n)]
        B[0][0] = mp.mpc(1)
        B[n - 1][1] = mp.mpc(1)
        for c in range(n):  # elimination with partial pivoting
            p = max(range(c, n), key=lambda r: abs(A[r][c]))
            if p != c:
                A[c], A[p] = A[p], A[c]
                B[c], B[p] = B[p], B[c]
            piv = A[c][c]
            rowc = A[c]
            for r in range(c + 1, n):
                f = A[r][c] / piv
                if f:
                    rowr = A[r]
                    for j in range(c + 1, n):
                        rowr[j] -= f * rowc[j]
                    B[r][0] -= f * B[c][0]
                    B[r][1] -= f * B[c][1]
        X = [[mp.mpc(0), mp.mpc(0)] for _ in range(n)]
        for r in range(n - 1, -1, -1):
            for col in (0, 1):
                s = B[r][col]
                for j in range(r + 1, n):
                    s -= A[r][j] * X[j][col]
                X[r][col] = s / A[r][r]
        return ([x[0] for x in X], [x[1] for x in X])

    # -- thermal factors ------------------------------------------------------------
    def _f(self, w, t):
        """F_T(ω) = ħω n_T(ω)."""
        if t == 0:
            return mp.mpf(0)
        x = self.hbar * w / t
        return t * x / mp.expm1(x) if x > 0 else t

    def _df(self, w, t):
        """∂F_T/∂T = x² eˣ/(eˣ − 1)²."""
        if t == 0:
            return mp.mpf(0)
        x = self.hbar * w / t
        if x == 0:
            return mp.mpf(1)
        e = mp.exp(-x)
        return x * x * e / (-mp.expm1(-x)) ** 2

    def _integrate(self, f, temperatures):
        with mp.workdps(self.quad_dps):
            pts = set(self._breaks)
            for t in temperatures:
                if t > 0:
                    for s in (1.0, 10.0, 40.0):
                        pts.add(s * float(t) / float(self.hbar))
            pts = [mp.mpf(0)] + [mp.mpf(p) for p in sorted(pts)] + [mp.inf]
            value, err = mp.quad(f, pts, error=True, maxdegree=8)
            if err > mp.mpf(10) ** (-15) * max(abs(value), mp.mpf(10) ** (-300)):
                raise RuntimeError(f"quadrature error {float(err):.3g} of {float(value):.3g}")
            return value

    def transmittance(self, w):
        with mp.workdps(self.dps):
            g1, _ = self._columns(mp.mpf(w))
            return 4 * self.gamma ** 2 * w * w * abs(g1[self.n - 1]) ** 2

    def flux(self, t_left, t_right):
        """Landauer J (floats in, mpf out)."""
        with mp.workdps(self.dps):
            tl, tr = mp.mpf(float(t_left)), mp.mpf(float(t_right))

            def integrand(w):
                g1, _ = self._columns(w)
                tw = 4 * self.gamma ** 2 * w * w * abs(g1[self.n - 1]) ** 2
                return tw * (self._f(w, tl) - self._f(w, tr)) / (2 * mp.pi)

            return self._integrate(integrand, (tl, tr))

    def conductance(self, temperature):
        """κ(T) = ∫ (dω/2π) ħω T(ω) ∂n/∂T."""
        with mp.workdps(self.dps):
            t = mp.mpf(float(temperature))

            def integrand(w):
                g1, _ = self._columns(w)
                tw = 4 * self.gamma ** 2 * w * w * abs(g1[self.n - 1]) ** 2
                return tw * self._df(w, t) / (2 * mp.pi)

            return self._integrate(integrand, (t,))

    def kinetic_temperatures(self, t_left, t_right):
        """T*_n for every particle (list of mpf)."""
        with mp.workdps(self.dps):
            tl, tr = mp.mpf(float(t_left)), mp.mpf(float(t_right))
            lo, hi = min(tl, tr), max(tl, tr)
            out = []
            for site in range(self.n):
                def weight(w, a):
                    g1, gn = self._columns(w)
                    return w * w * abs((g1, gn)[a][site]) ** 2

                target = self._integrate(
                    lambda w: weight(w, 0) * self._f(w, tl) + weight(w, 1) * self._f(w, tr),
                    (tl, tr))
                if lo == hi:
                    out.append(lo)
                    continue

                def residual(ts):
                    return self._integrate(
                        lambda w: (weight(w, 0) + weight(w, 1)) * self._f(w, ts), (tl, tr)) - target

                a, b = lo, hi
                fa, fb = residual(a), residual(b)
                side = 0
                for _ in range(200):  # Illinois regula falsi, bracket kept
                    c = (a * fb - b * fa) / (fb - fa)
                    fc = residual(c)
                    if fc * fb > 0:
                        b, fb = c, fc
                        if side == -1:
                            fa /= 2
                        side = -1
                    else:
                        a, fa = c, fc
                        if side == 1:
                            fb /= 2
                        side = 1
                    if abs(b - a) < mp.mpf(10) ** (-14) * hi or fc == 0:
                        break
                out.append(c)
            return out
