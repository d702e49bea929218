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

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config
from ._special import binet_factor, trigamma_factor

__all__ = ["PoleSum", "bath_weight", "conductance", "conductance_low_temperature",
           "conductance_weight", "flux_low_temperature", "quantum_alpha",
           "quantum_flux"]


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


# ---------------------------------------------------------------- sums over the poles

#: Relative accuracy of one weight (ψ, ψ′ by ``_special``), per |term|.
WEIGHT_RTOL = 64.0 * float(np.finfo(np.float64).eps)
#: As the classical solvers: converged when the error estimate ≤ this fraction of |value|.
CONVERGED_RTOL = 1e-9


class PoleSum(NamedTuple):
    """An exact solver's flux as a weighted sum over points of the upper half plane.

    Classically J/ΔT = Re Σ_j weights_j (the residue terms t_p at the poles, doubled for a
    gap pole that stands for its mirror too, and the contour rules' node weights for
    near-degenerate clusters), and for any weight w analytic in the upper half plane with
    w(−z̄) = conj w(z) the same points give Re Σ_p t_p w(ω_p) = Re Σ_j weights_j w(points_j)
    (module docstring). Built by the solvers (``_poles``, ``_poles_fast``, ``_secular``).

    points, weights: (P,) complex; unused slots have weight 0 at a finite point.
    errors: (P,) absolute error bounds of each weight's classical contribution (a
      contour row's bound spread over its nodes), multiplied by |w| at the point.
    self_conjugate: (P,) points listed with their mirrors (Im Σ is then a rounding check).
    rounding_rtol: the solver's relative rounding bound, times Σ|weights_j w_j|.
    sum_rule_error, extra_error: the trace sum rule's relative violation (times |value|),
      an absolute bound on J/ΔT from the solver's approximations (times max|w|).
    ok: the solver's own checks (iterations, sum rule) passed.
    coupled: False where the baths are disconnected (J = 0 exactly).
    """

    points: jax.Array
    weights: jax.Array
    errors: jax.Array
    self_conjugate: jax.Array
    rounding_rtol: jax.Array
    sum_rule_error: jax.Array
    extra_error: jax.Array
    ok: jax.Array
    coupled: jax.Array


def _contract(pole_sum: PoleSum, w):
    """(value, error, converged) of Re Σ_j weights_j w_j for one set of weights (P,)."""
    terms = pole_sum.weights * w
    total = jnp.sum(terms)
    value = total.real
    aw = jax.lax.stop_gradient(jnp.abs(w))
    magnitude = jax.lax.stop_gradient(jnp.sum(jnp.abs(terms)))
    imag = jax.lax.stop_gradient(jnp.abs(jnp.sum(jnp.where(pole_sum.self_conjugate,
                                                            terms.imag, 0.0))))
    error = (jnp.sum(pole_sum.errors * aw) + (pole_sum.rounding_rtol + WEIGHT_RTOL) * magnitude
             + imag + pole_sum.sum_rule_error * jnp.abs(jax.lax.stop_gradient(value))
             + pole_sum.extra_error * jnp.max(aw))
    error = jnp.where(jnp.isfinite(error), error, jnp.inf)
    converged = (pole_sum.ok & jnp.isfinite(value)
                 & (error <= CONVERGED_RTOL * jnp.abs(value)))
    value = jnp.where(pole_sum.coupled, value, 0.0)
    error = jnp.where(pole_sum.coupled, error, 0.0)
    return value, error, converged | ~pole_sum.coupled


def quantum_flux(pole_sum: PoleSum, hbar, t_left, t_right):
    """Landauer J = Re Σ_j weights_j [g_{T_L} − g_{T_R}](points_j) with its error bound and
    status (module docstring): (flux, error_estimate, converged). O(P).

    An equilibrium (T_L = T_R) gives J = 0 exactly, error 0."""
    w = bath_weight(pole_sum.points, hbar, t_left) - bath_weight(pole_sum.points, hbar, t_right)
    value, error, converged = _contract(pole_sum, w)
    equilibrium = jnp.asarray(t_left) == jnp.asarray(t_right)
    return (jnp.where(equilibrium, 0.0, value), jnp.where(equilibrium, 0.0, error),
            converged | equilibrium)


#: Temperatures per batch of the conductance's (temperatures × points) weights.
_CONDUCTANCE_ELEMENTS = 1 << 22


def conductance(pole_sum: PoleSum, hbar, temperatures):
    """κ(T) = Re Σ_j weights_j K(α_j(T)) at each temperature (1-D array): (kappa,
    error_estimate, converged), each of the temperatures' shape. O(P) per temperature,
    in batches of at most 2²² weights (memory O(2²²), not O(P · #T))."""
    temperatures = jnp.asarray(temperatures, dtype=jnp.float64)
    p = max(int(pole_sum.points.shape[0]), 1)
    one = lambda t: _contract(pole_sum, conductance_weight(pole_sum.points, hbar, t))
    batch = max(1, _CONDUCTANCE_ELEMENTS // p)
    if temperatures.shape[0] <= batch:
        return jax.vmap(one)(temperatures)
    return _config.map_in_batches(one, temperatures, batch)


# --------------------------------------------------- low temperatures: Gauss–Laguerre
#
# Far below the lowest pole (T ≪ ħ min|ω_p|, e.g. a pinned chain: κ ∝ T³) the Binet sums
# are sums of polynomial terms that cancel to a result orders of magnitude below them, and
# their bound says so. There the integrand is smooth where the thermal weight lives: with
# x = ħω/T,
#
#     ∫_0^∞ (dω/2π) ħω T(ω) n_T(ω) = T²/(2πħ) ∫_0^∞ e^{−x} x/(1 − e^{−x}) T(xT/ħ) dx,
#     κ(T) = ∫_0^∞ (dω/2π) ħω T(ω) ∂n_T/∂T = T/(2πħ) ∫_0^∞ e^{−x} x²/(1 − e^{−x})² T(xT/ħ) dx,
#
# whose only singularities within |x| < X_p = ħ min|ω_p|/T are the Bose factor's at ±2πik:
# Gauss–Laguerre with 64 nodes, its error estimated by the 48-node rule, plus a bound of
# everything beyond X = 0.9 X_p (T ≤ 1 there): ∫_X^∞ e^{−x}x^p/(1 − e^{−x})^p dx ≤
# (X + 1)e^{−X}/(1 − e^{−X}) (p = 1) or (X² + 2X + 2)e^{−X}/(1 − e^{−X})² (p = 2), and the
# rules' own nodes beyond X. T(ω) is evaluated directly, O(N) per node, to the solvers'
# relative rounding bound. Each temperature whose residue bound fails and whose Laguerre
# bound is smaller takes the Laguerre value.

_LAGUERRE = tuple(np.polynomial.laguerre.laggauss(m) for m in (64, 48))
#: The Laguerre rule is tried where the residue bound fails and X_p ≥ this.
_LAGUERRE_MIN_X = 20.0


def _laguerre(transmittance, pole_sum: PoleSum, hbar, temperature, power):
    """(∫, error bound) of the section's integral with x^p/(1 − e^{−x})^p, p = ``power``
    (1: one bath's current, 2: κ), at one temperature (0 for T = 0)."""
    (x64, w64), (x48, w48) = _LAGUERRE
    x = jnp.asarray(np.concatenate([x64, x48]))
    w = jnp.asarray(np.concatenate([w64, w48]))
    h = jnp.where(hbar > 0, hbar, 1.0)
    t = jnp.where(temperature > 0, temperature, 1.0)
    bose = (x / -jnp.expm1(-x)) ** power
    f = bose * transmittance(x * t / h)
    q64, q48 = jnp.sum(w[:64] * f[:64]), jnp.sum(w[64:] * f[64:])
    live = pole_sum.weights != 0
    x_pole = h * jnp.min(jnp.where(live, jnp.abs(pole_sum.points), jnp.inf)) / t
    cut = 0.9 * x_pole
    tail = jnp.where(power == 1, (cut + 1.0) * jnp.exp(-cut) / -jnp.expm1(-cut),
                     (cut**2 + 2.0 * cut + 2.0) * jnp.exp(-cut) / jnp.expm1(-cut) ** 2)
    beyond = jnp.maximum(jnp.sum(jnp.where(x[:64] > cut, w[:64] * bose[:64], 0.0)),
                         jnp.sum(jnp.where(x[64:] > cut, w[64:] * bose[64:], 0.0)))
    magnitude = jnp.sum(w[:64] * jnp.abs(f[:64]))
    scale = t ** (3 - power) / (2.0 * np.pi * h)  # T²/(2πħ) for a current, T/(2πħ) for κ
    error = scale * (jnp.abs(q64 - q48) + tail + beyond
                     + (pole_sum.rounding_rtol + WEIGHT_RTOL) * magnitude)
    error = jnp.where((x_pole >= _LAGUERRE_MIN_X) & jnp.isfinite(error), error, jnp.inf)
    hot = temperature > 0
    return jnp.where(hot, scale * q64, 0.0), jnp.where(hot, error, 0.0)


def _replace_where_better(result, tried, laguerre):
    """``result`` (value, error, converged) with the entries where ``tried`` and the
    Laguerre bound is smaller replaced; ``laguerre``: () ↦ (value, error), run only if some
    entry is tried (lax.cond)."""
    value, error, converged = result

    def skip():
        return jnp.zeros_like(value), jnp.full_like(error, jnp.inf)

    low, low_error = jax.lax.cond(jnp.any(tried), laguerre, skip)
    use = tried & (low_error < error)
    return (jnp.where(use, low, value), jnp.where(use, low_error, error),
            converged | (use & jnp.isfinite(low)
                         & (low_error <= CONVERGED_RTOL * jnp.abs(low))))


def conductance_low_temperature(transmittance, pole_sum: PoleSum, hbar, temperatures, result):
    """``result`` = (κ, error, converged) of :func:`conductance` with the Gauss–Laguerre
    rule where it does better (section comment above). ``transmittance``: a 1-D array of
    ω ↦ T(ω) of the same system. O(112 evaluations of T) per temperature, run only if some
    temperature's residue bound failed."""
    temperatures = jnp.asarray(temperatures, dtype=jnp.float64)
    tried = ~result[2] & (temperatures > 0) & (hbar > 0) & pole_sum.ok & pole_sum.coupled
    return _replace_where_better(result, tried, lambda: jax.vmap(
        lambda t: _laguerre(transmittance, pole_sum, hbar, t, 2))(temperatures))


def flux_low_temperature(transmittance, pole_sum: PoleSum, hbar, t_left, t_right, result):
    """``result`` = (J, error, converged) of :func:`quantum_flux` with the Gauss–Laguerre
    rule for each bath where it does better (section comment above). O(112 evaluations of T
    per bath), run only if the residue bound failed."""
    tried = (~result[2] & (hbar > 0) & pole_sum.ok & pole_sum.coupled
             & (jnp.maximum(t_left, t_right) > 0))

    def laguerre():
        left, e_left = _laguerre(transmittance, pole_sum, hbar, t_left, 1)
        right, e_right = _laguerre(transmittance, pole_sum, hbar, t_right, 1)
        return left - right, e_left + e_right

    return _replace_where_better(result, tried, laguerre)


# ------------------------------------------------------------ quantum kinetic temperatures

_NEWTON_STEPS = 40


def kinetic_temperatures(points, weights, errors, hbar, t_left, t_right):
    """Quantum kinetic temperatures T*_n from per-site pole weights: (T* (N,), error (N,)).

    T*_n is the temperature of both baths at which particle n has the steady state's
    m_n⟨v_n²⟩: Σ_b ∫_0^∞ dω ω²|G_nb|² [F_{T_b}(ω) − F_{T*}(ω)] = 0 (F_T = ħω n_T; the
    zero-point parts cancel). Over the points z_j with weights w_jnb (classically
    T_n = Re Σ_j Σ_b w_jnb T_b) it reads S_n(T*) = R_n with

        R_n = Re Σ_j Σ_b w_jnb g_{T_b}(z_j),   S_n(T) = Re Σ_j (w_jn1 + w_jn2) g_T(z_j),

    S_n increasing in T (F_T increases with T at every ω), S_n′(T) = Re Σ_j (…) K(α_j).
    Solved by Newton's method safeguarded by bisection on [min T_b, max T_b] (a fixed
    number of steps; quadratic convergence). Equilibrium (T_L = T_R) gives T*_n = T exactly;
    ħ = 0 gives the classical Eq. (31) T_n normalised by the site's equilibrium weight
    S_n(1) (= 1 where every mode couples to the baths). Cost: O(P·N) weights per step.

    Error: the weights' bounds ``errors`` (P, N, 2) times |g| at both sides, the rounding
    of the weights, over S_n′(T*).
    """
    t_left = jnp.asarray(t_left, jnp.float64)
    t_right = jnp.asarray(t_right, jnp.float64)
    lo0 = jnp.minimum(t_left, t_right)
    hi0 = jnp.maximum(t_left, t_right)
    gl = bath_weight(points, hbar, t_left)[:, None]
    gr = bath_weight(points, hbar, t_right)[:, None]
    target = jnp.sum(weights[..., 0] * gl + weights[..., 1] * gr, axis=0).real
    both = weights[..., 0] + weights[..., 1]  # (P, N)
    n = weights.shape[1]

    def s_and_ds(t):  # t: (N,)
        g = bath_weight(points[:, None], hbar, t[None, :])
        k = conductance_weight(points[:, None], hbar, t[None, :])
        return jnp.sum(both * g, axis=0).real, jnp.sum(both * k, axis=0).real

    classical = jnp.sum(weights[..., 0] * t_left + weights[..., 1] * t_right, axis=0).real
    norm = jnp.sum(both, axis=0).real
    start = jnp.clip(classical / jnp.where(norm > 0, norm, 1.0), lo0, hi0)

    def step(_, state):
        t, lo, hi = state
        s, ds = s_and_ds(t)
        r = s - target
        lo = jnp.where(r < 0, t, lo)
        hi = jnp.where(r > 0, t, hi)
        newton = t - r / jnp.where(ds > 0, ds, 1.0)
        inside = (ds > 0) & (newton > lo) & (newton < hi)
        t_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        t_new = jnp.where(r == 0, t, t_new)
        return t_new, lo, hi

    ones = jnp.ones(n)
    t, _, _ = jax.lax.fori_loop(0, _NEWTON_STEPS, step,
                                (start, lo0 * ones, hi0 * ones))
    t = jax.lax.stop_gradient(t)
    # one differentiable Newton step at the converged root: the implicit-function derivative
    s, ds = s_and_ds(t)
    t = t - (s - target) / jnp.where(ds > 0, ds, 1.0)
    equilibrium = t_left == t_right
    t = jnp.where(equilibrium, t_left, t)
    gt = bath_weight(points[:, None], hbar, t[None, :])
    ag = jax.lax.stop_gradient(jnp.abs(gt))
    agl, agr = jax.lax.stop_gradient((jnp.abs(gl), jnp.abs(gr)))
    bound = jnp.sum(errors[..., 0] * (agl + ag) + errors[..., 1] * (agr + ag), axis=0)
    rounding = WEIGHT_RTOL * jnp.sum(jnp.abs(weights[..., 0]) * (agl + ag)
                                     + jnp.abs(weights[..., 1]) * (agr + ag), axis=0)
    ds_f = jax.lax.stop_gradient(jnp.abs(ds))
    resid = jax.lax.stop_gradient(jnp.abs(s - target))
    error = (bound + rounding + resid) / jnp.where(ds_f > 0, ds_f, jnp.inf)
    error = jnp.where(equilibrium, 0.0, jnp.where(jnp.isfinite(error), error, jnp.inf))
    return t, jax.lax.stop_gradient(error)
