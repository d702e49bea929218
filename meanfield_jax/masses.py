"""Mass configurations of the chain: identical, graded, random (uniform), alternating.

PRE 105, 054149, Sec. III B (Fig. 4): besides identical masses m, "slightly graded" masses
m_n = m − δ + 2δ(n − 1)/(N − 1) and random masses drawn uniformly in [m − δ, m + δ]
(δ = 0.1 in the paper). Any user array of positive masses is accepted by
:class:`meanfield_jax.MeanFieldChain` directly.

Reproducibility of random masses: realization ``r`` of an ensemble of chains of ``N``
particles drawn with ``seed`` uses the key :func:`realization_key` ``(seed, N, r)``
(``fold_in`` of ``N``, then of ``r``, into ``jax.random.key(seed)``): one independent key per
realization, so any single realization can be regenerated on its own, and an ensemble of R
realizations is a prefix of an ensemble of R' > R realizations. The same masses are used
for every other parameter (k0, Ñ, …) of a sweep (common random numbers).

All functions return float64 arrays (the package enables x64 on import) and cost O(N)
(O(R·N) for :func:`uniform_ensemble`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._config import require_x64  # (importing _config turns x64 on before any array)
from ._configfile import plain

__all__ = [
    "identical",
    "graded",
    "uniform",
    "alternating",
    "realization_key",
    "uniform_ensemble",
    "KINDS",
    "from_kind",
]

KINDS = ("identical", "graded", "random", "alternating")
"""Mass configurations understood by :func:`from_kind` and the ``sweep`` command."""
DETERMINISTIC_KINDS = ("identical", "graded", "alternating")
"""Kinds whose masses do not depend on the realization (computed once per parameter set)."""


def _check_n(n) -> int:
    require_x64("masses")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {plain(n)}")
    return int(n)


def check_m_delta(m, delta):
    """``(m, delta)`` as floats if m > 0 and 0 <= δ < m (every mass m ± δ positive).

    Args:
      m: mean mass m (finite, > 0).
      delta: disorder amplitude δ (finite, 0 <= δ < m).

    Returns:
      ``(m, delta)`` as Python floats.

    Raises:
      ValueError: naming ``m`` or ``delta`` when it is out of range or not finite.

    >>> from meanfield_jax import masses
    >>> masses.check_m_delta(1, 0.1)
    (1.0, 0.1)
    >>> masses.check_m_delta(1.0, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: delta must satisfy 0 <= delta < m = 1.0, got 1.0
    """
    m = float(m)
    delta = float(delta)
    if not np.isfinite(m) or m <= 0:
        raise ValueError(f"m must be a finite number > 0, got {m!r}")
    if not np.isfinite(delta) or delta < 0 or delta >= m:
        raise ValueError(f"delta must satisfy 0 <= delta < m = {m}, got {delta!r}")
    return m, delta


def identical(n: int, m: float = 1.0) -> jax.Array:
    """N identical masses m (Sec. III A).

    Args:
      n: number of particles N >= 2.
      m: the mass m > 0.

    Returns:
      float64 array of shape (N,).

    Raises:
      ValueError: for N < 2 (or not an integer) or m <= 0.

    >>> from meanfield_jax import masses
    >>> masses.identical(3, 2.0).tolist()
    [2.0, 2.0, 2.0]
    """
    n = _check_n(n)
    m, _ = check_m_delta(m, 0.0)
    return jnp.full((n,), m, dtype=jnp.float64)


def graded(n: int, m: float = 1.0, delta: float = 0.1) -> jax.Array:
    """Linearly graded masses m_n = m − δ + 2δ(n − 1)/(N − 1), n = 1..N (Sec. III B).

    The first particle (left bath) has m − δ, the last (right bath) m + δ; the mean is m.

    Args:
      n: number of particles N >= 2.
      m: mean mass m > 0.
      delta: amplitude δ, 0 <= δ < m.

    Returns:
      float64 array of shape (N,), increasing from m − δ to m + δ.

    Raises:
      ValueError: for N < 2 (or not an integer), m <= 0, or δ outside [0, m).

    >>> from meanfield_jax import masses
    >>> masses.graded(3, 1.0, 0.1).tolist()
    [0.9, 1.0, 1.1]
    """
    n = _check_n(n)
    m, delta = check_m_delta(m, delta)
    idx = jnp.arange(n, dtype=jnp.float64)
    return m - delta + 2.0 * delta * idx / (n - 1)


def uniform(key: jax.Array, n: int, m: float = 1.0, delta: float = 0.1) -> jax.Array:
    """N independent masses uniform in [m − δ, m + δ] (the paper's random masses, Sec. III B).

    Args:
      key: a ``jax.random`` key (typed or raw uint32), e.g. ``realization_key(seed, n, r)``.
      n: number of particles N >= 2.
      m: mean mass m > 0.
      delta: half-width δ, 0 <= δ < m (so every mass is > 0).

    Returns:
      float64 array of shape (N,).

    Raises:
      ValueError: for N < 2 (or not an integer), m <= 0, or δ outside [0, m).

    >>> import jax
    >>> from meanfield_jax import masses
    >>> x = masses.uniform(jax.random.key(0), 1000, 1.0, 0.1)
    >>> bool((x >= 0.9).all() and (x <= 1.1).all())
    True
    """
    n = _check_n(n)
    m, delta = check_m_delta(m, delta)
    return jax.random.uniform(key, (n,), dtype=jnp.float64, minval=m - delta, maxval=m + delta)


def alternating(n: int, m1: float, m2: float) -> jax.Array:
    """Alternating masses m1, m2, m1, … (particle 1 has m1).

    The paper (Sec. III C) notes that this symmetry does not let the bulk thermalize.

    Args:
      n: number of particles N >= 2.
      m1: mass of the odd particles 1, 3, … (> 0).
      m2: mass of the even particles 2, 4, … (> 0).

    Returns:
      float64 array of shape (N,).

    Raises:
      ValueError: for N < 2 (or not an integer), or m1 or m2 not a finite number > 0.

    >>> from meanfield_jax import masses
    >>> masses.alternating(5, 1.0, 2.0).tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0]
    """
    n = _check_n(n)
    for name, value in (("m1", m1), ("m2", m2)):
        if not np.isfinite(float(value)) or float(value) <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {plain(value)}")
    return jnp.where(jnp.arange(n) % 2 == 0, float(m1), float(m2)).astype(jnp.float64)


def realization_key(seed: int, n: int, realization) -> jax.Array:
    """The key of realization ``realization`` of chains of ``n`` particles drawn with ``seed``.

    ``fold_in(fold_in(key(seed), n), realization)``: independent of how many realizations an
    ensemble has and of how they are chunked or spread over devices and processes.
    ``realization`` may be a traced integer (this function works under ``jax.vmap``).

    Args:
      seed: integer seed >= 0.
      n: number of particles N >= 2 (chains of another N get independent keys).
      realization: realization index r >= 0 (int or traced integer).

    Returns:
      a typed ``jax.random`` key.

    Raises:
      ValueError: for a negative or non-integer ``seed``, or N < 2.

    >>> import jax
    >>> from meanfield_jax import masses
    >>> a = masses.uniform(masses.realization_key(0, 4, 2), 4)
    >>> b = masses.uniform_ensemble(0, 4, 3)[2]     # row 2 of an ensemble: the same masses
    >>> bool((a == b).all())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {plain(seed)}")
    n = _check_n(n)
    base = jax.random.fold_in(jax.random.key(int(seed)), n)
    return jax.random.fold_in(base, realization)


def uniform_ensemble(seed: int, n: int, realizations, m: float = 1.0,
                     delta: float = 0.1) -> jax.Array:
    """Random-mass configurations of an ensemble, shape (R, N), row r from ``(seed, n, r)``.

    Args:
      seed: integer seed >= 0.
      n: number of particles N >= 2.
      realizations: number R of realizations (rows 0..R−1), or an array of realization
        indices (rows in that order).
      m, delta: as in :func:`uniform`.

    Returns:
      float64 array of shape (R, N).

    Raises:
      ValueError: for a bad ``seed``, N, m or δ (as in :func:`uniform`), or a negative
        realization index.

    >>> from meanfield_jax import masses
    >>> a = masses.uniform_ensemble(7, 10, 4)
    >>> b = masses.uniform_ensemble(7, 10, [3])
    >>> bool((a[3] == b[0]).all())
    True
    """
    n = _check_n(n)
    m, delta = check_m_delta(m, delta)
    if np.ndim(realizations) == 0:
        idx = np.arange(int(realizations))
    else:
        idx = np.asarray(realizations, dtype=np.int64)
    if idx.size and idx.min() < 0:
        raise ValueError("realization indices must be >= 0")
    base = realization_key(seed, n, 0)  # validates seed, n
    del base
    keys = jax.vmap(lambda r: realization_key(seed, n, r))(jnp.asarray(idx, dtype=jnp.uint32))
    return jax.vmap(lambda k: uniform(k, n, m, delta))(keys).reshape(idx.size, n)


def from_kind(kind: str, n: int, *, m: float = 1.0, delta: float = 0.1, seed: int = 0,
              realization: int = 0) -> jax.Array:
    """Masses of one chain by name: ``"identical"``, ``"graded"``, ``"random"``, ``"alternating"``.

    ``"alternating"`` uses m1 = m − δ, m2 = m + δ (mean m, amplitude δ like the other kinds);
    ``"random"`` uses :func:`uniform` with ``realization_key(seed, n, realization)``; the other
    kinds ignore ``seed`` and ``realization``.

    Args:
      kind: one of :data:`KINDS`.
      n: number of particles N >= 2.
      m: mean mass m > 0.
      delta: amplitude δ, 0 <= δ < m.
      seed: seed of the random masses (``"random"`` only).
      realization: realization index r (``"random"`` only).

    Returns:
      float64 array of shape (N,).

    Raises:
      ValueError: for an unknown kind or invalid parameters.

    >>> from meanfield_jax import masses
    >>> masses.from_kind("alternating", 4, m=1.0, delta=0.5).tolist()
    [0.5, 1.5, 0.5, 1.5]
    >>> masses.from_kind("graded", 3).tolist()
    [0.9, 1.0, 1.1]
    """
    if kind == "identical":
        return identical(n, m)
    if kind == "graded":
        return graded(n, m, delta)
    if kind == "random":
        return uniform(realization_key(seed, n, realization), n, m, delta)
    if kind == "alternating":
        check_m_delta(m, delta)
        return alternating(n, m - delta, m + delta)
    raise ValueError(f"mass kind must be one of {KINDS}, got {kind!r}")
