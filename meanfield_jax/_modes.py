"""Normal modes: the undamped system's modes and each one's coupling to the two baths."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _config
from ._model import as_network, bath_friction, check_single_system, stiffness_with_walls

__all__ = ["NormalModes", "normal_modes"]


class NormalModes(NamedTuple):
    """Undamped normal modes (γ → 0) and their bath couplings.

    Attributes:
      frequencies: (N,) ascending Ω_j ≥ 0, from (K + k'P) u = Ω² M u.
      vectors: (N, N) mass-weighted orthonormal eigenvectors, column j is mode j
        (u_j = M^{1/2} x_j).
      coupling_left, coupling_right: (N,) energy damping rate of each mode through the
        left/right bath to first order in γ: γ |u_{1j}|²/m_1 and γ |u_{Nj}|²/m_N. A mode
        with both zero is decoupled from the baths and keeps whatever energy it started with.
    """

    frequencies: jax.Array
    vectors: jax.Array
    coupling_left: jax.Array
    coupling_right: jax.Array


@_config.jit
def _normal_modes(system):
    network = as_network(system)
    k_w = stiffness_with_walls(network)
    scale = 1.0 / jnp.sqrt(network.masses)
    kh = scale[:, None] * k_w * scale[None, :]
    kh = 0.5 * (kh + kh.T)
    # Degenerate eigenspaces (identical masses: the bulk relative modes and the relative end
    # mode share Ω² = (κ̄ + k0)/m) have no preferred basis; degenerate perturbation theory
    # picks the one that diagonalizes the damping. Adding ε Γ_h with ε ~ 1e-9 does that and
    # moves frequencies by O(ε²) (taken from Rayleigh quotients below).
    gamma_h = bath_friction(network) / network.masses
    eps = 1e-9 * jnp.max(jnp.abs(jnp.diag(kh))) / jnp.maximum(jnp.max(gamma_h), 1e-300)
    _, vecs = jnp.linalg.eigh(kh + eps * jnp.diag(gamma_h))
    lam = jnp.einsum("ij,ik,kj->j", vecs, kh, vecs)
    order = jnp.argsort(lam)
    lam, vecs = lam[order], vecs[:, order]
    freqs = jnp.sqrt(jnp.maximum(lam, 0.0))
    left = network.gamma * vecs[0, :] ** 2 / network.masses[0]
    right = network.gamma * vecs[-1, :] ** 2 / network.masses[-1]
    return NormalModes(freqs, vecs, left, right)


def normal_modes(system) -> NormalModes:
    """Normal modes of M q̈ = −(K + k'P) q and each mode's coupling rate to either bath.

    Within degenerate eigenspaces the basis that diagonalizes the damping is chosen
    (degenerate perturbation theory), so decoupled modes have exactly zero coupling.
    For identical masses exactly three modes couple to the baths — the relative motion of
    the end particles and the two rigid-bulk modes of Eq. (19) — and N − 3 (relative bulk
    motions, frequency ((N k/Ñ + k0)/m)^½) are decoupled (paper, Sec. III A/B). Any mass
    difference in the bulk couples every mode, through resonances of width ~ coupling rate.
    O(N³) (dense symmetric eigendecomposition, CPU or GPU); vmappable over systems.

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system).

    Returns:
      :class:`NormalModes` (eigenfrequencies, mode shapes and each mode's coupling rates to
      the left and right bath), modes sorted by frequency.

    Raises:
      ValueError: for a stacked batch passed without ``jax.vmap``.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> modes = mf.normal_modes(mf.MeanFieldChain([1.0] * 10, k=1.0, k0=0.5))
    >>> int((modes.coupling_left + modes.coupling_right > 1e-10).sum())
    3
    """
    check_single_system(system, "normal_modes")
    return _normal_modes(system)
