"""Constructors of harmonic networks: power-law chains, nearest-neighbour chains, random springs.

Every constructor returns a :class:`meanfield_jax.HarmonicNetwork` with the stiffness matrix
of a network of springs k_ij between particles i ≠ j (plus pinning k0):

    K = diag(k0 + Σ_{j≠i} k_ij) − [k_ij],   H = Σ p²/2m + (k0/2) Σ q_i² + ½ Σ_{i<j} k_ij (q_i − q_j)²,

baths (γ, T_L) on particle 1 and (γ, T_R) on particle N, optional wall springs k' on
particles 1 and N: the parameters are named as in :class:`meanfield_jax.MeanFieldChain`
(``gamma``, ``t_left``, ``t_right``, ``k_prime``). The result goes into every public function
(``transmittance``, ``heat_flux``, ``local_temperatures``, ``normal_modes``, ``simulate``,
stacked with ``stack_systems`` for ensembles); the exact default solver for networks is the
normal-mode secular form (``meanfield_jax._secular``).

Building K costs O(N²); these constructors skip the O(N³) positive-semi-definiteness check
of ``HarmonicNetwork`` (K is a graph Laplacian with k_ij ≥ 0 plus k0 I: PSD by
construction). Masses and parameters are validated as in ``MeanFieldChain``; values may be
traced (``jit``/``vmap`` over masses, k, α, ...), only ``n_tilde="kac"`` is a string.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401
from ._configfile import plain
from ._model import HarmonicNetwork, checked_masses, checked_scalar

__all__ = ["power_law", "nearest_neighbour", "random_springs", "from_springs"]


def from_springs(masses, springs, *, k0=0.0, gamma=1.0, t_left=1.0, t_right=0.0,
                 k_prime=0.0) -> HarmonicNetwork:
    """A network from a symmetric (N, N) matrix of springs k_ij ≥ 0 (diagonal ignored).

    K = diag(k0 + Σ_{j≠i} k_ij) − [k_ij], each row's sum taken in ascending order (so a
    reflection-symmetric network, k_ij = k_{N+1−i,N+1−j} and m_i = m_{N+1−i}, gets an
    exactly symmetric K, which the solvers use: ``local_temperatures``). O(N² log N).
    Concrete springs are checked (finite, symmetric, non-negative); traced ones are
    trusted.

    Args:
      masses: length-N array of masses > 0, N >= 2.
      springs: (N, N) symmetric array of springs k_ij >= 0 (the diagonal is ignored).
      k0: pinning stiffness of every particle.
      gamma, t_left, t_right, k_prime: bath friction γ, bath temperatures T_L (particle 1)
        and T_R (particle N), wall springs k' on particles 1 and N.

    Returns:
      :class:`meanfield_jax.HarmonicNetwork`.

    Raises:
      ValueError: naming the parameter, as :class:`MeanFieldChain`, and for springs that are
        not (N, N), not finite, not symmetric or negative.

    >>> from meanfield_jax import networks
    >>> networks.from_springs([1.0, 1.0], [[0.0, 2.0], [2.0, 0.0]]).stiffness.tolist()
    [[2.0, -2.0], [-2.0, 2.0]]
    """
    masses = checked_masses(masses)
    n = masses.shape[0]
    if not isinstance(springs, jax.core.Tracer):
        arr = np.asarray(springs, dtype=np.float64)
        if arr.shape != (n, n):
            raise ValueError(f"springs must be an N×N matrix with N = {n}, got shape {arr.shape}")
        off = arr[~np.eye(n, dtype=bool)]
        if not np.all(np.isfinite(off)):
            raise ValueError("springs must be finite")
        if np.any(off < 0):
            raise ValueError("springs must be >= 0")
        if not np.array_equal(arr, arr.T):
            raise ValueError("springs must be a symmetric matrix")
    springs = jnp.asarray(springs, dtype=jnp.float64) * (1.0 - jnp.eye(n))
    k0 = checked_scalar("k0", k0, nonnegative=True)
    # each row summed in ascending order: rows that are permutations of each other (the
    # mirror rows of a reflection-symmetric network) get bit-identical diagonals, so the
    # solvers' exact symmetry check (``_secular.reflection_symmetric``) sees the symmetry
    stiffness = jnp.diag(k0 + jnp.sum(jnp.sort(springs, axis=1), axis=1)) - springs
    leaves = (masses, stiffness, checked_scalar("gamma", gamma, positive=True),
              checked_scalar("t_left", t_left, nonnegative=True),
              checked_scalar("t_right", t_right, nonnegative=True),
              checked_scalar("k_prime", k_prime, nonnegative=True))
    return HarmonicNetwork.tree_unflatten(None, leaves)


def _distance_weights(n, alpha):
    """|i − j|^−α for i ≠ j (0 on the diagonal); α = inf gives nearest neighbours."""
    idx = jnp.arange(n)
    dist = jnp.abs(idx[:, None] - idx[None, :]).astype(jnp.float64)
    off = dist > 0
    safe = jnp.where(off, dist, 1.0)
    alpha = jnp.asarray(alpha, dtype=jnp.float64)
    finite = jnp.isfinite(alpha)
    w = jnp.where(finite, safe ** (-jnp.where(finite, alpha, 0.0)), (dist == 1).astype(float))
    return jnp.where(off, w, 0.0)


def kac_factor(n: int, alpha) -> jax.Array:
    """Ñ = (1/N) Σ_i Σ_{j≠i} |i − j|^−α (α = 0: Ñ = N − 1; α = inf: 2(N − 1)/N). O(N²).

    The Kac factor of :func:`power_law` (``n_tilde="kac"``): the mean total coupling per
    particle is then k.

    Args:
      n: number of particles N (an integer >= 2; not checked here, :func:`power_law` does).
      alpha: exponent α >= 0, or ``inf`` (nearest neighbours).

    Returns:
      float64 scalar array Ñ.

    Raises:
      ValueError: from JAX for a non-numeric ``alpha`` (values are not range-checked here).

    >>> from meanfield_jax import networks
    >>> float(networks.kac_factor(5, 0.0))
    4.0
    >>> float(networks.kac_factor(4, float("inf")))  # 2(N − 1)/N
    1.5
    """
    return jnp.sum(_distance_weights(n, alpha)) / n


def power_law(masses, alpha, *, k=1.0, k0=0.0, n_tilde="kac", gamma=1.0, t_left=1.0,
              t_right=0.0, k_prime=0.0) -> HarmonicNetwork:
    """Open chain with power-law springs k_ij = k / (Ñ |i − j|^α), i ≠ j.

    The paper's introduction places the mean-field chain (Eq. 1) at α = 0 of this family
    and nearest-neighbour chains at α → ∞. With ``n_tilde="kac"``,
    Ñ = (1/N) Σ_i Σ_{j≠i} |i − j|^−α (each particle's mean total coupling is k: extensive
    energy), so α = 0 gives Ñ = N − 1 and exactly ``MeanFieldChain(masses, k, k0, "kac")``;
    a number sets Ñ (1.0: no Kac factor). ``alpha = inf`` gives nearest neighbours.

    Args:
      masses: length-N array of masses > 0, N >= 2.
      alpha: decay exponent α >= 0 (float, may be ``numpy.inf``).
      k, k0: spring scale and pinning stiffness, >= 0.
      n_tilde: ``"kac"`` or a positive number.
      gamma, t_left, t_right, k_prime: baths and walls as in ``MeanFieldChain``.

    Returns:
      HarmonicNetwork. O(N²) to build.

    Raises:
      ValueError: naming the parameter (negative α, bad masses, ``n_tilde``, ...).

    >>> from meanfield_jax import networks
    >>> net = networks.power_law([1.0] * 3, 0.0, k=2.0)
    >>> net.stiffness.tolist()
    [[2.0, -1.0, -1.0], [-1.0, 2.0, -1.0], [-1.0, -1.0, 2.0]]
    """
    masses = checked_masses(masses)
    n = masses.shape[0]
    if not isinstance(alpha, jax.core.Tracer):
        a = float(alpha)
        if np.isnan(a) or a < 0:
            raise ValueError(f"alpha must be >= 0 (or inf), got {plain(alpha)}")
    weights = _distance_weights(n, alpha)
    if isinstance(n_tilde, str):
        if n_tilde.lower() != "kac":
            raise ValueError(f"n_tilde must be 'kac' or a positive number, got {n_tilde!r}")
        n_t = jnp.sum(weights) / n
    else:
        n_t = checked_scalar("n_tilde", n_tilde, positive=True)
    k = checked_scalar("k", k, nonnegative=True)
    return from_springs(masses, k / n_t * weights, k0=k0, gamma=gamma, t_left=t_left,
                        t_right=t_right, k_prime=k_prime)


def nearest_neighbour(masses, *, k=1.0, k0=0.0, gamma=1.0, t_left=1.0, t_right=0.0,
                      k_prime=0.0) -> HarmonicNetwork:
    """Nearest-neighbour chain: springs k between particles i and i + 1.

    Free ends for k' = 0; fixed ends (springs k' to walls) for k' > 0, e.g. k' = k for the
    Rieder–Lebowitz–Lieb / Casher–Lebowitz chain. For identical masses m and free ends,
    J = k γ ΔT / (2 (k m + γ²)) at every N (transmittance of the ordered chain).

    Args:
      masses: length-N array of masses > 0, N >= 2.
      k: spring between neighbours (>= 0).
      k0: pinning stiffness of every particle.
      gamma, t_left, t_right, k_prime: bath friction γ, bath temperatures, wall springs k'
        (fixed ends for k' > 0), as in :func:`from_springs`.

    Returns:
      :class:`meanfield_jax.HarmonicNetwork` with a tridiagonal stiffness matrix.

    Raises:
      ValueError: naming the parameter, as :class:`meanfield_jax.MeanFieldChain` (masses,
        k, k0, gamma, temperatures, k_prime).

    >>> from meanfield_jax import networks
    >>> networks.nearest_neighbour([1.0, 1.0, 1.0]).stiffness.tolist()
    [[1.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 1.0]]
    """
    masses = checked_masses(masses)
    n = masses.shape[0]
    k = checked_scalar("k", k, nonnegative=True)
    springs = k * (jnp.eye(n, k=1) + jnp.eye(n, k=-1))
    return from_springs(masses, springs, k0=k0, gamma=gamma, t_left=t_left, t_right=t_right,
                        k_prime=k_prime)


def random_springs(key, masses, *, k=1.0, k0=0.0, n_tilde=1.0, gamma=1.0, t_left=1.0,
                   t_right=0.0, k_prime=0.0) -> HarmonicNetwork:
    """Fully connected network with independent random springs k_ij = k u_ij / Ñ, u_ij ~ U(0, 1).

    The ensemble of Schmidt, Kottos & Shapiro, PRE 88, 022126 (2013) (all-to-all random
    springs; they use equal masses and no Kac factor, Ñ = 1, and find ⟨J⟩ independent of N).
    The u_ij (i < j) are drawn with ``jax.random.uniform(fold_in(key, 1), ...)``, so a key
    ``masses.realization_key(seed, N, r)`` used for random masses as well gives independent
    springs, reproducibly per realization. ``n_tilde="kac"`` sets Ñ = (N − 1)/2 (mean
    total coupling per particle k).

    Args:
      key: a ``jax.random`` key (typed or raw), e.g. ``masses.realization_key(seed, N, r)``.
      masses: length-N array of masses > 0, N >= 2.
      k, k0, n_tilde, gamma, t_left, t_right, k_prime: as in :func:`power_law`.

    Returns:
      :class:`meanfield_jax.HarmonicNetwork` (momentum conserving for k0 = k' = 0).

    Raises:
      ValueError: for ``n_tilde`` neither ``"kac"`` nor a positive number, and naming the
        parameter as :class:`meanfield_jax.MeanFieldChain` (masses, k, k0, gamma, …).

    >>> import jax
    >>> from meanfield_jax import networks
    >>> net = networks.random_springs(jax.random.key(0), [1.0] * 4)
    >>> bool((net.stiffness.sum(axis=1) < 1e-12).all())
    True
    """
    masses = checked_masses(masses)
    n = masses.shape[0]
    u = jax.random.uniform(jax.random.fold_in(key, 1), (n, n), dtype=jnp.float64)
    u = jnp.triu(u, 1)
    u = u + u.T
    if isinstance(n_tilde, str):
        if n_tilde.lower() != "kac":
            raise ValueError(f"n_tilde must be 'kac' or a positive number, got {n_tilde!r}")
        n_t = jnp.asarray((n - 1) / 2.0)
    else:
        n_t = checked_scalar("n_tilde", n_tilde, positive=True)
    k = checked_scalar("k", k, nonnegative=True)
    return from_springs(masses, k / n_t * u, k0=k0, gamma=gamma, t_left=t_left,
                        t_right=t_right, k_prime=k_prime)
