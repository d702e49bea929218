"""Quantum baths: the Binet weight of one pole of T(ω) for the Landauer current and the conductance.

With quantum baths (k_B = 1) the harmonic heat current is Landauer's,

    J = ∫_0^∞ (dω/2π) ħω T(ω) [n_L(ω) − n_R(ω)],   n_a(ω) = 1/(exp(ħω/T_a) − 1),

with the transmittance T(ω) of Eq. (17); ħω n_T(ω) → T as ħ → 0 gives the classical
J = ΔT ∫_0^∞ (dω/2π) T(ω) (Eq. 16). T(ω) is rational, even, real on the real axis and
decays at least like ω⁻²; its partial fractions over the poles ω_p of the upper half plane
are T(ω) = Σ_p a_p/(ω² + c_p²), c_p = −iω_p (Re c_p = Im ω_p > 0), a_p = 2ω_p Res_p T.
Per pole, ∫_0^∞ dω a/(ω² + c²) = aπ/(2c) (classical) and, by Binet's second formula
(DLMF 5.9.16, t = ħω/(2πT))

    ∫_0^∞ dω ħω n_T(ω) a/(ω² + c²) = (aħ/2) [ln α + 1/(2α) − ψ(1 + α)],   α = ħc/(2πT).

So every term of the classical residue sum J/ΔT = Re Σ_p t_p (t_p = (i/2) Res_p T, the
solvers' terms) carries, per bath, the weight

    g_T(ω_p) = T · G(α_p),   G(α) = 2α φ(α) = 1 + 2α(ln α − ψ(1 + α)),   α_p = −iħω_p/(2πT),

    J = Re Σ_p t_p [g_{T_L}(ω_p) − g_{T_R}(ω_p)],

with G → 1 as ħ → 0 (g → T: the classical term) and G ~ 1/(6α) as T → 0 (g → 0: n = 0).
The weight is analytic in the upper half plane, so where the solvers replace a
near-degenerate cluster's residues by a contour integral of T (``_contour``), the integrand
T(z) at a node z is multiplied by g_T(z) and the rule integrates T·g exactly as it integrated
T. A gap pole's mirror −ω̄_p has α = ᾱ_p and weight ḡ: it still contributes the conjugate
term. On the real axis, Re g_T(ω) = ħω n_T(ω), the value a mode of vanishing width carries.

The linear-response conductance κ(T) = ∫_0^∞ (dω/2π) ħω T(ω) ∂n_T/∂T = Re Σ_p t_p ∂g_T/∂T,
and since α ∝ 1/T, ∂g_T/∂T = G − αG′ = K(α) = 2α² χ(α) = 1 − 2α + 2α² ψ′(1 + α) (trigamma),
K → 1 as ħ → 0, K ~ 1/(3α) as T → 0. The same weights serve the kinetic temperatures: the
integrand ω² G_na(ω) G_na(−ω) has its poles at the same ω_p.

Both weights are formed from ``_special``'s cancellation-free Binet remainders (relative
accuracy ~1e-14 for any α with Re α ≥ 0, α ≠ 0); ħ = 0 gives g = T and K = 1 exactly,
T = 0 gives g = K = 0 (for ħ > 0), with finite derivatives (double-where guards). Cost:
O(1) per pole and temperature (≈ 40 complex operations).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ._special import binet_factor, trigamma_factor

__all__ = ["bath_weight", "conductance_weight", "quantum_alpha"]


def quantum_alpha(omega, hbar, temperature):
    """(α = −iħω/(2πT), quantum): α on guarded inputs (finite, nonzero) and the mask where
    ħ > 0, T > 0 and ω ≠ 0 (elsewhere the weights take their limits: α = 0 at ω = 0)."""
    omega = jnp.asarray(omega).astype(jnp.complex128)
    hbar = jnp.asarray(hbar, dtype=jnp.float64)
    temperature = jnp.asarray(temperature, dtype=jnp.float64)
    quantum = (hbar > 0) & (temperature > 0) & (omega != 0)
    h = jnp.where(quantum, hbar, 1.0)
    t = jnp.where(quantum, temperature, 1.0)
    w = jnp.where(quantum, omega, 1.0j)
    return -1j * h * w / (2.0 * np.pi * t), quantum


def bath_weight(omega, hbar, temperature):
    """g_T(ω) = T·G(−iħω/(2πT)): a pole's thermal weight with a quantum bath at T.

    The quantum residue term of the Landauer current is t_p·g_T(ω_p) where the classical
    one is t_p·T (module docstring, DLMF 5.9.16). ω in the closed upper half plane
    (broadcast with ħ ≥ 0 and T ≥ 0); complex128. g = T at ħ = 0, g = 0 at T = 0 < ħ.

    >>> round(float(bath_weight(1.0j, 0.0, 2.0).real), 12)
    2.0
    """
    alpha, quantum = quantum_alpha(omega, hbar, temperature)
    temperature = jnp.asarray(temperature, dtype=jnp.float64)
    hbar = jnp.asarray(hbar, dtype=jnp.float64)
    t = jnp.where(quantum, temperature, 1.0)
    g = jnp.where(quantum, t * binet_factor(alpha), jnp.where(temperature > 0, temperature, 0.0))
    return jnp.where(hbar > 0, g, temperature + 0j)


def conductance_weight(omega, hbar, temperature):
    """∂g_T(ω)/∂T = K(−iħω/(2πT)) = 1 − 2α + 2α²ψ′(1 + α): a pole's conductance weight.

    κ(T) = Re Σ_p t_p K(α_p) (module docstring). ω in the closed upper half plane
    (broadcast with ħ ≥ 0 and T ≥ 0); complex128. K = 1 at ħ = 0, K = 0 at T = 0 < ħ.

    >>> round(float(conductance_weight(1.0j, 0.0, 2.0).real), 12)
    1.0
    """
    alpha, quantum = quantum_alpha(omega, hbar, temperature)
    hbar = jnp.asarray(hbar, dtype=jnp.float64)
    temperature = jnp.asarray(temperature, dtype=jnp.float64)
    k = jnp.where(quantum, trigamma_factor(alpha), jnp.where(temperature > 0, 1.0, 0.0))
    return jnp.where(hbar > 0, k, 1.0 + 0j)
