"""Systems: the chain of Eq. (1) and general networks as pytrees, their checks and matrices.

Both classes are immutable and registered as JAX pytrees whose leaves are all arrays, so a
batch of systems (same N, stacked along a leading axis) is the same class and goes through
``jax.vmap``. The constructors build ONE system: 1-d masses, 0-d parameters (shapes and dtypes
are static and always checked; values, on concrete inputs only). Batches are made by
:func:`stack_systems` (or ``batch_chains``), which like JAX's own unflattening
(inside ``jit``/``vmap``) bypass ``__init__``; the public per-system functions reject a batch
passed without ``jax.vmap`` (:func:`check_single_system`).

Conventions (paper, Sec. II): displacement q_n, mass m_n, Langevin baths with friction
``gamma`` and temperatures ``t_left``/``t_right`` on particles 1 and N (k_B = 1), optional
springs ``k_prime`` tying particles 1 and N to fixed walls (c = i ω γ + k', Sec. IV).

The system's own matrices live here, once: the bath-end mask, the wall springs k', the
friction Γ, K_w = K + k'(e₁e₁ᵀ + e_Ne_Nᵀ) and the state matrix of (q, q̇) (used by the
kernels, the Lyapunov solver, the normal modes, the peak seeds and the Langevin setup).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._config import require_x64  # (importing _config turns x64 on before any array)
from ._configfile import plain

__all__ = ["MeanFieldChain", "HarmonicNetwork", "stack_systems"]


def is_concrete(x: Any) -> bool:
    """True unless ``x`` is a tracer (under ``jit``/``vmap``/``grad``): values can be read."""
    return not isinstance(x, jax.core.Tracer)


_BATCH_HINT = ("one system per object: build a batch with stack_systems([...]) (or, for chains, "
               "meanfield_jax.batch_chains) and map over it with jax.vmap")


def _real_array(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 NumPy array; TypeError naming ``name`` for bool, complex or
    non-numeric input (NumPy would silently drop an imaginary part or turn True into 1.0)."""
    raw = np.asarray(value)
    if raw.dtype == bool or not (np.issubdtype(raw.dtype, np.integer)
                                 or np.issubdtype(raw.dtype, np.floating)):
        raise TypeError(f"{name} must be real numbers (int or float), got dtype {raw.dtype}")
    return raw.astype(np.float64)


def _check_real_dtype(name: str, value: Any) -> None:
    """The dtype check of :func:`_real_array` for traced values (dtype is static)."""
    dtype = jnp.result_type(value)
    if dtype == jnp.bool_ or not (jnp.issubdtype(dtype, jnp.integer)
                                  or jnp.issubdtype(dtype, jnp.floating)):
        raise TypeError(f"{name} must be real numbers (int or float), got dtype {dtype}")


def checked_scalar(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False,
            batched: bool = False):
    """Validate a scalar parameter and return it as a float64 array.

    The shape (0-d; (R,) when ``batched``) and dtype are static and always checked; the
    values (finite, sign) on concrete inputs only.
    """
    require_x64(name)
    want = 1 if batched else 0
    if not is_concrete(value):
        _check_real_dtype(name, value)
        if jnp.ndim(value) != want:
            raise ValueError(_shape_message(name, jnp.shape(value), batched, scalar=True))
        return jnp.asarray(value, dtype=jnp.float64)
    arr = _real_array(name, value)
    if arr.ndim != want:
        raise ValueError(_shape_message(name, arr.shape, batched, scalar=True))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {plain(value)}")
    if positive and not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0, got {plain(value)}")
    if nonnegative and not np.all(arr >= 0):
        raise ValueError(f"{name} must be >= 0, got {plain(value)}")
    return jnp.asarray(arr)


def _shape_message(name, shape, batched, *, scalar):
    if batched:
        want = "a length-R vector" if scalar else "an (R, N) array"
        return f"{name} must be {want} for a batch of R systems, got shape {tuple(shape)}"
    want = "a scalar" if scalar else "a 1-d array of length N >= 2"
    return f"{name} must be {want} (one system), got shape {tuple(shape)}; {_BATCH_HINT}"


def checked_masses(value: Any, *, batched: bool = False):
    """Validate masses: shape (N,) (``batched``: (R, N)), N >= 2; concrete values finite, > 0."""
    require_x64("masses")
    want = 2 if batched else 1
    if not is_concrete(value):
        _check_real_dtype("masses", value)
        shape = jnp.shape(value)
    else:
        arr = _real_array("masses", value)
        shape = arr.shape
    if len(shape) != want:
        raise ValueError(_shape_message("masses", shape, batched, scalar=False))
    if shape[-1] < 2:
        raise ValueError(f"masses: need N >= 2 particles, got N = {shape[-1]}")
    if not is_concrete(value):
        return jnp.asarray(value, dtype=jnp.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("masses must be finite (found NaN or inf)")
    if not np.all(arr > 0):
        raise ValueError(f"masses must be > 0 (smallest is {plain(arr.min())})")
    return jnp.asarray(arr)


def parse_n_tilde(n_tilde: Any, n):
    """Ñ from ``"kac"`` (Ñ = N − 1, case-insensitive) or a number; other strings raise.

    ``n`` may be an int (a float is returned) or an array (``analytic``: N − 1 elementwise).
    """
    if isinstance(n_tilde, str):
        if n_tilde.lower() != "kac":
            raise ValueError(f"n_tilde must be 'kac' or a positive number, got {plain(n_tilde)}")
        return float(n - 1) if isinstance(n, (int, np.integer)) else n - 1.0
    return n_tilde


class _System:
    """Shared pytree plumbing: every field is an array leaf."""

    _fields: tuple[str, ...] = ()

    def tree_flatten(self):
        return tuple(getattr(self, f) for f in self._fields), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        for f, c in zip(cls._fields, children):
            object.__setattr__(obj, f, c)
        return obj

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace(...)")

    def _set(self, **kw):
        for f, v in kw.items():
            object.__setattr__(self, f, v)

    def replace(self, **changes):
        """A copy with some parameters changed (validated like the constructor)."""
        kw = {f: getattr(self, f) for f in self._init_fields}
        kw.update(changes)
        return type(self)(**kw)

    @property
    def n(self) -> int:
        """Number of particles N (static: the last axis of ``masses``)."""
        return self.masses.shape[-1]

    @property
    def delta_t(self):
        """ΔT = T_L − T_R."""
        return self.t_left - self.t_right

    def __repr__(self):
        parts = []
        for f in self._fields:
            v = getattr(self, f)
            try:
                a = np.asarray(v)
                s = repr(a.item()) if a.ndim == 0 else f"array(shape={a.shape})"
            except Exception:  # tracers
                s = type(v).__name__
            parts.append(f"{f}={s}")
        return f"{type(self).__name__}({', '.join(parts)})"


@jax.tree_util.register_pytree_node_class
class MeanFieldChain(_System):
    r"""All-to-all harmonic chain of Eq. (1) between two Langevin baths (Eqs. 2–5).

    H = Σ p_n²/2m_n + (k0/2) Σ q_n² + (k/2Ñ) Σ_n Σ_{j≠n} ½ (q_n − q_j)²  (Eq. 1),
    baths (γ, T_L) on particle 1 and (γ, T_R) on particle N (Eqs. 2–4).

    Args:
      masses: length-N array of masses m_n > 0, N >= 2.
      k: interparticle stiffness k >= 0.
      k0: pinning stiffness k0 >= 0 (k0 = 0 conserves momentum: a zero mode).
      n_tilde: ``"kac"`` for the Kac factor Ñ = N − 1, or a positive number (1.0 = none).
      gamma: bath friction γ > 0.
      t_left, t_right: bath temperatures T_L, T_R >= 0 (k_B = 1).
      k_prime: stiffness k' >= 0 of springs tying particles 1 and N to fixed walls.

    Raises:
      ValueError: naming the parameter, for masses that are not a 1-d array, a parameter
        that is not a scalar (a batch: use :func:`stack_systems` and ``jax.vmap``),
        non-positive or non-finite masses, N < 2, γ <= 0, negative or non-finite k, k0, k',
        T, or a ``n_tilde`` that is neither ``"kac"`` nor positive.
      TypeError: naming the parameter, for bool, complex or non-numeric values.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0, 1.0, 1.0], k=0.1, k0=0.02)
    >>> chain.n
    3
    """

    _fields = ("masses", "k", "k0", "n_tilde", "gamma", "t_left", "t_right", "k_prime")
    _init_fields = _fields

    def __init__(self, masses, k=1.0, k0=0.0, n_tilde="kac", gamma=1.0, t_left=1.0,
                 t_right=0.0, k_prime=0.0):
        self._set(**_chain_leaves(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime,
                                  batched=False))

    @property
    def kappa_bar(self):
        """κ̄ = N k / Ñ: the diagonal of Z minus its off-diagonal, a_n − b at k0 = 0, m = 0."""
        return self.n * self.k / self.n_tilde

    @property
    def b(self):
        """b = −k/Ñ, the off-diagonal element of Z (Eq. 9)."""
        return -self.k / self.n_tilde

    def stiffness_matrix(self):
        """The N×N stiffness matrix K of Eq. (1): K = (k0 + N k/Ñ) I − (k/Ñ) 1 1ᵀ.

        The wall springs k' are not part of Eq. (1); :meth:`to_network` carries them.
        """
        n = self.n
        eye = jnp.eye(n)
        diag = (self.k0 + self.kappa_bar)[..., None, None] * eye
        return diag + self.b[..., None, None] * jnp.ones((n, n))

    def to_network(self) -> "HarmonicNetwork":
        """The same system as a :class:`HarmonicNetwork` (dense K), for cross-checks."""
        return HarmonicNetwork(self.masses, self.stiffness_matrix(), gamma=self.gamma,
                               t_left=self.t_left, t_right=self.t_right, k_prime=self.k_prime)


@jax.tree_util.register_pytree_node_class
class HarmonicNetwork(_System):
    """Any harmonic network: M q̈ = −K q − Γ q̇ + η, baths on particles 1 and N.

    Args:
      masses: length-N array of masses > 0, N >= 2.
      stiffness: symmetric positive semi-definite N×N matrix K.
      gamma, t_left, t_right, k_prime: as in :class:`MeanFieldChain`.

    Raises:
      ValueError: as :class:`MeanFieldChain`, and for a K that is not N×N, non-symmetric,
        non-finite or indefinite.
      TypeError: as :class:`MeanFieldChain` (also for K).

    The heat-transport functions also look at K's graph (K_ij ≠ 0): particles 1 and N in
    separate components give J = 0 exactly; a component reaching neither is refused.

    >>> import meanfield_jax as mf
    >>> K = [[1.0, -1.0], [-1.0, 1.0]]  # two particles, one spring k = 1
    >>> net = mf.HarmonicNetwork([1.0, 1.0], K, gamma=1.0, t_left=1.0, t_right=0.0)
    >>> net.stiffness.shape, float(net.t_left)
    ((2, 2), 1.0)
    """

    _fields = ("masses", "stiffness", "gamma", "t_left", "t_right", "k_prime")
    _init_fields = _fields

    def __init__(self, masses, stiffness, gamma=1.0, t_left=1.0, t_right=0.0, k_prime=0.0):
        masses = checked_masses(masses)
        n = masses.shape[-1]
        if is_concrete(stiffness):
            kmat = _real_array("stiffness", stiffness)
            if kmat.shape != (n, n):
                raise ValueError(f"stiffness must be an N×N matrix with N = {n}, got shape {kmat.shape}")
            if not np.all(np.isfinite(kmat)):
                raise ValueError("stiffness must be finite (found NaN or inf)")
            scale = max(float(np.max(np.abs(kmat))), 1e-300)
            if not np.allclose(kmat, np.swapaxes(kmat, -1, -2), rtol=0, atol=1e-12 * scale):
                raise ValueError("stiffness must be a symmetric matrix")
            eig_min = float(np.min(np.linalg.eigvalsh(kmat)))
            if eig_min < -1e-10 * scale:
                raise ValueError(f"stiffness must be positive semi-definite (smallest eigenvalue {eig_min:.3g})")
            stiffness = jnp.asarray(kmat)
        else:
            _check_real_dtype("stiffness", stiffness)
            if jnp.shape(stiffness) != (n, n):
                raise ValueError(f"stiffness must be an N×N matrix with N = {n}, "
                                 f"got shape {jnp.shape(stiffness)}")
            stiffness = jnp.asarray(stiffness, dtype=jnp.float64)
        self._set(
            masses=masses,
            stiffness=stiffness,
            gamma=checked_scalar("gamma", gamma, positive=True),
            t_left=checked_scalar("t_left", t_left, nonnegative=True),
            t_right=checked_scalar("t_right", t_right, nonnegative=True),
            k_prime=checked_scalar("k_prime", k_prime, nonnegative=True),
        )

    def stiffness_matrix(self):
        """K (without the wall springs k')."""
        return self.stiffness


def stack_systems(systems):
    """Stack systems of the same class and N into one batched system for ``jax.vmap``.

    The batch is the same class with a leading axis R on every leaf. It bypasses the
    constructor (no re-validation) and is meant for ``jax.vmap`` (or the ensemble
    functions): the public per-system functions reject it when passed directly.

    Args:
      systems: a non-empty sequence of MeanFieldChain (or of HarmonicNetwork), all with
        the same N.

    Returns:
      one system of the same class whose leaves have a leading axis R = len(systems).

    Raises:
      TypeError: if an element is not a MeanFieldChain or HarmonicNetwork.
      ValueError: for an empty list, mixed classes or sizes, or an element that is itself
        a batch.

    >>> import meanfield_jax as mf
    >>> batch = mf.stack_systems([mf.MeanFieldChain([1.0, 2.0]), mf.MeanFieldChain([2.0, 1.0])])
    >>> batch.masses.shape
    (2, 2)
    """
    systems = list(systems)
    if not systems:
        raise ValueError("systems: need at least one system to stack")
    for i, s in enumerate(systems):
        if isinstance(s, _System) and np.ndim(s.masses) >= 2:
            raise ValueError(f"systems[{i}] is already a batch (masses of shape "
                             f"{np.shape(s.masses)}); stack_systems stacks single systems")
        check_single_system(s, "stack_systems")
    kinds = {type(s) for s in systems}
    if len(kinds) != 1:
        raise ValueError("systems must all be of one class")
    sizes = {s.n for s in systems}
    if len(sizes) != 1:
        raise ValueError(f"systems must all have the same N, got {sorted(sizes)}")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *systems)


def _chain_leaves(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime, *, batched):
    """Validated leaves of a MeanFieldChain (``batched``: masses (R, N), parameters (R,))."""
    masses = checked_masses(masses, batched=batched)
    n_tilde = parse_n_tilde(n_tilde, masses.shape[-1])
    if batched and isinstance(n_tilde, float):
        n_tilde = np.full(masses.shape[0], n_tilde)
    return dict(
        masses=masses,
        k=checked_scalar("k", k, nonnegative=True, batched=batched),
        k0=checked_scalar("k0", k0, nonnegative=True, batched=batched),
        n_tilde=checked_scalar("n_tilde", n_tilde, positive=True, batched=batched),
        gamma=checked_scalar("gamma", gamma, positive=True, batched=batched),
        t_left=checked_scalar("t_left", t_left, nonnegative=True, batched=batched),
        t_right=checked_scalar("t_right", t_right, nonnegative=True, batched=batched),
        k_prime=checked_scalar("k_prime", k_prime, nonnegative=True, batched=batched),
    )


def chain_batch(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime) -> MeanFieldChain:
    """A batch of R chains from (R, N) masses and length-R parameters, validated like the
    constructor (element by element); ``n_tilde`` may also be ``"kac"``. For ``batch_chains``."""
    leaves = _chain_leaves(masses, k, k0, n_tilde, gamma, t_left, t_right, k_prime,
                           batched=True)
    return MeanFieldChain.tree_unflatten(None, [leaves[f] for f in MeanFieldChain._fields])


def check_single_system(system, what: str) -> None:
    """Raise unless ``system`` is ONE MeanFieldChain or HarmonicNetwork (not a batch).

    Checks leaf shapes only (static, so it also runs under ``jit``): masses (N,) with
    N >= 2, stiffness (N, N), every other leaf 0-d. Under ``jax.vmap`` the leaves are
    tracers with the per-system shape, so a stacked batch passes there and only there.

    Raises:
      TypeError: for another object type.
      ValueError: for a batch (naming ``jax.vmap``) or malformed leaves.
      RuntimeError: if JAX's float64 mode is off (``_config.require_x64``).
    """
    require_x64(what)
    if not isinstance(system, (MeanFieldChain, HarmonicNetwork)):
        raise TypeError(f"system must be a MeanFieldChain or HarmonicNetwork, "
                        f"got {type(system).__name__} ({what})"
                        + getattr(type(system), "exact_hint", ""))  # nonlinear: names simulate
    shape = jnp.shape(system.masses)
    if len(shape) > 1:
        raise ValueError(
            f"{what} takes one system, got a batch (masses of shape {shape}); map over a "
            f"stacked batch with jax.vmap({what})(batch) (or use the ensemble_* functions)")
    if len(shape) != 1 or shape[0] < 2:
        raise ValueError(f"{what}: masses must have shape (N,) with N >= 2, got {shape}")
    n = shape[0]
    for f in system._fields:
        if f in ("masses", "stiffness"):
            continue
        if jnp.ndim(getattr(system, f)) != 0:
            raise ValueError(
                f"{what} takes one system, but {f} has shape {jnp.shape(getattr(system, f))} "
                f"(a batch?); map over a stacked batch with jax.vmap({what})(batch)")
    if isinstance(system, HarmonicNetwork) and jnp.shape(system.stiffness) != (n, n):
        raise ValueError(f"{what} takes one system, but stiffness has shape "
                         f"{jnp.shape(system.stiffness)}, not (N, N) = ({n}, {n}) (a batch? "
                         f"map over it with jax.vmap({what})(batch))")


def check_system_batch(systems, what: str) -> int:
    """Raise unless ``systems`` is a batch of R systems (one class, one N); return R.

    Leaf shapes: masses (R, N) with N >= 2, stiffness (R, N, N), every other leaf (R,).

    Raises:
      TypeError: for another object type.
      ValueError: for a single system or malformed leaves, naming the leaf.
      RuntimeError: if JAX's float64 mode is off (``_config.require_x64``).
    """
    require_x64(what)
    if not isinstance(systems, (MeanFieldChain, HarmonicNetwork)):
        raise TypeError(f"systems must be a batch of MeanFieldChain or HarmonicNetwork, "
                        f"got {type(systems).__name__}")
    shape = jnp.shape(systems.masses)
    if len(shape) != 2 or shape[1] < 2:
        hint = " (one system: use the per-system functions)" if len(shape) == 1 else ""
        raise ValueError(f"{what} takes a batch of R systems with masses of shape (R, N), "
                         f"N >= 2, got {shape}{hint}; build it with stack_systems")
    r, n = shape
    for f in systems._fields:
        want = (r, n) if f == "masses" else (r, n, n) if f == "stiffness" else (r,)
        if jnp.shape(getattr(systems, f)) != want:
            raise ValueError(f"{what}: {f} of a batch of {r} systems must have shape {want}, "
                             f"got {jnp.shape(getattr(systems, f))}")
    return r


def bath_components(stiffness):
    """Particle 1's connected component if the two baths are decoupled, else None.

    On the graph of K_ij ≠ 0 (i ≠ j) of a concrete N×N K (:func:`connected_components`).
    Returns None when all particles form one component, else a boolean (N,) mask of
    particle 1's component (particle N's is the rest): each relaxes to its own bath, J = 0.

    Raises:
      ValueError: naming the particles (numbered 1..N) of the components that hold neither
        particle 1 nor N: nothing damps them, so their steady state depends on the initial
        state.
    """
    comps = connected_components(stiffness)
    if len(comps) == 1:
        return None
    n = np.shape(stiffness)[-1]
    orphans = [c for c in comps if c[0] != 0 and c[-1] != n - 1]  # sorted: neither 1 nor N
    if orphans:
        idx = np.sort(np.concatenate(orphans))
        names = ", ".join(str(i + 1) for i in idx[:10]) + (", ..." if idx.size > 10 else "")
        raise ValueError(
            f"stiffness: particle(s) {names} (numbered 1..N) are not connected to either "
            f"bath (particles 1 and N); their steady state is not unique (it depends on the "
            f"initial state). Remove those particles or couple them.")
    left = np.zeros(n, dtype=bool)
    left[comps[0]] = True  # components are ordered by smallest index: comps[0] holds particle 1
    return left


def connected_components(stiffness) -> list[np.ndarray]:
    """Connected components of the graph with an edge i–j wherever K_ij ≠ 0 (i ≠ j).

    Concrete K only (NumPy breadth-first search, O(N²)). Diagonal terms (pinning, walls)
    connect nothing. Components are returned as sorted index arrays, ordered by their
    smallest index.
    """
    adj = np.asarray(stiffness) != 0
    n = adj.shape[0]
    np.fill_diagonal(adj, False)
    label = np.full(n, -1)
    comps = []
    for start in range(n):
        if label[start] >= 0:
            continue
        label[start] = len(comps)
        frontier = np.array([start])
        members = [start]
        while frontier.size:
            nxt = np.flatnonzero(adj[frontier].any(axis=0) & (label < 0))
            label[nxt] = len(comps)
            members.extend(nxt.tolist())
            frontier = nxt
        comps.append(np.sort(np.array(members)))
    return comps


def check_finite_omega(omega, name: str = "omega"):
    """Real frequencies ``omega`` as a float64 array (the check of every function taking ω).

    Raises:
      TypeError: naming ``name``, for complex, bool or non-numeric values (also traced:
        the dtype is static). ω is a real frequency; NumPy would drop an imaginary part
        with only a warning.
      ValueError: naming ``name``, for NaN or inf (concrete values only).
    """
    if is_concrete(omega):
        arr = _real_array(name, omega)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (found NaN or inf)")
    else:
        _check_real_dtype(name, omega)
    return jnp.asarray(omega, dtype=jnp.float64)



# ------------------------------------------------------------ bath ends and the state matrix


def end_mask(n: int):
    """Boolean (N,) mask of the two bath particles, 1 and N."""
    return jnp.zeros(n, dtype=bool).at[0].set(True).at[-1].set(True)


def wall_springs(system):
    """(N,) wall-spring stiffness k' on particles 1 and N, 0 in the bulk (Sec. IV)."""
    return jnp.where(end_mask(system.n), system.k_prime, 0.0)


def bath_friction(system):
    """(N,) diagonal of the friction matrix Γ: γ on particles 1 and N, 0 in the bulk."""
    return jnp.where(end_mask(system.n), system.gamma, 0.0)


def stiffness_with_walls(network: HarmonicNetwork):
    """K_w = K + k'(e₁e₁ᵀ + e_Ne_Nᵀ), the stiffness the particles feel. O(N²)."""
    return network.stiffness + jnp.diag(wall_springs(network))


def state_matrix(network: HarmonicNetwork):
    """A = [[0, I], [−M⁻¹K_w, −M⁻¹Γ]] of ẋ = A x + noise for the state x = (q, q̇) (Eqs. 2–4).

    Its eigenvalues λ are the damped normal modes; ω = −iλ are the poles of G(ω). O(N²).
    """
    n = network.n
    m = network.masses
    k_w = stiffness_with_walls(network)
    gam = bath_friction(network)
    return jnp.block([[jnp.zeros((n, n)), jnp.eye(n)],
                      [-k_w / m[:, None], -jnp.diag(gam / m)]])


def as_network(system) -> HarmonicNetwork:
    """The system as a :class:`HarmonicNetwork` (a chain's dense K), without re-validating:
    works on traced leaves. A network is returned as it is."""
    if not isinstance(system, MeanFieldChain):
        return system
    return HarmonicNetwork.tree_unflatten(
        None, (system.masses, system.stiffness_matrix(), system.gamma, system.t_left,
               system.t_right, system.k_prime))


def conserves_momentum(chain: MeanFieldChain):
    """k0 + k' = 0: nothing pins the chain, ω = 0 is a (zero) mode and T(0) = 1 (Eq. 23)."""
    return (chain.k0 + chain.k_prime) == 0
