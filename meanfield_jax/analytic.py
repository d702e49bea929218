"""Closed forms of the paper: identical masses (PRE 105, 054149, Sec. III A), exact finite-N flux.

Everything here is plain :mod:`jax.numpy` arithmetic (float64 / complex128), so every
function works under ``jax.jit``, ``jax.vmap`` and ``jax.grad`` and broadcasts over array
arguments.  Equation numbers refer to Defaveri, Olivares & Anteneodo, PRE 105, 054149 (2022).

Conventions (Sec. II, k_B = 1)
------------------------------
N particles of mass ``m`` coupled all-to-all with springs ``k / n_tilde`` (``n_tilde`` = Ñ:
``N - 1`` for the Kac factor, ``1`` without it), pinned by ``k0``; Langevin baths with
friction ``gamma`` on particles 1 and N; optional springs ``k_prime`` tying particles 1
and N to fixed walls (Sec. IV: c = iωγ + k').  With κ = k/Ñ = -b (Eq. 9),

    a - b       = Nκ + k0 - mω²          (Eq. 8 minus Eq. 9)
    a - b + N b = k0 - mω²
    c           = iωγ + k'               (Eq. 10, Sec. IV)

One argument order everywhere: ``omega`` (when present), then ``n, m, k, k0, n_tilde,
gamma, k_prime`` (each function takes the subset its formula needs). One spelling of Ñ:
``n_tilde``, a number or ``"kac"`` (Ñ = N − 1, as in :class:`~meanfield_jax.MeanFieldChain`).
The large-N formulas (Eqs. 24–30) distinguish only the Kac factor from Ñ = 1: they take
``n_tilde="kac"`` or ``n_tilde=1`` and raise ValueError for anything else (a static
choice: not traced, not vmapped).

Units: any consistent set.  ω in 1/time, m in mass, k, k0, k' in mass/time², γ in
mass/time; transmittance T is dimensionless; heat flux per temperature difference J/ΔT in
1/time (k_B = 1).  ``n`` may be a Python int or a float/array (it enters only as a number).

Exact formula beyond the paper
------------------------------
:func:`flux_identical_exact` gives J(N)/ΔT in closed form for any finite N >= 2,
derived in ``scripts/derive_identical_flux.py`` (sympy).  For k' = 0:

    J/ΔT = (γ / 2m) (N-1) κ² / [ (N-1)² κ² + (γ²/m)(κ + k0) ].
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from ._config import require_x64  # (importing _config turns x64 on before any array)
from ._configfile import plain
from ._model import check_finite_omega, parse_n_tilde

__all__ = [
    "greens_1n_identical",
    "transmittance_identical",
    "eigenvalues_identical",
    "IdenticalEigenvalues",
    "lorentzian_k0_zero",
    "lorentzian_pinned",
    "amplitude_A",
    "omega_c_asymptotic",
    "flux_asymptotic",
    "validity_condition",
    "flux_identical_exact",
]


def _f64(*xs):
    require_x64("meanfield_jax.analytic")
    return tuple(jnp.asarray(x, dtype=jnp.float64) for x in xs)


def _with_omega(omega, *xs):
    """``_f64(omega, *xs)`` with ω checked first (``_model.check_finite_omega``: TypeError
    for a complex ω, which would otherwise lose its imaginary part silently)."""
    require_x64("meanfield_jax.analytic")
    return (check_finite_omega(omega),) + _f64(*xs)


def _n_tilde_value(n_tilde, n):
    """Ñ as a number: ``"kac"`` → N − 1 (:func:`parse_n_tilde`, shared with the systems)."""
    require_x64("meanfield_jax.analytic")
    return parse_n_tilde(n_tilde, jnp.asarray(n, dtype=jnp.float64))


def _is_kac(n_tilde, what: str, gamma=None) -> bool:
    """The Kac/Ñ = 1 switch of the large-N formulas: ``"kac"`` → True, 1 → False.

    A bool ``gamma`` is refused (TypeError): it is a call in the former argument order,
    which ended with the ``kac`` flag after ``gamma``."""
    if isinstance(gamma, (bool, np.bool_)):
        raise TypeError(f"{what}: gamma must be a number, got {plain(gamma)}; the arguments are "
                        f"(..., k0, n_tilde, gamma) with n_tilde='kac' or 1")
    if isinstance(n_tilde, str):
        if n_tilde.lower() == "kac":
            return True
    elif not isinstance(n_tilde, (bool, np.bool_)) and np.ndim(n_tilde) == 0:
        try:
            if float(n_tilde) == 1.0:
                return False
        except TypeError:  # a tracer: the switch is static
            pass
    raise ValueError(f"{what}: n_tilde must be 'kac' (Ñ = N − 1) or 1 (Ñ = 1), the two cases "
                     f"of the paper's large-N formula, got {plain(n_tilde)}")


def greens_1n_identical(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Complex Green's function element G_1N(ω) for identical masses (Eqs. 11, 14, 18).

    Sherman–Morrison on Z = (a-b) 1 + b 11ᵀ + c (e₁e₁ᵀ + e_Ne_Nᵀ) (Eq. 7) gives the
    signed version of Eq. 18,

        G_1N = -b (a-b) / { (a-b+c) [ (a-b+Nb)(a-b+c) - 2cb ] },

    whose modulus is Eq. 18.  Units: 1/stiffness (time²/mass).

    Args:
        omega: angular frequency ω (1/time), scalar or array.
        n: number of particles N >= 2.
        m: mass of every particle.
        k: coupling stiffness k (Eq. 1); the pair spring is k/Ñ.
        k0: pinning stiffness (>= 0).
        n_tilde: Ñ, a number or ``"kac"`` (Ñ = N − 1); ``1`` for no Kac factor.
        gamma: bath friction γ > 0.
        k_prime: wall-spring stiffness k' on particles 1 and N (Sec. IV), default 0.

    Returns:
        complex128 array of G_1N(ω), the response of q_1 to a unit force on particle N,
        with the paper's Fourier convention x̂(ω) = ∫ x(t) e^{-iωt} dt.

    At ω = 0 with k0 = k' = 0 the chain is free (uniform translation) and G_1N diverges
    like 1/ω; the result there is not finite (use :func:`transmittance_identical`, for
    which 4γ²ω²|G_1N|² has a finite limit).

    Raises:
        ValueError: for a string ``n_tilde`` other than ``"kac"``.
        RuntimeError: if JAX's float64 mode has been turned off.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> g = an.greens_1n_identical(0.5, 4, 1.0, 1.0, 0.2, 3.0, 1.0)
        >>> round(float(g.real), 10), round(float(g.imag), 10)
        (-0.5377325844, -0.8266979305)
    """
    omega, n, m, k, k0, n_tilde, gamma, k_prime = _with_omega(
        omega, n, m, k, k0, _n_tilde_value(n_tilde, n), gamma, k_prime)
    kappa = k / n_tilde                          # -b, Eq. 9
    d = n * kappa + k0 - m * omega**2            # a - b
    e = k0 - m * omega**2                        # a - b + N b (no cancellation at large N)
    c = 1j * omega * gamma + k_prime             # Eq. 10 (+ k', Sec. IV)
    return kappa * d / ((d + c) * (e * (d + c) + 2.0 * kappa * c))


def transmittance_identical(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Transmittance T(ω) = 4γ²ω²|G_1N|² for identical masses (Eqs. 17, 20–22; Eq. 23).

    With d = a - b = Nκ + k0 - mω², e = k0 - mω², κ = k/Ñ (Eq. 20 with Sec. IV's k'):

        T = 4γ²ω²κ²d² / (f Δ),
        f = (d + k')² + γ²ω²                                      (Eq. 21)
        Δ = [e (d + k') + 2κk']² + γ²ω² (e + 2κ)²                 (Eq. 22)

    Removable singularities are cancelled analytically, so the result is finite
    everywhere, including ω = 0, and differentiable:

      * k0 = k' = 0 (free chain): Δ = ω² Δ̃ with Δ̃ = m²ω²d² + γ²(2κ - mω²)² (Eq. 23),
        giving T(0) = 1 (T is discontinuous in k0 at ω = 0: T(0) = 0 for any k0 > 0);
      * N = 2 (no bulk): Δ = d² |e + c|², the d² cancels the numerator.
      * k0 > 0 or k' > 0: T(0) = 0.

    Args:
        omega: ω (1/time), scalar or array (real).
        n, m, k, k0, n_tilde, gamma, k_prime: as in :func:`greens_1n_identical`.

    Returns:
        float64 array, dimensionless, 0 <= T <= 1.

    Raises:
        ValueError: for a string ``n_tilde`` other than ``"kac"``.
        RuntimeError: if JAX's float64 mode has been turned off.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> float(an.transmittance_identical(0.0, 10, 1.0, 1.0, 0.0, 9.0, 1.0))
        1.0
        >>> round(float(an.transmittance_identical(0.5, 4, 1.0, 1.0, 0.2, 3.0, 1.0)), 10)
        0.9725858006
    """
    omega, n, m, k, k0, n_tilde, gamma, k_prime = _with_omega(
        omega, n, m, k, k0, _n_tilde_value(n_tilde, n), gamma, k_prime)
    kappa = k / n_tilde
    w2 = omega * omega
    d = n * kappa + k0 - m * w2
    e = k0 - m * w2
    gw = gamma * omega
    f = (d + k_prime) ** 2 + gw**2                              # Eq. 21, = |a-b+c|²
    # The ω²-cancelled form (Eq. 23) is only needed at (numerically) zero frequency; elsewhere
    # the generic form is exact for k0 = k' = 0 too and keeps ∂T/∂k0, ∂T/∂k' correct there.
    free = (k0 == 0.0) & (k_prime == 0.0) & (jnp.abs(omega) < 1e-30)
    two = n == 2.0
    # |Q|² / (ω^{2·free} d^{2·two}) with Q = (a-b+Nb)(a-b+c) - 2cb, each branch finite
    r_gen = (e * (d + k_prime) + 2.0 * kappa * k_prime) ** 2 + gw**2 * (e + 2.0 * kappa) ** 2
    r_free = (m * omega * d) ** 2 + gamma**2 * (2.0 * kappa - m * w2) ** 2     # Eq. 23
    r_two = (e + k_prime) ** 2 + gw**2                          # |e + c|²
    r_two_free = m**2 * w2 + gamma**2                           # |e + c|² / ω²
    r = jnp.where(two, jnp.where(free, r_two_free, r_two), jnp.where(free, r_free, r_gen))
    num_w = jnp.where(free, 1.0, w2)
    num_d = jnp.where(two, 1.0, d * d)
    # r_gen can vanish only in an unselected branch (ω = 0, free): keep it NaN-free
    r = jnp.where(r == 0.0, 1.0, r)
    return 4.0 * gamma**2 * kappa**2 * num_w * num_d / (f * r)


class IdenticalEigenvalues(NamedTuple):
    """Eigenvalues of Z(ω) (Eq. 7) for identical masses (Sec. III A, Eq. 19).

    Attributes:
        plus, minus: λ± of the two bath-coupled symmetric modes (1, θ, …, θ, 1), Eq. 19.
        end: a - b + c, the antisymmetric end mode (1, 0, …, 0, -1).
        bulk: a - b, (N-3)-fold degenerate, bulk modes uncoupled from the baths.
    For N = 2 the eigenvalues of Z are ``plus`` (= a + b + c) and ``end`` only (``minus``
    is NaN there); for N = 3 ``bulk`` has multiplicity 0.
    """

    plus: jnp.ndarray
    minus: jnp.ndarray
    end: jnp.ndarray
    bulk: jnp.ndarray


def eigenvalues_identical(omega, n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Eigenvalues of Z(ω) for identical masses: Eq. 19 λ±, end mode a-b+c, bulk a-b.

    Eq. 19 is evaluated in the equivalent form (no division by b(N-2), valid for N = 2)

        λ± = [2a + (N-2)b + c ± sqrt( (c - (N-4)b)² + 8b²(N-2) )] / 2,

    the eigenvalues of the 2×2 block of Z on span{(e₁+e_N)/√2, bulk-uniform/√(N-2)};
    the square root is the principal complex branch (which of the two is "plus" follows
    that branch).  For N = 2 there is no bulk: ``plus`` = a + b + c and ``minus`` = NaN.
    Units: stiffness (mass/time²).

    Args:
        omega, n, m, k, k0, n_tilde, gamma, k_prime: as in :func:`greens_1n_identical`.

    Returns:
        :class:`IdenticalEigenvalues` of complex128 arrays (plus, minus, end, bulk).
        det Z = λ+ λ- (a-b+c) (a-b)^(N-3) for N >= 3.

    Raises:
        ValueError: for a string ``n_tilde`` other than ``"kac"``.
        RuntimeError: if JAX's float64 mode has been turned off.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> ev = an.eigenvalues_identical(0.0, 3, 1.0, 1.0, 0.0, 2.0, 1.0)
        >>> [round(float(v.real), 12) for v in ev]
        [1.5, 0.0, 1.5, 1.5]
    """
    omega, n, m, k, k0, n_tilde, gamma, k_prime = _with_omega(
        omega, n, m, k, k0, _n_tilde_value(n_tilde, n), gamma, k_prime)
    b = -k / n_tilde                                       # Eq. 9
    a = (n - 1.0) * k / n_tilde + k0 - m * omega**2        # Eq. 8
    c = 1j * omega * gamma + k_prime                       # Eq. 10
    disc = jnp.sqrt((c - (n - 4.0) * b) ** 2 + 8.0 * b**2 * (n - 2.0) + 0j)
    base = 2.0 * a + (n - 2.0) * b + c
    two = n == 2.0
    return IdenticalEigenvalues(
        plus=jnp.where(two, a + b + c, 0.5 * (base + disc)),
        minus=jnp.where(two, jnp.nan + 0j, 0.5 * (base - disc)),
        end=a - b + c,
        bulk=(a - b) + 0j,
    )


def lorentzian_k0_zero(omega, n, m, gamma):
    """Lorentzian approximation of T(ω) for k0 = 0, large N (Eq. 24).

        T(ω) ≈ 1 / [1 + N² (m / 2γ)² ω²]

    valid for N²/Ñ ≫ 4γ²/(mk) and ω² ≪ Nk/(Ñm); identical for both Ñ.

    Args:
        omega: ω (1/time).  n: N.  m: mass.  gamma: friction γ.

    Returns:
        float64 array, dimensionless.

    Raises:
        RuntimeError: if JAX's float64 mode has been turned off (no other check: the
            formula is evaluated as given).

    Example:
        >>> import meanfield_jax.analytic as an
        >>> float(an.lorentzian_k0_zero(0.02, 100, 1.0, 1.0))
        0.5
    """
    omega, n, m, gamma = _with_omega(omega, n, m, gamma)
    return 1.0 / (1.0 + (n * m / (2.0 * gamma) * omega) ** 2)


def amplitude_A(m, k, k0, n_tilde, gamma):
    """Lorentzian width parameter 𝒜 of Eq. 29 (units: time).

        𝒜 = (m/γ)(1 + ω0²γ²/k²)   if Ñ = N-1 (Kac),     𝒜 = m/γ   if Ñ = 1,

    with ω0² = k0/m.  For k0 = 0 both reduce to m/γ (Eq. 24 has width 2γ/(Nm) = 1/(N𝒜/2)).

    Args:
        m, k, k0, gamma: mass, coupling, pinning, friction.
        n_tilde: ``"kac"`` for Ñ = N-1, ``1`` for Ñ = 1.

    Returns:
        float64 array 𝒜 (time).

    Raises:
        ValueError: for another ``n_tilde``.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> round(float(an.amplitude_A(1.0, 0.1, 0.02, "kac", 1.0)), 12)
        3.0
    """
    kac = _is_kac(n_tilde, "amplitude_A", gamma)
    m, k, k0, gamma = _f64(m, k, k0, gamma)
    w02 = k0 / m
    return jnp.where(jnp.asarray(kac), (m / gamma) * (1.0 + w02 * gamma**2 / k**2), m / gamma)


def omega_c_asymptotic(n, m, k, k0, n_tilde, gamma):
    """Resonance frequency ω_c of the pinned chain to first order in 1/N (Eq. 26).

        ω_c = ω0 + (ω0/N) (kγ²/m) / (k² + ω0²γ²) + O(N⁻²)   (Ñ = N-1),
        ω_c = ω0 + O(N⁻²)                                    (Ñ = 1),

    with ω0 = sqrt(k0/m) (1/time).  Meaningful for k0 > 0 (returns 0 for k0 = 0).

    Args:
        n: N.  m, k, k0, gamma: as above.  n_tilde: ``"kac"`` (Ñ = N-1) or ``1``.

    Returns:
        float64 array ω_c (1/time).

    Raises:
        ValueError: for another ``n_tilde``.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> round(float(an.omega_c_asymptotic(100, 1.0, 1.0, 1.0, "kac", 1.0)), 12)
        1.005
    """
    kac = _is_kac(n_tilde, "omega_c_asymptotic", gamma)
    n, m, k, k0, gamma = _f64(n, m, k, k0, gamma)
    w0 = jnp.sqrt(k0 / m)
    corr = (w0 / n) * (k * gamma**2 / m) / (k**2 + w0**2 * gamma**2)
    return jnp.where(jnp.asarray(kac), w0 + corr, w0)


def lorentzian_pinned(omega, n, m, k, k0, n_tilde, gamma):
    """Two-Lorentzian approximation of T(ω) for k0 > 0, large N (Eqs. 28–29, ω_c of Eq. 26).

        T(ω) ≈ Σ_{Ω = ±ω_c} 1 / [1 + N² 𝒜² (ω - Ω)²]

    valid when Eq. 27 holds (see :func:`validity_condition`).

    Args:
        omega: ω (1/time).  n: N.  m, k, k0, gamma: as above.
        n_tilde: ``"kac"`` (Ñ = N-1) or ``1``.

    Returns:
        float64 array, dimensionless.

    Raises:
        ValueError: for another ``n_tilde``.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> wc = an.omega_c_asymptotic(100, 1.0, 1.0, 1.0, "kac", 1.0)
        >>> round(float(an.lorentzian_pinned(wc, 100, 1.0, 1.0, 1.0, "kac", 1.0)), 6)
        1.000006
    """
    omega, n = _with_omega(omega, n)
    wc = omega_c_asymptotic(n, m, k, k0, n_tilde, gamma)
    na = n * amplitude_A(m, k, k0, n_tilde, gamma)
    return 1.0 / (1.0 + (na * (omega - wc)) ** 2) + 1.0 / (1.0 + (na * (omega + wc)) ** 2)


def flux_asymptotic(n, m, k, k0, n_tilde, gamma):
    """Large-N heat flux per temperature difference J/ΔT (Eqs. 25 and 30), units 1/time.

        J/ΔT ≈ 1 / (2𝒜N)

    which is Eq. 30; with 𝒜 = m/γ (k0 = 0, or Ñ = 1) it is Eq. 25, γ/(2mN).

    Args:
        n: N.  m, k, k0, gamma: as above.  n_tilde: ``"kac"`` (Ñ = N-1) or ``1``.

    Returns:
        float64 array J/ΔT (1/time, k_B = 1).

    Raises:
        ValueError: for another ``n_tilde``.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> float(an.flux_asymptotic(100, 1.0, 0.1, 0.0, "kac", 1.0))
        0.005
    """
    _is_kac(n_tilde, "flux_asymptotic", gamma)
    (n,) = _f64(n)
    return 1.0 / (2.0 * amplitude_A(m, k, k0, n_tilde, gamma) * n)


def validity_condition(m, k, k0, n_tilde, gamma):
    """Right-hand side of Eq. 27: how large N must be for single-peak (Lorentzian) behaviour.

        Ñ = N-1:  N  ≫ (4kγ²/m) (k² - ω0²γ²) / (k² + ω0²γ²)²
        Ñ = 1:    N² ≫ 4γ²/(mk) - 2ω0²γ²/k²

    with ω0² = k0/m.  The returned bound is dimensionless; compare it with N (Kac) or with
    N² (Ñ = 1).  For k0 = 0 both reduce to the text's N²/Ñ ≫ 4γ²/(mk) (Kac: N ≈ N²/Ñ).
    A non-positive bound means the condition holds for every N.

    Args:
        m, k, k0, gamma: as above.  n_tilde: ``"kac"`` (Ñ = N-1) or ``1``.

    Returns:
        float64 array: the dimensionless bound on N (Kac) or on N² (Ñ = 1).

    Raises:
        ValueError: for another ``n_tilde``.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> float(an.validity_condition(1.0, 1.0, 0.0, 1, 1.0))
        4.0
    """
    kac = _is_kac(n_tilde, "validity_condition", gamma)
    m, k, k0, gamma = _f64(m, k, k0, gamma)
    w02 = k0 / m
    g2 = gamma**2
    kac_rhs = (4.0 * k * g2 / m) * (k**2 - w02 * g2) / (k**2 + w02 * g2) ** 2
    one_rhs = 4.0 * g2 / (m * k) - 2.0 * w02 * g2 / k**2
    return jnp.where(jnp.asarray(kac), kac_rhs, one_rhs)


def flux_identical_exact(n, m, k, k0, n_tilde, gamma, k_prime=0.0):
    """Exact J(N)/ΔT for identical masses at any finite N >= 2 (beyond the paper; units 1/time).

    J/ΔT = (1/4π) ∫ T(ω) dω (Eq. 16) with T of Eqs. 20–22 (and wall springs k', Sec. IV)
    evaluated in closed form: T = |B(iω)/A(iω)|² with A a degree-6 Hurwitz polynomial, and
    (1/2π)∫|B/A|² dω = c₅/a₀ from the spectral identity B(s)B(-s) = A(s)C(-s) + A(-s)C(s)
    (derivation and numerical check: ``scripts/derive_identical_flux.py``).  In the
    dimensionless variables x = κm/γ², p = k0 m/γ², q = k' m/γ² (κ = k/Ñ),
    u = x + p, v = (N-1)x + q:

        J/ΔT = (γ/2m) · x [ (N-1)x (v+u) + q x (q-1) ]
                        / [ (v² + u)(v + u) + q x (q x - 2u - 3v + 1) ].

    For k' = 0 this is

        J/ΔT = (γ/2m) (N-1) κ² / [ (N-1)² κ² + (γ²/m)(κ + k0) ],

    so N·J/ΔT → γ/(2m) (Ñ = 1, any k0; or k0 = 0) and → 1/(2𝒜) (Kac, k0 > 0), i.e.
    Eqs. 25 and 30, with O(1/N) corrections.  Valid for any Ñ > 0, k0 >= 0, k' >= 0 and
    N >= 2, including k0 = 0 and N = 2 (removable cancellations done symbolically).

    Args:
        n: N >= 2 (int, float or array).  m, k, k0, gamma: as above.
        n_tilde: Ñ, a number or ``"kac"``.  k_prime: wall springs k' (Sec. IV), default 0.

    Returns:
        float64 array J/ΔT (1/time, k_B = 1).

    Raises:
        ValueError: for a string ``n_tilde`` other than ``"kac"``.
        RuntimeError: if JAX's float64 mode has been turned off.

    Example:
        >>> import meanfield_jax.analytic as an
        >>> round(float(an.flux_identical_exact(2, 1.0, 1.0, 0.0, 1.0, 1.0)), 12)
        0.25
        >>> round(float(100 * an.flux_identical_exact(100, 1.0, 0.1, 0.02, 99.0, 1.0)), 6)
        0.162866
    """
    n, m, k, k0, n_tilde, gamma, k_prime = _f64(n, m, k, k0, _n_tilde_value(n_tilde, n), gamma,
                                                k_prime)
    kappa = k / n_tilde
    # --- pasted from scripts/derive_identical_flux.py (PY_SOURCE) ---
    x = kappa * m / gamma**2          # dimensionless k/Ñ
    p = k0 * m / gamma**2             # dimensionless pinning
    q = k_prime * m / gamma**2        # dimensionless wall spring
    u = x + p
    v = (n - 1.0) * x + q
    num = x * ((v - q) * (v + u) + q * x * (q - 1.0))
    den = (v * v + u) * (v + u) + q * x * (q * x - 2.0 * u - 3.0 * v + 1.0)
    return 0.5 * (gamma / m) * num / den
