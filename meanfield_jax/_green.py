"""Green's-operator kernels: Z(ω), G(ω) and T(ω) at one frequency for one system.

Mean-field chain (Eqs. 7–14): Z(ω) = diag(A_n) + b 1 1ᵀ with b = −k/Ñ (Eq. 9) and
A_n = a_n − b + c (δ_n1 + δ_nN) (below Eq. 12), i.e.

    A_n(ω) = κ̄ + k0 + k'_n − m_n ω² + i γ_n ω,   κ̄ = N k / Ñ,

with k'_n = k', γ_n = γ on the two bath particles and 0 in the bulk. Sherman–Morrison
(the structure behind Eq. 14) gives every element of G = Z⁻¹ in O(N). Using
1 + b Σ 1/A_n = (1/N) Σ e_n / A_n with e_n = A_n − κ̄ = k0 + k'_n − m_n ω² + i γ_n ω
removes the cancellation of the momentum-conserving zero mode at ω → 0: with
ε_n = e_n / ω,

    Q(ω) = A_1 A_N Σ_n ε_n / A_n,     ω G_1N(ω) = κ̄ / Q(ω),     T(ω) = 4 γ² κ̄² / |Q(ω)|²

which is finite and exact at ω = 0 for k0 = k' = 0 (Eq. 23's T(0)) and at the bulk
resonances (where T = 0 exactly).

General networks use dense LU solves, O(N³) per frequency.
"""

from __future__ import annotations

import jax.numpy as jnp

from . import _config  # noqa: F401
from ._model import HarmonicNetwork, MeanFieldChain, bath_friction, end_mask, wall_springs

# --------------------------------------------------------------------------- chain pieces


def bulk_frequencies(kappa_bulk, bulk_masses):
    """ω_n = sqrt(κ_b/m_n), κ_b = κ̄ + k0: the bulk particles' frequencies (the real zeros
    α_n = κ_b − m_n ω² = 0 of the Sherman–Morrison denominators, where T(ω) = 0). O(N)."""
    return jnp.sqrt(kappa_bulk / bulk_masses)


def end_factor(kappa_end, m_end, gamma, omega):
    """(A_j, a_j) of a bath particle j ∈ {1, N}: a_j = κ_e − m_j ω², A_j = a_j + i γ ω
    (below Eq. 12; κ_e = κ̄ + k0 + k'), at real or complex ω. O(1)."""
    a = kappa_end - m_end * omega**2
    return a + 1j * gamma * omega, a


def chain_diagonal(chain: MeanFieldChain, omega):
    """A_n(ω) of the Sherman–Morrison splitting Z = diag(A) + b 1 1ᵀ (Eqs. 8–10, 12). O(N)."""
    kappa = chain.kappa_bar + chain.k0 + wall_springs(chain)
    damping = bath_friction(chain)
    return kappa - chain.masses * omega**2 + 1j * damping * omega


def _eps_over_omega(chain: MeanFieldChain, omega):
    """ε_n = (A_n − κ̄)/ω, written without dividing 0 by 0 (double-where, gradient safe)."""
    sigma = chain.k0 + wall_springs(chain)
    damping = bath_friction(chain)
    omega_is_zero = omega == 0
    safe_omega = jnp.where(omega_is_zero, 1.0, omega)
    pinned = sigma / safe_omega  # differentiable in σ, also at σ = 0
    pinned = jnp.where(omega_is_zero & (sigma != 0), jnp.inf, pinned)
    return pinned + 1j * damping - chain.masses * omega


def chain_kappa_bar(chain: MeanFieldChain, n=None):
    """κ̄ = n k/Ñ with n the true N (``n`` of a chain padded to a size bucket, see
    ``_buckets``; default the static ``chain.n``)."""
    return chain.kappa_bar if n is None else n * chain.k / chain.n_tilde


def chain_q(chain: MeanFieldChain, omega, n=None):
    """Q(ω) = A_1 A_N Σ_n ε_n/A_n, so that ω G_1N = κ̄/Q (module docstring). O(N).

    For real ω the bulk part Σ_{n=2}^{N−1} (k0/ω − m_n ω)/(κ̄ + k0 − m_n ω²) is real (no
    damping in the bulk): it is summed in real arithmetic, the hot loop of T(ω). ``n``: the
    true N of a chain padded to a size bucket (masses [m_1, bulk, padding, m_N]); the
    padded bulk entries add nothing.
    """
    masses = chain.masses
    kappa_bar = chain_kappa_bar(chain, n)
    omega_is_zero = omega == 0
    safe_omega = jnp.where(omega_is_zero, 1.0, omega)
    pin = jnp.where(omega_is_zero & (chain.k0 != 0), jnp.inf, chain.k0 / safe_omega)
    bulk_m = masses[1:-1]
    if n is None:
        bulk = jnp.sum((pin - bulk_m * omega) / (kappa_bar + chain.k0 - bulk_m * omega**2))
    else:
        # Padded entries: mass −1 (κ_b + ω² > 0: no zero denominator at real ω ≠ 0) and
        # weight 0, both per particle, so the per-frequency sum keeps the unpadded form and
        # XLA fuses it into one vectorised reduction. A per-element select here (masking
        # each term) made XLA on CPU write the whole (frequencies × N) array of terms to
        # memory before summing it: 3–7× the unpadded time under vmap (issue 27).
        real = jnp.arange(bulk_m.shape[0]) < n - 2
        weight = real.astype(bulk_m.dtype)
        bulk_m = jnp.where(real, bulk_m, -1.0)
        terms = (pin - bulk_m * omega) / (kappa_bar + chain.k0 - bulk_m * omega**2)
        # (at ω = 0 with k0 > 0, pin = inf: every real term is +inf, a padded one 0·inf)
        bulk = jnp.where(jnp.isinf(pin), pin, jnp.sum(weight * terms))
    ends = jnp.stack([masses[0], masses[-1]])
    kappa_end = kappa_bar + chain.k0 + chain.k_prime
    a_end, _ = end_factor(kappa_end, ends, chain.gamma, omega)
    sigma = chain.k0 + chain.k_prime
    pin_end = jnp.where(omega_is_zero & (sigma != 0), jnp.inf, sigma / safe_omega)
    eps_end = pin_end + 1j * chain.gamma - ends * omega
    return eps_end[0] * a_end[1] + eps_end[1] * a_end[0] + a_end[0] * a_end[1] * bulk


def chain_transmittance(chain: MeanFieldChain, omega, n=None):
    """T(ω) = 4 γ² ω² |G_1N|² (Eq. 17) = 4 γ² κ̄² / |Q|². O(N) per frequency.

    ``n``: the true N of a chain padded to a size bucket (see :func:`chain_q`)."""
    q = chain_q(chain, omega, n)
    t = 4.0 * chain.gamma**2 * chain_kappa_bar(chain, n)**2 / (q.real**2 + q.imag**2)
    # Exactly at a bulk resonance 1/A_n = inf: T = 0 (its limit).
    return jnp.where(jnp.isfinite(q), t, 0.0)


def chain_green_columns(chain: MeanFieldChain, omega):
    """(ω G_n1, ω G_nN) for all n, by Sherman–Morrison (Eq. 14). O(N).

    Multiplying by ω keeps the columns finite at ω = 0 for the momentum-conserving zero
    mode; Eq. (31) only needs ω² |G_n1|² and ω² |G_nN|².
    """
    a = chain_diagonal(chain, omega)
    eps = _eps_over_omega(chain, omega)
    total = jnp.sum(eps / a)  # = N (1 + b Σ 1/A_n) / ω
    # ω G = ω D⁻¹ − ω b D⁻¹ 1 1ᵀ D⁻¹ / (1 + b Σ 1/A): −ω b/(1+bΣ1/A) = κ̄ / total
    coupling = chain.kappa_bar / total
    idx = jnp.arange(chain.n)
    col1 = jnp.where(idx == 0, omega / a[0], 0.0) + coupling / (a * a[0])
    coln = jnp.where(idx == chain.n - 1, omega / a[-1], 0.0) + coupling / (a * a[-1])
    return col1, coln


def chain_greens_function(chain: MeanFieldChain, omega):
    """Full G = Z⁻¹ by Sherman–Morrison: D⁻¹ − b D⁻¹ 1 1ᵀ D⁻¹ / (1 + b Σ 1/A_n). O(N²)."""
    a = chain_diagonal(chain, omega)
    inv_a = 1.0 / a
    s = 1.0 + chain.b * jnp.sum(inv_a)
    return jnp.diag(inv_a) - chain.b * jnp.outer(inv_a, inv_a) / s


# --------------------------------------------------------------------------- dense pieces


def network_z(network: HarmonicNetwork, omega):
    """Z(ω) = K + k'(e₁e₁ᵀ + e_Ne_Nᵀ) − ω² M + i ω Γ (Eq. 7 for any K). O(N²)."""
    ends = end_mask(network.n)
    diag = (jnp.where(ends, network.k_prime + 1j * network.gamma * omega, 0.0)
            - network.masses * omega**2)
    return network.stiffness.astype(jnp.complex128) + jnp.diag(diag)


def network_transmittance(network: HarmonicNetwork, omega):
    """T(ω) = 4 γ² |ω G_1N|² by a dense LU solve of Z x = e_N. O(N³) per frequency.

    At ω = 0 exactly the limit ω → 0⁺ is taken by evaluating at ω = 1e-7 × (a frequency
    scale of the network); the bias is O(1e-14) relative.
    """
    scale = jnp.sqrt(jnp.max(jnp.abs(jnp.diag(network.stiffness))) / jnp.min(network.masses)
                     + network.gamma / jnp.min(network.masses) + 1e-300)
    omega_eval = jnp.where(omega == 0, 1e-7 * scale, omega)
    z = network_z(network, omega_eval)
    rhs = jnp.zeros(network.n, dtype=jnp.complex128).at[-1].set(1.0)
    x = jnp.linalg.solve(z, rhs)
    g1n = x[0] * omega_eval
    return 4.0 * network.gamma**2 * (g1n.real**2 + g1n.imag**2)



def transmittance_kernel(system, omega):
    """T(ω) of one system at one frequency: the structured kernel for a chain, the dense one
    for a network (the dispatch used by every caller of a one-frequency T)."""
    if isinstance(system, MeanFieldChain):
        return chain_transmittance(system, omega)
    return network_transmittance(system, omega)
