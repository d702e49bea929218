"""Nonlinear chains: FPUT-β with quartic pinning and XY rotors on any harmonic system's couplings.

A nonlinear system wraps a harmonic one (:class:`~meanfield_jax.MeanFieldChain` or any
:class:`~meanfield_jax.HarmonicNetwork`, e.g. ``networks.power_law``): the same masses,
couplings k_ij = −K_ij (i ≠ j), baths (γ, T_L on particle 1, T_R on particle N), pinning and
wall springs, with the potential

* FPUT (:func:`fput`)::

      V = Σ_{i<j} k_ij [x²/2 + β x⁴/4] + Σ_i [κ_i q_i²/2 + λ q_i⁴/4],   x = q_i − q_j,

  κ_i = K_ii − Σ_{j≠i} k_ij + k' δ_{i∈{1,N}} the harmonic pinning (k0 for a chain) plus the
  walls. β = λ = 0 is the harmonic model of the paper (Eqs. 1–5).
* XY rotors (:func:`rotors`; the HMF model at α = 0)::

      V = Σ_{i<j} k_ij [1 − cos(θ_i − θ_j)] + Σ_i h [1 − cos θ_i].

Only :func:`meanfield_jax.simulate` takes these systems; the exact solvers (``heat_flux``,
``local_temperatures``, ``transmittance``, ...) are for harmonic systems and raise
``TypeError`` naming ``simulate``.

Forces at the cost the couplings allow (:func:`forces`; each is −∇V of :func:`potential`,
checked against ``jax.grad`` to 1e-12 relative in ``tests/test_nonlinear.py``). The
structure is read once from the concrete couplings at construction (:func:`couplings`):

* ``"mean_field"`` (k_ij = c for all i ≠ j: a MeanFieldChain, or a power law at α = 0):
  O(N) from power sums of x = q − q̄ (mean-subtracted: the sums then do not cancel when the
  chain drifts), Σ_j (x_i − x_j)³ = N x_i³ − 3 x_i² S₁ + 3 x_i S₂ − S₃, S_m = Σ_j x_j^m;
  rotors from C = Σ cos θ_j, S = Σ sin θ_j: Σ_j sin(θ_i − θ_j) = C sin θ_i − S cos θ_i.
* ``"toeplitz"`` (k_ij = w_|i−j|, e.g. a power law): O(N log N). The sums W·x^m (rotors:
  W·cos θ, W·sin θ) are FFT convolutions of the 2N circulant embedding
  [w_0 … w_{N−1}, 0, w_{N−1} … w_1] of W.
* ``"nearest"`` (k_ij = 0 for |i − j| > 1, any bond stiffnesses): O(N) bond forces.
* ``"dense"`` (any other network): O(N²).

Units and conventions as in the paper (k_B = 1); rotors' θ_n take the place of q_n.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401  (x64 first)
from ._model import HarmonicNetwork, MeanFieldChain, check_single_system, wall_springs

__all__ = ["FPUTSystem", "RotorSystem", "fput", "rotors", "couplings", "Couplings",
           "forces", "potential", "local_potential", "STRUCTURES"]

STRUCTURES = ("mean_field", "toeplitz", "nearest", "dense")
"""The coupling structures of the force kernels: O(N), O(N log N), O(N) and O(N²) per step."""

_EXACT_HINT = ("; it is nonlinear and has no exact solution: simulate it with "
               "meanfield_jax.simulate")


def _scalar(name: str, value: Any) -> jax.Array:
    """A finite float >= 0 as a 0-d float64 array; TypeError/ValueError naming ``name``."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(f"{name} must be a concrete number (nonlinear systems are built "
                        "outside jit), got a tracer")
    raw = np.asarray(value)
    if raw.dtype == bool or not (np.issubdtype(raw.dtype, np.integer)
                                 or np.issubdtype(raw.dtype, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if raw.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {raw.shape}")
    x = float(raw)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return jnp.asarray(x, dtype=jnp.float64)


def _check_harmonic(system, what: str) -> None:
    if isinstance(system, (FPUTSystem, RotorSystem)):
        raise TypeError(f"{what}: system is already nonlinear ({type(system).__name__}); "
                        "wrap a MeanFieldChain or HarmonicNetwork")
    if not isinstance(system, (MeanFieldChain, HarmonicNetwork)):
        raise TypeError(f"{what}: system must be a MeanFieldChain or HarmonicNetwork, got "
                        f"{type(system).__name__}")
    check_single_system(system, what)
    if isinstance(system.masses, jax.core.Tracer):
        raise TypeError(f"{what}: the system must be concrete (nonlinear systems are built "
                        "outside jit)")


class Couplings(NamedTuple):
    """The couplings of a system in the form its force kernel uses (arrays; see module doc).

    Attributes:
      onsite: (N,) harmonic on-site stiffness κ_i (pinning plus walls).
      coupling: () the common spring c (``"mean_field"``), else 0.
      bonds: (N − 1,) springs k_{i,i+1} (``"nearest"``), else shape (0,).
      kernel_fft: (N + 1,) complex rfft of the 2N circulant embedding of W
        (``"toeplitz"``), else shape (0,).
      row_sums: (N,) Σ_j k_ij (``"toeplitz"``), else shape (0,).
      springs: (N, N) k_ij with a zero diagonal (``"dense"``), else shape (0, 0).
    """

    onsite: Any
    coupling: Any
    bonds: Any
    kernel_fft: Any
    row_sums: Any
    springs: Any


def _structure_of(springs: np.ndarray) -> str:
    """The cheapest exact structure of a symmetric (N, N) spring matrix with zero diagonal."""
    n = springs.shape[0]
    scale = max(float(np.max(np.abs(springs))), 1e-300)
    tol = 1e-14 * scale
    d = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    w = springs[0]  # w_d = k_{1, 1+d}
    if np.all(np.abs(springs - w[d]) <= tol):
        if n <= 2 or np.all(np.abs(w[1:] - w[1]) <= tol):
            return "mean_field"
        if np.all(np.abs(w[2:]) <= tol):
            return "nearest"
        return "toeplitz"
    if np.all(np.abs(springs[d > 1]) <= tol):
        return "nearest"
    return "dense"


def _springs_onsite(system) -> tuple[np.ndarray, np.ndarray]:
    """(k_ij with zero diagonal, κ_i including the walls) of a harmonic system (NumPy)."""
    kmat = np.array(system.stiffness_matrix(), dtype=np.float64)
    springs = -kmat
    np.fill_diagonal(springs, 0.0)
    onsite = kmat.sum(axis=1) + np.asarray(wall_springs(system))
    if isinstance(system, MeanFieldChain):  # exactly k0 + walls, without the row-sum rounding
        onsite = float(np.asarray(system.k0)) + np.asarray(wall_springs(system))
    return springs, onsite


def couplings(system, structure: str) -> Couplings:
    """The :class:`Couplings` of a harmonic (or wrapped) system for ``structure``. O(N²) setup.

    Args:
      system: a MeanFieldChain, HarmonicNetwork, or a nonlinear system wrapping one.
      structure: one of :data:`STRUCTURES` (``system.structure`` for a nonlinear system,
        which :func:`fput` and :func:`rotors` read from the springs; a structure the springs
        do not have is not detected here and gives wrong forces).

    Returns:
      The :class:`Couplings` arrays that the structure's force kernel reads.

    Raises:
      ValueError: for an unknown ``structure``.

    >>> import meanfield_jax as mf
    >>> cp = mf.nonlinear.couplings(mf.MeanFieldChain([1.0] * 3, k=1.0), "mean_field")
    >>> float(cp.coupling)  # k/Ñ, Ñ = N − 1
    0.5
    """
    inner = system.system if isinstance(system, (FPUTSystem, RotorSystem)) else system
    springs, onsite = _springs_onsite(inner)
    n = springs.shape[0]
    empty = np.zeros(0)
    coupling, bonds, kfft, rows, dense = 0.0, empty, np.zeros(0, complex), empty, np.zeros((0, 0))
    if structure == "mean_field":
        coupling = (float(np.asarray(inner.k / inner.n_tilde)) if isinstance(inner, MeanFieldChain)
                    else float(springs[0, 1]))
    elif structure == "nearest":
        bonds = np.diagonal(springs, 1).copy()
    elif structure == "toeplitz":
        w = springs[0]
        emb = np.concatenate([w, [0.0], w[:0:-1]])  # 2N circulant embedding
        kfft = np.fft.rfft(emb)
        rows = springs.sum(axis=1)
    elif structure == "dense":
        dense = springs
    else:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    return Couplings(jnp.asarray(onsite, dtype=jnp.float64), jnp.asarray(coupling),
                     jnp.asarray(bonds), jnp.asarray(kfft), jnp.asarray(rows),
                     jnp.asarray(dense))


class _Nonlinear:
    """Shared plumbing: immutable pytrees wrapping a harmonic ``system``."""

    _params: tuple[str, ...] = ()
    exact_hint = _EXACT_HINT  # read by _model.check_single_system's TypeError

    def tree_flatten(self):
        return (self.system, *(getattr(self, f) for f in self._params)), self.structure

    @classmethod
    def tree_unflatten(cls, structure, children):
        obj = object.__new__(cls)
        object.__setattr__(obj, "structure", structure)
        object.__setattr__(obj, "system", children[0])
        for f, c in zip(cls._params, children[1:]):
            object.__setattr__(obj, f, c)
        return obj

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable; use .replace(...)")

    # the wrapped system's masses, baths and size
    n = property(lambda self: self.system.n)
    masses = property(lambda self: self.system.masses)
    gamma = property(lambda self: self.system.gamma)
    t_left = property(lambda self: self.system.t_left)
    t_right = property(lambda self: self.system.t_right)
    k_prime = property(lambda self: self.system.k_prime)

    def replace(self, **changes):
        """A copy with parameters changed: this model's own (β, λ or h) or the wrapped
        system's (masses, baths, ...), validated like the constructors."""
        own = {f: changes.pop(f) for f in self._params if f in changes}
        inner = self.system.replace(**changes) if changes else self.system
        kw = {f: getattr(self, f) for f in self._params}
        kw.update(own)
        return type(self)._build(inner, **kw)

    def __repr__(self):
        own = ", ".join(f"{f}={float(np.asarray(getattr(self, f)))!r}" for f in self._params)
        return f"{type(self).__name__}({self.system!r}, {own}, structure={self.structure!r})"


@jax.tree_util.register_pytree_node_class
class FPUTSystem(_Nonlinear):
    """An FPUT-β chain with quartic pinning λ on a harmonic system's couplings (:func:`fput`).

    Attributes:
      system: the wrapped MeanFieldChain or HarmonicNetwork (masses, k_ij, pinning, baths).
      beta: () quartic pair coefficient β >= 0.
      lam: () quartic pinning λ >= 0.
      structure: (static) "mean_field", "toeplitz", "nearest" or "dense" (module doc).
    """

    _params = ("beta", "lam")

    @classmethod
    def _build(cls, system, beta, lam):
        return fput(system, beta=beta, lam=lam)

    @property
    def is_harmonic(self) -> bool:
        """β = λ = 0 (concrete values): the paper's harmonic model."""
        return float(self.beta) == 0.0 and float(self.lam) == 0.0


@jax.tree_util.register_pytree_node_class
class RotorSystem(_Nonlinear):
    """XY rotors (HMF at α = 0) in a field h on a harmonic system's couplings (:func:`rotors`).

    Attributes:
      system: the wrapped MeanFieldChain or HarmonicNetwork (its k0 and k' must be 0).
      field: () on-site field h >= 0.
      structure: (static) as :class:`FPUTSystem`.
    """

    _params = ("field",)

    @classmethod
    def _build(cls, system, field):
        return rotors(system, field=field)


def _structure(system) -> str:
    if isinstance(system, MeanFieldChain):
        return "mean_field"
    springs, _ = _springs_onsite(system)
    return _structure_of(springs)


def fput(system, *, beta, lam=0.0) -> FPUTSystem:
    """The FPUT-β chain with quartic pinning on ``system``'s couplings (module docstring).

    V = Σ_{i<j} k_ij [x²/2 + β x⁴/4] + Σ_i [κ_i q_i²/2 + λ q_i⁴/4]; β = λ = 0 is the harmonic
    system itself (``simulate`` then runs the harmonic engine, bit for bit). Construction
    reads the structure of the couplings (O(N²), concrete values only).

    Args:
      system: a MeanFieldChain or HarmonicNetwork (one system).
      beta: quartic pair coefficient β >= 0.
      lam: quartic pinning λ >= 0.

    Returns:
      An immutable :class:`FPUTSystem` pytree that :func:`meanfield_jax.simulate` takes.

    Raises:
      TypeError: for a system that is not a MeanFieldChain or HarmonicNetwork, or a
        non-numeric ``beta``/``lam``.
      ValueError: naming ``beta`` or ``lam`` for a negative, NaN or infinite value.

    >>> import meanfield_jax as mf
    >>> s = mf.nonlinear.fput(mf.MeanFieldChain([1.0] * 4), beta=1.0)
    >>> s.structure, float(s.beta)
    ('mean_field', 1.0)
    """
    _check_harmonic(system, "fput")
    beta = _scalar("beta", beta)
    lam = _scalar("lam", lam)
    return FPUTSystem.tree_unflatten(_structure(system), (system, beta, lam))


def rotors(system, *, field=0.0) -> RotorSystem:
    """XY rotors V = Σ_{i<j} k_ij [1 − cos(θ_i − θ_j)] + h Σ_i [1 − cos θ_i] on ``system``.

    A MeanFieldChain gives the HMF model (k_ij = k/Ñ; critical temperature T_c = k N/(2Ñ)
    for N → ∞, 1/2 at k = 1 with Ñ = N). The harmonic pinning and walls have no meaning for
    angles and must be 0 (the field h pins instead).

    Args:
      system: a MeanFieldChain or HarmonicNetwork without pinning or walls (one system).
      field: the field h >= 0.

    Returns:
      An immutable :class:`RotorSystem` pytree that :func:`meanfield_jax.simulate` takes.

    Raises:
      TypeError: for a system that is not a MeanFieldChain or HarmonicNetwork, or a
        non-numeric ``field``.
      ValueError: naming ``field`` for a negative or non-finite value, and ``k0`` /
        ``k_prime`` if the system has pinning or walls.

    >>> import meanfield_jax as mf
    >>> mf.nonlinear.rotors(mf.MeanFieldChain([1.0] * 4), field=0.1).structure
    'mean_field'
    """
    _check_harmonic(system, "rotors")
    field = _scalar("field", field)
    springs, onsite = _springs_onsite(system)
    if float(np.asarray(system.k_prime)) != 0.0:
        raise ValueError(f"rotors: k_prime must be 0 (wall springs act on displacements, not "
                         f"angles), got {float(np.asarray(system.k_prime))!r}")
    scale = max(float(np.max(np.abs(springs))), 1e-300)
    if np.max(np.abs(onsite)) > 1e-12 * scale:
        raise ValueError(f"rotors: k0 must be 0 (harmonic pinning of angles; use field=), got "
                         f"on-site stiffness up to {float(np.max(np.abs(onsite))):.3g}")
    return RotorSystem.tree_unflatten(_structure(system), (system, field))


# ----------------------------------------------------------------------------------------------
# Kernels: one trajectory, arrays only (used inside the Langevin step)
# ----------------------------------------------------------------------------------------------


def toeplitz_products(kernel_fft, rows):
    """W·rows[m] for each row of the (M, N) ``rows`` by one batched FFT. O(M N log N)."""
    n = rows.shape[-1]
    padded = jnp.concatenate([rows, jnp.zeros_like(rows)], axis=-1)
    return jnp.fft.irfft(jnp.fft.rfft(padded, axis=-1) * kernel_fft, n=2 * n, axis=-1)[..., :n]


def _pair_sums(cp: Couplings, x, structure: str, top: int, n):
    """[Σ_j k_ij (x_i − x_j)^m for m = 1 … top] (a list of (N,) arrays) in the structure's cost.

    ``n``: the number of real particles (mean field; padding has x = 0)."""
    if structure == "mean_field":
        p = [jnp.sum(x ** m) for m in range(1, top + 1)]  # S_m
        out = []
        for m in range(1, top + 1):  # binomial expansion of Σ_j (x_i − x_j)^m
            acc = n * x ** m
            for r in range(1, m + 1):
                acc = acc + _comb(m, r) * (-1.0) ** r * x ** (m - r) * p[r - 1]
            out.append(cp.coupling * acc)
        return out
    if structure == "toeplitz":
        w = toeplitz_products(cp.kernel_fft, jnp.stack([x ** m for m in range(1, top + 1)]))
        out = []
        for m in range(1, top + 1):
            acc = cp.row_sums * x ** m
            for r in range(1, m + 1):
                acc = acc + _comb(m, r) * (-1.0) ** r * x ** (m - r) * w[r - 1]
            out.append(acc)
        return out
    if structure == "nearest":
        d = x[:-1] - x[1:]
        zero = jnp.zeros(1)
        out = []
        for m in range(1, top + 1):
            g = cp.bonds * d ** m  # bond (i, i+1): (x_i − x_{i+1})^m, and (−1)^m that for i+1
            out.append(jnp.concatenate([g, zero]) + (-1.0) ** m * jnp.concatenate([zero, g]))
        return out
    d = x[:, None] - x[None, :]
    return [jnp.sum(cp.springs * d ** m, axis=1) for m in range(1, top + 1)]


def _comb(m: int, r: int) -> float:
    from math import comb

    return float(comb(m, r))


def _trig_sums(cp: Couplings, theta, structure: str, mask, n):
    """(Σ_j k_ij sin(θ_i − θ_j), Σ_j k_ij [1 − cos(θ_i − θ_j)]) in the structure's cost."""
    c, s = jnp.cos(theta), jnp.sin(theta)
    if structure == "mean_field":
        if mask is not None:  # padding (θ = 0) adds nothing
            sc, ss = jnp.sum(mask * c), jnp.sum(mask * s)
        else:
            sc, ss = jnp.sum(c), jnp.sum(s)
        sin_sum = cp.coupling * (s * sc - c * ss)
        one_minus = cp.coupling * (n - (c * sc + s * ss))
        return sin_sum, one_minus
    if structure == "toeplitz":
        wc, ws = toeplitz_products(cp.kernel_fft, jnp.stack([c, s]))
        return s * wc - c * ws, cp.row_sums - (c * wc + s * ws)
    if structure == "nearest":
        d = theta[:-1] - theta[1:]
        zero = jnp.zeros(1)
        g = cp.bonds * jnp.sin(d)
        e = cp.bonds * (1.0 - jnp.cos(d))
        return (jnp.concatenate([g, zero]) - jnp.concatenate([zero, g]),
                jnp.concatenate([e, zero]) + jnp.concatenate([zero, e]))
    d = theta[:, None] - theta[None, :]
    return jnp.sum(cp.springs * jnp.sin(d), axis=1), jnp.sum(cp.springs * (1 - jnp.cos(d)), axis=1)


def mean_field_sums(q, mask, n, shift, rotors: bool):
    """The per-trajectory reductions a mean-field force needs, in one pass over q.

    FPUT: (s, S₁, S₂, S₃) with S_m = Σ_j x_j^m, x = (q − s)·mask, about the shift
    s = ``shift`` (any shift is exact; one near the mean keeps the sums from cancelling).
    Rotors: (Σ cos θ_j, Σ sin θ_j) over the real particles."""
    if rotors:
        return jnp.stack([jnp.sum(mask * jnp.cos(q)), jnp.sum(mask * jnp.sin(q))])
    x = (q - shift) * mask
    x2 = x * x
    return jnp.stack([shift, jnp.sum(x), jnp.sum(x2), jnp.sum(x2 * x)])


def mean_field_force(cp: Couplings, q, sums, beta, lam, mask, n, rotors: bool):
    """F(q) of a mean-field FPUT chain or rotors from :func:`mean_field_sums` (elementwise,
    O(N)): −c[n x + β(n x³ − 3x² S₁ + 3x S₂ − S₃) − S₁] − κ q − λ q³, or
    −c[sin θ Σcos − cos θ Σsin] − h sin θ (``beta`` is then h)."""
    if rotors:
        sn = jnp.sin(q)
        return -cp.coupling * (sn * sums[0] - jnp.cos(q) * sums[1]) - beta * sn
    x = (q - sums[0]) * mask
    p1, p2, p3 = sums[1], sums[2], sums[3]
    # Σ_j (x_i − x_j) + β Σ_j (x_i − x_j)³ as a cubic in x_i (Horner; per-trajectory
    # coefficients): β n x³ − 3β S₁ x² + (n + 3β S₂) x − (S₁ + β S₃)
    c3, c2 = beta * n, -3.0 * beta * p1
    c1, c0 = n + 3.0 * beta * p2, p1 + beta * p3
    pair = ((c3 * x + c2) * x + c1) * x - c0
    return -cp.coupling * pair - (cp.onsite + lam * q * q) * q


def fput_terms(cp: Couplings, q, beta, lam, structure: str, energy: bool, *, mask=None,
               n=None):
    """(F(q), local potential e(q) or None) of the FPUT chain for one trajectory.

    F_i = −Σ_j k_ij [x + β x³] − κ_i q_i − λ q_i³ (x = q_i − q_j, taken mean-subtracted);
    e_i = ½ Σ_j k_ij [x²/2 + β x⁴/4] + κ_i q_i²/2 + λ q_i⁴/4 (Σ_i e_i = V).
    ``mask`` (1 real, 0 padding) and ``n`` (real N): a mean-field chain padded with inert
    particles (``_buckets``); their outputs are meaningless and trimmed by the caller.
    """
    if mask is None or structure != "mean_field":
        n = q.shape[-1]
        x = q - jnp.mean(q)  # differences are shift-invariant; the sums are not
    else:
        x = (q - jnp.sum(mask * q) / n) * mask
    sums = _pair_sums(cp, x, structure, 4 if energy else 3, n)
    q2 = q * q
    f = -(sums[0] + beta * sums[2]) - cp.onsite * q - lam * q2 * q
    if not energy:
        return f, None
    e = 0.5 * (0.5 * sums[1] + 0.25 * beta * sums[3]) + 0.5 * cp.onsite * q2 + 0.25 * lam * q2 * q2
    return f, e


def rotor_terms(cp: Couplings, theta, field, unused, structure: str, energy: bool, *,
                mask=None, n=None):
    """(F(θ), local potential e(θ) or None) of the rotors for one trajectory.

    F_i = −Σ_j k_ij sin(θ_i − θ_j) − h sin θ_i; e_i = ½ Σ_j k_ij [1 − cos] + h [1 − cos θ_i].
    ``unused`` mirrors :func:`fput_terms`' λ; ``mask``, ``n`` as there.
    """
    if n is None or structure != "mean_field":
        mask, n = None, theta.shape[-1]
    sin_sum, one_minus = _trig_sums(cp, theta, structure, mask, n)
    f = -sin_sum - field * jnp.sin(theta)
    if not energy:
        return f, None
    return f, 0.5 * one_minus + field * (1.0 - jnp.cos(theta))


# ----------------------------------------------------------------------------------------------
# Public: forces and potential of a system
# ----------------------------------------------------------------------------------------------


def _check_nonlinear(system, what):
    if not isinstance(system, (FPUTSystem, RotorSystem)):
        raise TypeError(f"{what}: system must be an FPUTSystem or RotorSystem (from fput or "
                        f"rotors), got {type(system).__name__}")


def forces(system, q):
    """F = −∇V at positions (angles) ``q`` of shape (N,), in the structure's cost (module doc).

    Args:
      system: an :class:`FPUTSystem` or :class:`RotorSystem`.
      q: (N,) positions (rotors: angles).

    Returns:
      (N,) float64 forces, equal to −∇ :func:`potential` to rounding.

    Raises:
      TypeError: if ``system`` is not a nonlinear system.

    >>> import meanfield_jax as mf, numpy as np
    >>> s = mf.nonlinear.fput(mf.MeanFieldChain([1.0, 1.0]), beta=1.0)
    >>> np.asarray(mf.nonlinear.forces(s, np.array([1.0, 0.0]))).tolist()
    [-2.0, 2.0]
    """
    _check_nonlinear(system, "forces")
    cp = couplings(system, system.structure)
    q = jnp.asarray(q, dtype=jnp.float64)
    if isinstance(system, FPUTSystem):
        return fput_terms(cp, q, system.beta, system.lam, system.structure, False)[0]
    return rotor_terms(cp, q, system.field, 0.0, system.structure, False)[0]


def local_potential(system, q):
    """(N,) local potential energies e_i (each pair's energy shared half-and-half; Σ e_i = V).

    Args:
      system: an :class:`FPUTSystem` or :class:`RotorSystem`.
      q: (N,) positions (rotors: angles).

    Returns:
      (N,) float64 energies e_i, in the structure's cost.

    Raises:
      TypeError: if ``system`` is not a nonlinear system.

    >>> import meanfield_jax as mf, numpy as np
    >>> s = mf.nonlinear.fput(mf.MeanFieldChain([1.0, 1.0]), beta=1.0)
    >>> np.asarray(mf.nonlinear.local_potential(s, np.array([1.0, 0.0]))).tolist()
    [0.375, 0.375]
    """
    _check_nonlinear(system, "local_potential")
    cp = couplings(system, system.structure)
    q = jnp.asarray(q, dtype=jnp.float64)
    if isinstance(system, FPUTSystem):
        return fput_terms(cp, q, system.beta, system.lam, system.structure, True)[1]
    return rotor_terms(cp, q, system.field, 0.0, system.structure, True)[1]


def potential(system, q):
    """V(q) by the dense O(N²) double sum (the reference the structured forces are checked
    against; differentiable: ``jax.grad(lambda q: potential(s, q))``).

    Args:
      system: an :class:`FPUTSystem` or :class:`RotorSystem`.
      q: (N,) positions (rotors: angles).

    Returns:
      V as a 0-d float64 array.

    Raises:
      TypeError: if ``system`` is not a nonlinear system.

    >>> import meanfield_jax as mf, numpy as np
    >>> s = mf.nonlinear.fput(mf.MeanFieldChain([1.0, 1.0]), beta=1.0)
    >>> float(mf.nonlinear.potential(s, np.array([1.0, 0.0])))  # k (x²/2 + β x⁴/4), x = 1
    0.75
    """
    _check_nonlinear(system, "potential")
    springs, onsite = _springs_onsite(system.system)
    springs, onsite = jnp.asarray(springs), jnp.asarray(onsite)
    q = jnp.asarray(q)
    d = q[:, None] - q[None, :]
    if isinstance(system, FPUTSystem):
        pair = springs * (0.5 * d ** 2 + 0.25 * system.beta * d ** 4)
        site = 0.5 * onsite * q ** 2 + 0.25 * system.lam * q ** 4
    else:
        pair = springs * (1.0 - jnp.cos(d))
        site = system.field * (1.0 - jnp.cos(q))
    return 0.5 * jnp.sum(pair) + jnp.sum(site)
