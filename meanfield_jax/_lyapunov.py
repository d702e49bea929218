"""Lyapunov reference solver: the exact steady state of any network by eigendecomposition.

The state x = (q, q̇) obeys ẋ = A x + noise (A: :func:`_model.state_matrix`); its
steady-state covariance C solves A C + C Aᵀ + D = 0 with D = diag(0, 2γ M⁻¹ diag(T) M⁻¹).
J = γ(T_L − T_1)/m_1 and T_n = m_n C_vv,nn (Eq. 31) follow. O(N³) per system; runs where
``jnp.linalg.eig`` runs (CPU). A reference for moderate N, and the default for networks.
"""

from __future__ import annotations

import jax.numpy as jnp

from . import _config
from ._failure import FluxResult, TemperatureResult
from ._model import HarmonicNetwork, as_network, bath_friction, state_matrix

__all__ = ["velocity_covariance", "flux_lyapunov", "temperatures_lyapunov"]


def velocity_covariance(network: HarmonicNetwork):
    """Steady-state velocity covariance from A C + C Aᵀ + D = 0, by eigendecomposition.

    With A = V Λ V⁻¹: C = V X Vᴴ, X_ij = −(V⁻¹ D V⁻ᴴ)_ij / (λ_i + λ̄_j). Pairs with
    λ_i + λ̄_j = 0 (the momentum zero mode, and modes decoupled from the baths, e.g. the
    N − 3 bulk modes of identical masses) are not driven: their entry is set to zero, which
    is the particular solution from rest (paper, Sec. II). O(N³). Accurate for moderate N
    (cond(V) grows with N when the masses are nearly degenerate).
    """
    n = network.n
    m = network.masses
    gam = bath_friction(network)
    temps = jnp.zeros(n).at[0].set(network.t_left).at[-1].set(network.t_right)
    lam, v = jnp.linalg.eig(state_matrix(network))
    vinv = jnp.linalg.inv(v)
    noise = 2.0 * gam * temps / m**2  # D_vv diagonal
    vin = vinv[:, n:]
    y = (vin * noise[None, :]) @ jnp.conj(vin).T
    denom = lam[:, None] + jnp.conj(lam)[None, :]
    scale = jnp.max(jnp.abs(lam))
    undriven = jnp.abs(denom) <= 1e-11 * scale
    x = jnp.where(undriven, 0.0, -y / jnp.where(undriven, 1.0, denom))
    vv = v[n:, :]
    cvv = (vv @ x @ jnp.conj(vv).T).real
    return cvv


@_config.jit
def flux_lyapunov(system) -> FluxResult:
    """J (Eq. 16 through the energy balance at particle 1) with |J_left − J_right| as its
    error estimate, for any system (a chain through its dense K). O(N³)."""
    network = as_network(system)
    cvv = velocity_covariance(network)
    m = network.masses
    t1 = m[0] * cvv[0, 0]
    tn = m[-1] * cvv[-1, -1]
    j_left = network.gamma / m[0] * (network.t_left - t1)
    j_right = network.gamma / m[-1] * (tn - network.t_right)
    # the two baths' fluxes agree in the exact steady state: their gap is the error scale
    err = jnp.abs(j_left - j_right) + 1e-12 * jnp.abs(j_left)
    # J → 0 (T_L = T_R, weak coupling): rounding in T_1 alone leaves ~eps γT/m, so the test
    # is relative to |J| with a floor of 1e-13 of the flux scale γ max(T_L, T_R)/min(m_1, m_N)
    t_max = jnp.maximum(network.t_left, network.t_right)
    floor = 1e-13 * network.gamma * t_max / jnp.minimum(m[0], m[-1])
    ok = jnp.isfinite(j_left) & (err <= 1e-6 * jnp.abs(j_left) + floor + 1e-300)
    return FluxResult(j_left, err, ok)


@_config.jit
def temperatures_lyapunov(system) -> TemperatureResult:
    """T_n = m_n ⟨q̇_n²⟩ (Eq. 31) for any system, error from the energy-balance gap. O(N³)."""
    network = as_network(system)
    cvv = velocity_covariance(network)
    temps = network.masses * jnp.diag(cvv)
    m = network.masses
    j_left = network.gamma / m[0] * (network.t_left - temps[0])
    j_right = network.gamma / m[-1] * (temps[-1] - network.t_right)
    scale = jnp.maximum(network.t_left, network.t_right)
    err = jnp.full(network.n, jnp.abs(j_left - j_right) * m[0] / network.gamma + 1e-12 * scale)
    return TemperatureResult(temps, err, jnp.all(jnp.isfinite(temps)))
