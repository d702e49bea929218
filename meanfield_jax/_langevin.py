"""Langevin ensemble simulator: BAOAB splitting, ``lax.scan`` over steps, ``vmap`` over trajectories.

Equations of motion (paper, Eqs. 2–5; k_B = 1)::

    m_n q̈_n = F_n − δ_{n1}(γ q̇_1 − η_L) − δ_{nN}(γ q̇_N − η_R),
    ⟨η_{L/R}(t) η_{L/R}(t')⟩ = 2 γ T_{L/R} δ(t − t'),

with F = −k0 q + (k/Ñ)(Σ_j q_j − N q) for :class:`~meanfield_jax.MeanFieldChain` (Eq. 5,
O(N) per step) or F = −K q for :class:`~meanfield_jax.HarmonicNetwork` (O(N²) per step), and
−k' q on particles 1 and N (wall springs, Sec. IV).

Integrator (BAOAB, Leimkuhler & Matthews 2013), one step of size h::

    B: v += (h/2) F(q)/m      A: q += (h/2) v
    O: v_b ← c_b v_b + sqrt((1 − c_b²) T_b/m_b) ξ,  c_b = exp(−γ h/m_b)   (bath particles only)
    A: q += (h/2) v           B: v += (h/2) F(q)/m

The O step is the exact Ornstein–Uhlenbeck flow of friction plus noise, so γ imposes no
step-size limit; the Verlet part is stable for h ω_max < 2. Heat is tallied exactly in the O
step: the kinetic-energy change ½ m_b (v_b'² − v_b²) of a bath particle during the O step *is*
the energy that bath exchanges with the system in that step (stochastic energetics); the flux
is its time average. Temperatures T_n = m_n ⟨v_n²⟩ (Eq. 31, left side) use the full-step
velocities. All observables are accumulated in the ``scan`` carry; nothing is stored per step.

Time-step error (checked in ``tests/test_langevin.py`` against the exact stationary
covariance of the discrete linear map, and by ``scripts/langevin_identical_masses.py``):
for harmonic forces BAOAB samples the *equilibrium* configurational distribution exactly;
out of equilibrium, and for the full-step kinetic temperatures and the O-step fluxes, the
stationary bias is O(h²) (relative bias ≈ 0.1–1 (h ω_max)², e.g. 3e-3 for T_n and 7e-4 for J at
h = 0.1, k = γ = m = 1, Ñ = N − 1). The discrete stationary state still has
J_left = J_right to rounding (in all cases checked). Velocities taken *between* the two
half-kicks have an O(h) bias at the bath particles and are not used. Richardson
extrapolation (4 X(h/2) − X(h))/3 removes the leading term.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import sys
import time
import warnings
from typing import Any, NamedTuple

from . import _config

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._buckets import pad_particles, step_bucket_size, trim_particles
from ._io import load_state, save_state
from ._model import MeanFieldChain, check_single_system, wall_springs
from .nonlinear import (FPUTSystem, RotorSystem, couplings, fput_terms, mean_field_force,
                        mean_field_sums, rotor_terms)

__all__ = [
    "LangevinResult",
    "LangevinState",
    "simulate",
    "relaxation_time",
    "check_time_step",
]

_INTEGRATOR = "BAOAB"


# ----------------------------------------------------------------------------------------------
# State and parameters
# ----------------------------------------------------------------------------------------------


class LangevinState(NamedTuple):
    """The carry of the step loop, for all trajectories (leading axis: trajectory).

    Attributes:
      q, v: (n_traj, B) displacements and velocities at a full step. B is the padded size
        of the chain's step bucket (``_buckets.step_bucket_size``; N for networks): the
        particles [1 … N−1, padding, N], the padding inert (1/m = 0, no bath: it stays at
        q = v = 0 and adds nothing to Σ_j q_j), so one compiled step serves every N of the
        bucket. Checkpoints and results hold the N real particles.
      accel: (n_traj, B) F(q)/m at q (cached: one force evaluation per step).
      key: (n_traj, 2) uint32 raw PRNG keys, one independent stream per trajectory (split
        once per chunk; the chunk's normals are drawn in one vectorised call).
      sum_v2: (n_traj, B) Σ v² over the production steps so far.
      heat_left, heat_right: (n_traj,) Σ of energy delivered by the left bath into the
        system and by the system into the right bath over the production steps.
      step: () int64, steps completed (burn-in included).
      sum_q2, sum_e: (n_traj, B) Σ q² (rotors: Σ cos θ) and Σ of the local potential
        energy over the production steps, when profiles are kept; (n_traj, 0) otherwise.
      sum_m, sum_m2: (n_traj,) Σ |m| and Σ |m|² of the rotors' magnetisation
        m = (1/N) Σ_n e^{iθ_n} (zeros for other systems).
      sums: (n_traj, K) the reductions of q a mean-field force needs (lean step, see
        :class:`_Model`); ``accel`` is then (n_traj, 0): F(q)/m is recomputed from q and
        these sums (elementwise) instead of being streamed through memory. (n_traj, 0)
        otherwise.
    """

    q: Any
    v: Any
    accel: Any
    key: Any
    sum_v2: Any
    heat_left: Any
    heat_right: Any
    step: Any
    sum_q2: Any
    sum_e: Any
    sum_m: Any
    sum_m2: Any
    sums: Any


class _Params(NamedTuple):
    """Per-step constants, all arrays (passed as jit arguments: new values don't recompile)."""

    inv_m: Any  # (N,)
    diag: Any  # (N,) mean field: k0 + N k/Ñ + k' δ_ends; network: unused (zeros)
    coupling: Any  # () mean field: k/Ñ;  network: K_w (N, N)
    c: Any  # (N,) O-step velocity factor: exp(−γ h/m) at the ends, 1 elsewhere
    sigma_left: Any  # (N,) O-step noise amplitude sqrt((1 − c²) T_L/m_1) at n = 1, 0 elsewhere
    sigma_right: Any  # (N,) the same for T_R at n = N
    half_m_left: Any  # () m_1 / 2
    half_m_right: Any  # () m_N / 2
    half_dt: Any  # () h/2
    burn_in: Any  # () int64
    cp: Any  # nonlinear.Couplings of the (padded) system: the nonlinear forces and profiles
    beta: Any  # () FPUT β, or the rotors' field h
    lam: Any  # () FPUT λ
    mask: Any  # (B,) 1 for the real particles, 0 for padding
    n_real: Any  # () N


class _Model(NamedTuple):
    """The static choices of the step program: the force (``"chain"``: Eq. 5, ``"dense"``:
    K_w q, ``"fput"``, ``"rotors"``), the couplings' structure (``nonlinear.STRUCTURES``),
    whether the per-site profiles ⟨q²⟩ and ⟨e⟩ are accumulated, and whether the system is
    rotors (magnetisation; ⟨cos θ⟩ instead of ⟨q²⟩).

    ``lean`` (mean-field forces without profiles): the carry holds the force's reductions
    (Σq for Eq. 5; the power sums of FPUT; Σcos θ, Σsin θ) instead of F(q)/m, which is
    recomputed elementwise at the start of the next step from the same q and sums (bit
    for bit the value the standard step stores): one (n_traj, B) stream less per step.
    """

    force: str
    structure: str
    profiles: bool
    rotors: bool

    @property
    def lean(self) -> bool:
        return (not self.profiles) and (self.force == "chain" or (
            self.force in ("fput", "rotors") and self.structure == "mean_field"))


def _harmonic(system):
    """The harmonic system underneath (a nonlinear system wraps one)."""
    return system.system if isinstance(system, (FPUTSystem, RotorSystem)) else system


def _field(system) -> float:
    return float(np.asarray(system.field)) if isinstance(system, RotorSystem) else 0.0


def _dense_stiffness(system) -> np.ndarray:
    """K_w = K + k'(e_1 e_1ᵀ + e_N e_Nᵀ) (rotors: + h I, the stiffness of small angles), as a
    NumPy array (setup only)."""
    field = _field(system)
    system = _harmonic(system)
    kmat = np.array(system.stiffness_matrix(), dtype=np.float64)
    kmat[np.diag_indices(system.n)] += np.asarray(wall_springs(system)) + field
    return kmat


def _omega_max(system) -> tuple[float, bool]:
    """Largest normal-mode frequency of K_w (exact for N <= 2048, else a Gershgorin bound).

    Nonlinear systems: that of the harmonic part (FPUT) or of small angles (rotors); the
    quartic terms stiffen the chain with the amplitude, which this check cannot see."""
    field = _field(system)
    m = np.asarray(system.masses, dtype=np.float64)
    n = m.size
    if n <= 2048:
        kmat = _dense_stiffness(system)
        s = 1.0 / np.sqrt(m)
        ev = np.linalg.eigvalsh(s[:, None] * kmat * s[None, :])
        return float(np.sqrt(max(ev[-1], 0.0))), True
    inner = _harmonic(system)
    if isinstance(inner, MeanFieldChain):
        k, k0, nt = (float(np.asarray(x)) for x in (inner.k, inner.k0, inner.n_tilde))
        rows = (k0 + n * k / nt + np.asarray(wall_springs(inner)) + (n - 1) * k / nt
                + field)  # |diag| + Σ|offdiag|
    else:
        kmat = _dense_stiffness(system)
        rows = np.abs(kmat).sum(axis=1)
    return float(np.sqrt(np.max(rows / m))), False


def check_time_step(system, dt: float, *, stacklevel: int = 2) -> None:
    """Raise ``ValueError`` if BAOAB with step ``dt`` is unstable for ``system``:
    dt·ω_max >= 2 with ω_max the largest normal-mode frequency of K_w (exact for N <= 2048;
    above, a Gershgorin bound, which only warns). Nonlinear systems: that of their harmonic
    part (small angles for rotors). O(N³) for N <= 2048, else O(N) (chains) or O(N²)."""
    omega_max, exact = _omega_max(system)
    if dt * omega_max >= 2.0:
        msg = (f"dt = {dt} is unstable for this system: dt * omega_max = {dt * omega_max:.4g} "
               f"must be < 2 (omega_max = {omega_max:.4g})")
        if exact:
            raise ValueError(msg)
        warnings.warn(msg + " [Gershgorin bound: may be pessimistic]", stacklevel=stacklevel)


def _step_size(system) -> int:
    """The padded size B of the step program: the chain's step bucket; a network's N (its
    step is O(N²): padding would cost up to 40% more per step and networks are not
    bucketed elsewhere)."""
    return (step_bucket_size(system.n) if isinstance(_harmonic(system), MeanFieldChain)
            else system.n)


def _model(system, profiles: bool) -> _Model:
    """The step's static choices for ``system`` (FPUT at β = λ = 0: the harmonic force)."""
    inner = _harmonic(system)
    harmonic = "chain" if isinstance(inner, MeanFieldChain) else "dense"
    if isinstance(system, RotorSystem):
        return _Model("rotors", system.structure, profiles, True)
    if isinstance(system, FPUTSystem):
        force = harmonic if system.is_harmonic else "fput"
        return _Model(force, system.structure, profiles, False)
    structure = "mean_field" if harmonic == "chain" else "dense"
    return _Model(harmonic, structure, profiles, False)


def _make_params(system, dt: float, burn_in: int, size: int, model: _Model) -> _Params:
    """The step constants for ``size`` >= N particles (padding inert: 1/m = 0, c = 1, no
    noise; see :class:`LangevinState`)."""
    wrapper, system = system, _harmonic(system)
    m = np.asarray(system.masses, dtype=np.float64)
    n = m.size
    gamma = float(np.asarray(system.gamma))
    t_bath = np.zeros(n)
    t_bath[0] = float(np.asarray(system.t_left))
    t_bath[-1] = float(np.asarray(system.t_right))
    is_bath = np.zeros(n, dtype=bool)
    is_bath[[0, -1]] = True
    c = np.where(is_bath, np.exp(-gamma * dt / m), 1.0)
    sigma = np.where(is_bath, np.sqrt(-np.expm1(-2.0 * gamma * dt / m) * t_bath / m), 0.0)
    sigma_left = np.zeros(n)
    sigma_left[0] = sigma[0]
    sigma_right = np.zeros(n)
    sigma_right[-1] = sigma[-1]
    if model.force in ("fput", "rotors"):  # the harmonic constants are unused
        diag, coupling = np.zeros(n), np.asarray(0.0)
    elif isinstance(system, MeanFieldChain):
        k, k0, nt = (float(np.asarray(x)) for x in (system.k, system.k0, system.n_tilde))
        diag = k0 + n * k / nt + np.asarray(wall_springs(system))  # Eq. (5) plus walls
        coupling = np.asarray(k / nt)
    else:
        diag = np.zeros(n)
        coupling = _dense_stiffness(system)
    cp = None
    if model.force in ("fput", "rotors") or model.profiles:
        cp = couplings(system, model.structure)
        cp = cp._replace(onsite=jnp.asarray(pad_particles(np.asarray(cp.onsite), size)))
    beta = lam = 0.0
    if isinstance(wrapper, FPUTSystem):
        beta, lam = float(np.asarray(wrapper.beta)), float(np.asarray(wrapper.lam))
    elif isinstance(wrapper, RotorSystem):
        beta = _field(wrapper)
    p = _Params(
        inv_m=jnp.asarray(pad_particles(1.0 / m, size)),
        diag=jnp.asarray(pad_particles(diag, size)),
        coupling=jnp.asarray(coupling),
        c=jnp.asarray(pad_particles(c, size, 1.0)),
        sigma_left=jnp.asarray(pad_particles(sigma_left, size)),
        sigma_right=jnp.asarray(pad_particles(sigma_right, size)),
        half_m_left=jnp.asarray(0.5 * m[0]),
        half_m_right=jnp.asarray(0.5 * m[-1]),
        half_dt=jnp.asarray(0.5 * dt),
        burn_in=jnp.asarray(burn_in, dtype=jnp.int64),
        cp=cp,
        beta=jnp.asarray(beta),
        lam=jnp.asarray(lam),
        mask=jnp.asarray(pad_particles(np.ones(n), size)),
        n_real=jnp.asarray(float(n)),
    )
    return p


# ----------------------------------------------------------------------------------------------
# The step (one trajectory) and the chunk (scan over steps, vmap over trajectories)
# ----------------------------------------------------------------------------------------------


def _accel(p: _Params, q, model: _Model):
    """(F(q)/m, local potential energies or None) for one trajectory: O(N) mean field
    (Eq. 5), O(N²) dense network, or the nonlinear forces at their structure's cost
    (``nonlinear``). The energies are computed only when ``model.profiles``."""
    if model.force in ("fput", "rotors"):
        terms = fput_terms if model.force == "fput" else rotor_terms
        f, e = terms(p.cp, q, p.beta, p.lam, model.structure, model.profiles,
                     mask=p.mask, n=p.n_real)
        return f * p.inv_m, e
    if model.force == "dense":
        a = -(p.coupling @ q) * p.inv_m
    else:
        a = (p.coupling * jnp.sum(q) - p.diag * q) * p.inv_m  # Eq. (5): −k0 q + (k/Ñ)(Σq − N q)
    e = None
    if model.profiles:  # the harmonic energies: FPUT's at β = λ = 0
        e = fput_terms(p.cp, q, 0.0, 0.0, model.structure, True, mask=p.mask, n=p.n_real)[1]
    return a, e


def _lean_sums(p: _Params, q, previous, model: _Model):
    """The lean step's reductions of q (``previous``: the last ones, for FPUT's shift)."""
    if model.force == "chain":
        return jnp.sum(q)[None]
    shift = (jnp.sum(p.mask * q) / p.n_real if previous is None
             else previous[0] + previous[1] / p.n_real)  # the mean of the last step's q
    return mean_field_sums(q, p.mask, p.n_real, shift, model.rotors)


def _lean_accel(p: _Params, q, sums, model: _Model):
    """F(q)/m from q and its reductions (elementwise)."""
    if model.force == "chain":
        return (p.coupling * sums[0] - p.diag * q) * p.inv_m  # Eq. (5), as in _accel
    return mean_field_force(p.cp, q, sums, p.beta, p.lam, p.mask, p.n_real,
                            model.rotors) * p.inv_m


def _step(p: _Params, model: _Model, q, v, a, xi, weight):
    """One BAOAB step for one trajectory, given the two unit normals ``xi`` of the O step.

    ``a``: F(q)/m, or in the lean step the reductions of q (:class:`_Model`).
    Returns (q, v, a, v², heat_L, heat_R, profiles) with profiles = (q² or cos θ, e, |m|,
    |m|²) weighted (empty where not kept); ``a`` as given.
    """
    sums = None
    if model.lean:
        sums, a = a, _lean_accel(p, q, a, model)
    v = v + p.half_dt * a  # B
    q = q + p.half_dt * v  # A
    v_l_old, v_r_old = v[0], v[-1]
    v = p.c * v + p.sigma_left * xi[0] + p.sigma_right * xi[1]  # O: exact OU step at the ends
    heat_l = p.half_m_left * (v[0] * v[0] - v_l_old * v_l_old)  # left bath → system
    heat_r = p.half_m_right * (v_r_old * v_r_old - v[-1] * v[-1])  # system → right bath
    q = q + p.half_dt * v  # A
    if model.lean:
        sums = _lean_sums(p, q, sums, model)
        a, e = _lean_accel(p, q, sums, model), None
    else:
        a, e = _accel(p, q, model)
    v = v + p.half_dt * a  # B
    if model.lean:
        a = sums
    prof = ()
    if model.profiles:
        prof = (weight * (jnp.cos(q) if model.rotors else q * q), weight * e)
    if model.rotors:
        mx = jnp.sum(p.mask * jnp.cos(q)) / p.n_real
        my = jnp.sum(p.mask * jnp.sin(q)) / p.n_real
        m2 = mx * mx + my * my
        prof = prof + (weight * jnp.sqrt(m2), weight * m2)
    return q, v, a, weight * (v * v), weight * heat_l, weight * heat_r, prof


def initial_state(p: _Params, model: _Model, q0, v0, keys) -> LangevinState:
    """The carry at step 0 for (n_traj, B) positions and velocities and one key each."""
    q0 = jnp.asarray(q0)
    n_traj = q0.shape[0]
    if model.lean:
        sums0 = jax.vmap(lambda q: _lean_sums(p, q, None, model))(q0)
        accel0 = jnp.zeros((n_traj, 0))
    else:
        accel0 = jax.vmap(lambda q: _accel(p, q, model)[0])(q0)
        sums0 = jnp.zeros((n_traj, 0))
    profile0 = jnp.zeros_like(q0) if model.profiles else jnp.zeros((n_traj, 0))
    return LangevinState(
        q=q0, v=jnp.asarray(v0), accel=accel0, key=keys, sum_v2=jnp.zeros_like(q0),
        heat_left=jnp.zeros(n_traj), heat_right=jnp.zeros(n_traj),
        step=jnp.asarray(0, dtype=jnp.int64), sum_q2=profile0, sum_e=profile0,
        sum_m=jnp.zeros(n_traj), sum_m2=jnp.zeros(n_traj), sums=sums0)


def _run_chunk_impl(p: _Params, state: LangevinState, stop, *, length: int, model: _Model,
                    unroll: int):
    """``length`` scan iterations; iterations with ``state.step >= stop`` leave the state alone.

    The trip count is static (one compilation per system shape and chunk size, whatever
    ``n_steps``); the final partial chunk skips its surplus iterations with ``lax.cond``.
    """
    step_batch = jax.vmap(_step, in_axes=(None, None, 0, 0, 0, 0, None))
    # The noise of the whole chunk is drawn up front, one vectorised draw per trajectory
    # stream (per-step key splitting inside the scan cost ~80% of a step at small N).
    # Each trajectory's key is split once per chunk: (next key, this chunk's key).
    split = jax.vmap(jax.random.split)(state.key)
    next_key, chunk_key = split[:, 0], split[:, 1]
    noise = jax.vmap(lambda k: jax.random.normal(k, (length, 2), dtype=jnp.float64))(chunk_key)
    noise = jnp.swapaxes(noise, 0, 1)  # (length, n_traj, 2)

    def advance(s: LangevinState, xi) -> LangevinState:
        # accumulate only after burn-in (weight 0/1: one multiply, no branch)
        weight = (s.step >= p.burn_in).astype(s.q.dtype)
        q, v, a, v2, hl, hr, prof = step_batch(p, model, s.q, s.v,
                                               s.sums if model.lean else s.accel, xi, weight)
        sums = [s.sum_q2, s.sum_e, s.sum_m, s.sum_m2]
        if model.profiles:
            sums[0], sums[1] = sums[0] + prof[0], sums[1] + prof[1]
        if model.rotors:
            sums[2], sums[3] = sums[2] + prof[-2], sums[3] + prof[-1]
        accel, lean_sums = (s.accel, a) if model.lean else (a, s.sums)
        return LangevinState(q, v, accel, s.key, s.sum_v2 + v2, s.heat_left + hl,
                             s.heat_right + hr, s.step + 1, *sums, lean_sums)

    def body(s: LangevinState, xi):
        return lax.cond(s.step < stop, advance, lambda s, _: s, s, xi), None

    state, _ = lax.scan(body, state, noise, length=length, unroll=unroll)
    return state._replace(key=next_key)


_STATIC = ("length", "model", "unroll")
_run_chunk_donating = _config.jit(_run_chunk_impl, static_argnames=_STATIC,
                                  donate_argnames=("state",))
_run_chunk_plain = _config.jit(_run_chunk_impl, static_argnames=_STATIC)


def _run_chunk(p, state, stop, **kw):
    # buffer donation halves device memory on GPU/TPU; the CPU backend does not support it
    fn = _run_chunk_plain if jax.default_backend() == "cpu" else _run_chunk_donating
    return fn(p, state, jnp.asarray(stop, dtype=jnp.int64), **kw)


def relaxation_time(system) -> float:
    """Slowest relaxation time 1/min Re(−λ) over the modes that couple to the baths.

    λ runs over the eigenvalues of the drift matrix of (y, v), y = Uᵀq the coordinates along
    range(K_w) (a momentum-conserving zero mode's position is dropped: forces don't depend on
    it). Modes with Re λ = 0 to rounding (identical masses: the N − 3 bulk modes of Sec. III B)
    never relax and are excluded; they keep their initial energy. Use it to size ``burn_in``:
    averages from a non-stationary start carry a bias ~ exp(−burn_in·dt/τ).
    Nearly identical masses relax very slowly (δ = 0.1, N = 16, k = 0.1: τ ~ 10⁵–10⁶ graded,
    ~10⁷–10⁸ random), far beyond any practical burn-in.
    Cost O(N³) (dense eigenvalues of a 2N × 2N matrix): meant for N up to a few hundred.
    A nonlinear system (``nonlinear``) gets the value of its harmonic part (rotors: of small
    angles): an estimate only; nonlinear studies should check it against the observed
    relaxation (e.g. J against the burn-in).

    Args:
      system: a MeanFieldChain, HarmonicNetwork or nonlinear system (one system).

    Returns:
      τ, the slowest relaxation time of the coupled modes, as a Python float.

    Raises:
      ValueError, TypeError: for a batch or a non-system, naming ``system``.

    >>> import meanfield_jax as mf
    >>> round(relaxation_time(mf.MeanFieldChain([1.0, 1.0], k=1.0, gamma=1.0)), 6)
    2.0
    """
    check_single_system(_harmonic(system), "relaxation_time")
    m = np.asarray(system.masses, dtype=np.float64)
    n = m.size
    w, u = np.linalg.eigh(_dense_stiffness(system))
    keep = w > 1e-12 * max(float(np.max(np.abs(w))), 1e-300)
    lam, u = w[keep], u[:, keep]
    r = lam.size
    gamma = float(np.asarray(system.gamma))
    drift = np.zeros((r + n, r + n))
    drift[:r, r:] = u.T
    drift[r:, :r] = -(u * lam[None, :]) / m[:, None]
    g = np.zeros(n)
    g[[0, -1]] = gamma
    drift[r:, r:] = -np.diag(g / m)
    rates = -np.linalg.eigvals(drift).real
    damped = rates[rates > 1e-10 * gamma / float(np.min(m))]
    return float(1.0 / np.min(damped))


# ----------------------------------------------------------------------------------------------
# Initial conditions
# ----------------------------------------------------------------------------------------------


def _thermal_sample(system, key, n_traj: int, temperature: float):
    """Gibbs sample of H at ``temperature``: v ~ N(0, T/m), q ~ N(0, T K_w⁺) (zero mode at 0)."""
    m = np.asarray(system.masses, dtype=np.float64)
    kmat = _dense_stiffness(system)
    w, u = np.linalg.eigh(kmat)
    pos = w > 1e-12 * max(float(np.max(np.abs(w))), 1e-300)
    scale = np.where(pos, 1.0 / np.sqrt(np.where(pos, w, 1.0)), 0.0)  # zero mode: not confined
    kq, kv = jax.random.split(key)
    zq = np.asarray(jax.random.normal(kq, (n_traj, m.size), dtype=jnp.float64))
    zv = np.asarray(jax.random.normal(kv, (n_traj, m.size), dtype=jnp.float64))
    q = math.sqrt(temperature) * (zq * scale[None, :]) @ u.T
    v = zv * np.sqrt(temperature / m)[None, :]
    return q, v


def _initial_qv(system, initial, key, n_traj: int, t_initial):
    n = system.n
    if isinstance(initial, str):
        if initial == "rest":
            return np.zeros((n_traj, n)), np.zeros((n_traj, n))
        if initial == "thermal":
            if t_initial is None:
                t_initial = 0.5 * (float(np.asarray(system.t_left)) + float(np.asarray(system.t_right)))
            if not (np.isfinite(t_initial) and t_initial >= 0):
                raise ValueError(f"t_initial must be finite and >= 0, got {t_initial!r}")
            return _thermal_sample(system, key, n_traj, float(t_initial))
        raise ValueError(f"initial must be 'rest', 'thermal' or a (q, v) pair of arrays, got {initial!r}")
    try:
        q0, v0 = initial
        q0 = np.asarray(q0, dtype=np.float64)
        v0 = np.asarray(v0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"initial must be 'rest', 'thermal' or a (q, v) pair of arrays: {exc}") from None
    out = []
    for name, x in (("q", q0), ("v", v0)):
        if x.shape not in ((n,), (n_traj, n)):
            raise ValueError(f"initial: {name} must have shape ({n},) or ({n_traj}, {n}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"initial: {name} must be finite")
        out.append(np.broadcast_to(x, (n_traj, n)).copy())
    return out[0], out[1]


# ----------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LangevinResult:
    """Stationary observables of a Langevin ensemble run, with standard errors.

    Attributes:
      flux_left: energy per unit time delivered by the left bath into the system (Eq. 15,
        first form), time average after burn-in, mean over trajectories.
      flux_right: energy per unit time delivered by the system into the right bath.
      temperatures: (N,) T_n = m_n ⟨v_n²⟩ (k_B = 1).
      flux_left_stderr, flux_right_stderr, temperatures_stderr: standard errors of the mean
        over the independent trajectories (sample std with ddof = 1 over √n_trajectories).
      masses, gamma, t_left, t_right, k_prime: the bath/system parameters of the run;
        ``system_params`` holds the rest (k, k0, n_tilde for a chain).
      system_kind: "MeanFieldChain" or "HarmonicNetwork".
      dt, n_steps, burn_in, n_trajectories, initial: run settings (``initial`` as text).
      integrator: "BAOAB".
      wall_time: seconds spent stepping (excludes setup); 0 when loaded from a checkpoint
        of a finished run.
      nonlinearity: "" (harmonic), "fput" or "rotors"; ``nonlinear_params`` holds β, λ or h
        and the couplings' structure.
      positions_sq, positions_sq_stderr: (N,) ⟨q_n²⟩ (rotors: ⟨cos θ_n⟩), or None when the
        profiles were not kept (``simulate(..., profiles=False)``).
      energies, energies_stderr: (N,) the energy profile ⟨e_n⟩ = ½ m_n⟨v_n²⟩ + ⟨local
        potential⟩ (each pair's potential shared half-and-half), or None.
      magnetisation, magnetisation_stderr: rotors: ⟨|m|⟩, m = (1/N) Σ e^{iθ_n}; else None.
      magnetisation_sq, magnetisation_sq_stderr: rotors: ⟨|m|²⟩ (N⟨|m|²⟩ → 1/(1 − k/(2T))
        for the HMF above T_c); else None.
      final_positions, final_velocities: (n_trajectories, N) q and v after the last step
        (continue a run with ``initial=(r.final_positions, r.final_velocities)`` and a new
        key; not part of the netCDF file).
    """

    flux_left: float
    flux_right: float
    temperatures: np.ndarray
    flux_left_stderr: float
    flux_right_stderr: float
    temperatures_stderr: np.ndarray
    masses: np.ndarray
    gamma: float
    t_left: float
    t_right: float
    k_prime: float
    system_kind: str
    system_params: dict
    dt: float
    n_steps: int
    burn_in: int
    n_trajectories: int
    initial: str
    integrator: str = _INTEGRATOR
    wall_time: float = 0.0
    nonlinearity: str = ""
    nonlinear_params: dict = dataclasses.field(default_factory=dict)
    positions_sq: np.ndarray | None = None
    positions_sq_stderr: np.ndarray | None = None
    energies: np.ndarray | None = None
    energies_stderr: np.ndarray | None = None
    magnetisation: float | None = None
    magnetisation_stderr: float | None = None
    magnetisation_sq: float | None = None
    magnetisation_sq_stderr: float | None = None
    final_positions: np.ndarray | None = dataclasses.field(default=None, repr=False)
    final_velocities: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.masses.size)

    def to_xarray(self):
        """The result as an ``xarray.Dataset`` (dimension ``particle``; settings in attrs)."""
        from ._dataset import langevin_dataset

        return langevin_dataset(self)

    def to_netcdf(self, path, engine: str | None = None) -> None:
        """Write :meth:`to_xarray` to a netCDF-4 file (``engine``: xarray's choice by default,
        e.g. "netcdf4" or "h5netcdf" — the latter needs h5py)."""
        self.to_xarray().to_netcdf(path, engine=engine)


# ----------------------------------------------------------------------------------------------
# Checkpoints (atomic write; exact resume)
# ----------------------------------------------------------------------------------------------


def _fingerprint(system, dt, n_steps, burn_in, n_traj, chunk_size, unroll, initial_desc, key_data) -> str:
    h = hashlib.sha256()
    h.update(type(system).__name__.encode())
    for leaf in jax.tree_util.tree_leaves(system):
        h.update(np.ascontiguousarray(np.asarray(leaf, dtype=np.float64)).tobytes())
    h.update(repr((float(dt), int(n_steps), int(burn_in), int(n_traj), int(chunk_size), int(unroll),
                   initial_desc)).encode())
    h.update(np.asarray(key_data).tobytes())
    return h.hexdigest()


_FINGERPRINTED = ("system, dt, n_steps, burn_in, n_trajectories, chunk_size, initial or key")


_PER_PARTICLE = ("q", "v", "accel", "sum_v2", "sum_q2", "sum_e")


def _resized(state: LangevinState, size: int) -> LangevinState:
    """The state with its per-particle fields padded (size > N) or trimmed (size = N) to
    ``size`` particles (host arrays; O(n_traj · size))."""
    def resize(x):
        x = np.asarray(x)
        if x.shape[-1] == 0:  # a profile that is not kept
            return x
        return (pad_particles(x, size) if size >= x.shape[-1]
                else np.asarray(trim_particles(x, size)))

    return state._replace(**{f: jnp.asarray(resize(getattr(state, f))) for f in _PER_PARTICLE})


def _save_checkpoint(path, state: LangevinState, n: int, fingerprint: str) -> None:
    """Save the N real particles (a checkpoint does not depend on the bucket ladder)."""
    save_state(path, _resized(state, n)._asdict(), fingerprint)


def _load_checkpoint(path, size: int, fingerprint: str) -> LangevinState:
    arrays = load_state(path, fingerprint, LangevinState._fields, _FINGERPRINTED)
    return _resized(LangevinState(*(jnp.asarray(arrays[f]) for f in LangevinState._fields)),
                    size)


# ----------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------


def _key_data(key):
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    key = np.asarray(key)
    if key.dtype != np.uint32 or key.shape != (2,):
        raise ValueError("key must be a jax.random.PRNGKey / jax.random.key (threefry), "
                         f"got dtype {key.dtype} shape {key.shape}")
    return key


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def simulate(system, key, n_trajectories: int, dt: float, n_steps: int, burn_in: int,
             initial="rest", *, t_initial: float | None = None, chunk_size: int = 1000,
             checkpoint=None, checkpoint_interval: float = 60.0, progress: bool | None = None,
             unroll: int = 4, log=None, profiles: bool | None = None) -> LangevinResult:
    """Simulate an ensemble of independent Langevin trajectories and return stationary averages.

    Integrates Eqs. (2)–(5) (plus wall springs k') with BAOAB (module docstring) for
    ``n_trajectories`` independent trajectories (``vmap``; one PRNG stream each), ``n_steps``
    steps of size ``dt`` (``lax.scan`` in chunks of ``chunk_size`` steps, observables in the
    carry). Averages use steps ``burn_in + 1 … n_steps``: the heat flux of Eq. (15) as the
    exact O-step energy exchange per unit time, and T_n = m_n ⟨v_n²⟩ (Eq. 31).

    Nonlinear systems (:mod:`meanfield_jax.nonlinear`: FPUT-β with quartic pinning, XY
    rotors) run on the same engine with their forces; the result adds the per-site
    profiles ⟨q_n²⟩ (rotors ⟨cos θ_n⟩), the energy profile and, for rotors, the
    magnetisation. An FPUT system with β = λ = 0 runs the harmonic force: its J and T_n are
    bit-identical to those of the harmonic system for the same key and settings.

    Cost: O(N) per particle-step for a :class:`MeanFieldChain`, O(N²) for a
    :class:`HarmonicNetwork`; nonlinear: O(N) mean field and nearest neighbour, O(N log N)
    power law (Toeplitz), O(N²) other networks; memory O(n_trajectories · N). Bias O(dt²)
    (module docstring; the nonlinear forces keep BAOAB's order: use :func:`richardson`).
    Identical masses: N − 3 modes never couple to the baths (Sec. III B), so the result
    depends on ``initial`` ("rest" reproduces the paper's particular solution).

    Args:
      system: a :class:`MeanFieldChain` or :class:`HarmonicNetwork` (one system, not a batch),
        or a nonlinear system from ``nonlinear.fput`` / ``nonlinear.rotors``.
      key: ``jax.random.PRNGKey(seed)`` or ``jax.random.key(seed)``.
      n_trajectories: number of independent trajectories, >= 2 (standard errors need two).
      dt: time step h > 0, with h ω_max < 2 (Verlet stability; checked).
      n_steps: total steps >= 1, burn-in included.
      burn_in: steps discarded before averaging, 0 <= burn_in < n_steps.
      initial: "rest" (q = v = 0), "thermal" (Gibbs state of H at ``t_initial``, default
        (T_L + T_R)/2; a zero mode's position is set to 0), or a pair (q, v) of arrays of
        shape (N,) or (n_trajectories, N).
      t_initial: temperature of the "thermal" initial state.
      chunk_size: steps per compiled ``scan`` call (progress and checkpoint granularity). It
        is a static trip count: runs of any length with the same system shape and chunk size
        share one compilation.
      checkpoint: path of a checkpoint file. If it exists and matches this run's parameters
        the run resumes from it (bit-identical to an uninterrupted run); otherwise it is
        written atomically (temporary file + ``os.replace``) after a chunk once
        ``checkpoint_interval`` seconds have passed since the last write, and at the end.
      checkpoint_interval: minimum seconds between checkpoint writes (0: after every chunk).
      progress: show a tqdm bar; default: only when stderr is a terminal.
      unroll: ``lax.scan`` unroll factor (speed only; part of the checkpoint fingerprint;
        the Performance page of the docs compares factors).
      log: callable for one-line messages (default: print to stderr). Resuming from a
        checkpoint says so, and a checkpoint of a *finished* run says that its stored result
        is returned without stepping (it is the result a fresh run would give, bit for bit).
      profiles: accumulate ⟨q_n²⟩ (rotors ⟨cos θ_n⟩) and the energy profile (one more
        force-sized evaluation per step for harmonic systems). Default: True for nonlinear
        systems, False for harmonic ones (their exact solvers give these).

    Returns:
      :class:`LangevinResult`.

    Raises:
      ValueError: naming the parameter, for dt <= 0 or unstable, n_steps < 1, burn_in < 0 or
        >= n_steps, n_trajectories < 2, a bad ``initial``, ``chunk_size`` < 1, or a checkpoint
        written by a different run.

    >>> import jax, meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0, 1.1, 0.9, 1.0], k=1.0, t_left=1.0, t_right=0.0)
    >>> res = simulate(chain, jax.random.PRNGKey(0), 4, dt=0.1, n_steps=200, burn_in=100)
    >>> res.temperatures.shape
    (4,)
    """
    if not isinstance(system, (FPUTSystem, RotorSystem)):
        check_single_system(system, "simulate")
    else:
        check_single_system(system.system, "simulate")
    if profiles is None:
        profiles = isinstance(system, (FPUTSystem, RotorSystem))
    if not isinstance(profiles, (bool, np.bool_)):
        raise ValueError(f"profiles must be True or False, got {profiles!r}")
    model = _model(system, bool(profiles))
    n_traj = _check_int("n_trajectories", n_trajectories, 2)
    n_steps = _check_int("n_steps", n_steps, 1)
    burn_in = _check_int("burn_in", burn_in, 0)
    if burn_in >= n_steps:
        raise ValueError(f"burn_in must be < n_steps = {n_steps}, got {burn_in}")
    try:
        dt = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a positive number, got {dt!r}") from None
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0, got {dt!r}")
    unroll = _check_int("unroll", unroll, 1)
    chunk_size = _check_int("chunk_size", chunk_size, 1)
    check_time_step(system, dt, stacklevel=3)
    key_data = _key_data(key)
    if isinstance(initial, str):
        initial_desc = initial if initial != "thermal" else f"thermal(T={t_initial!r})"
    else:
        try:
            blob = b"".join(np.ascontiguousarray(np.asarray(x, dtype=np.float64)).tobytes()
                            for x in initial)
        except (TypeError, ValueError):
            blob = b""  # _initial_qv raises the informative error
        initial_desc = "state:" + hashlib.sha256(blob).hexdigest()[:16]

    size = _step_size(system)
    params = _make_params(system, dt, burn_in, size, model)
    k_init, k_traj = jax.random.split(jnp.asarray(key_data))
    q0, v0 = (pad_particles(x, size)
              for x in _initial_qv(system, initial, k_init, n_traj, t_initial))
    fp = _fingerprint(system, dt, n_steps, burn_in, n_traj, chunk_size, unroll,
                      initial_desc if not model.profiles else initial_desc + "+profiles",
                      key_data)

    state = None
    if checkpoint is not None and os.path.exists(os.fspath(checkpoint)):
        state = _load_checkpoint(checkpoint, size, fp)
        log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        step = int(state.step)
        if step >= n_steps:
            log(f"checkpoint {os.fspath(checkpoint)} holds this run finished ({n_steps} steps): "
                "returning its stored result, no steps computed")
        else:
            log(f"resuming from checkpoint {os.fspath(checkpoint)} at step {step} of {n_steps}")
    if state is None:
        state = initial_state(params, model, q0, v0, jax.random.split(k_traj, n_traj))

    done = int(state.step)
    stepped = done < n_steps  # False: a finished run restored from its checkpoint
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_steps, initial=done, unit="step", desc="langevin", disable=False)
    t0 = time.perf_counter()
    last_save = t0
    try:
        while done < n_steps:
            stop = min(done + chunk_size, n_steps)
            state = _run_chunk(params, state, stop, length=chunk_size, model=model,
                               unroll=min(unroll, chunk_size))
            if bar is not None or checkpoint is not None:
                jax.block_until_ready(state)
            if checkpoint is not None and (stop == n_steps or
                                           time.perf_counter() - last_save >= checkpoint_interval):
                _save_checkpoint(checkpoint, state, system.n, fp)
                last_save = time.perf_counter()
            if bar is not None:
                bar.update(stop - done)
            done = stop
        jax.block_until_ready(state)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0 if stepped else 0.0
    state = _resized(state, system.n)
    return _summarise(system, model, state, dt, n_steps, burn_in, n_traj, initial_desc, wall)


def _mean_stderr(x: np.ndarray):
    return x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])


def _summarise(system, model, state, dt, n_steps, burn_in, n_traj, initial_desc,
               wall) -> LangevinResult:
    wrapper, system = system, _harmonic(system)
    n_prod = n_steps - burn_in
    m = np.asarray(system.masses, dtype=np.float64)
    t_traj = np.asarray(state.sum_v2) * m[None, :] / n_prod  # per-trajectory time averages
    jl_traj = np.asarray(state.heat_left) / (n_prod * dt)
    jr_traj = np.asarray(state.heat_right) / (n_prod * dt)
    t_mean, t_err = _mean_stderr(t_traj)
    jl, jl_err = _mean_stderr(jl_traj)
    jr, jr_err = _mean_stderr(jr_traj)
    if isinstance(system, MeanFieldChain):
        sp = {"k": float(np.asarray(system.k)), "k0": float(np.asarray(system.k0)),
              "n_tilde": float(np.asarray(system.n_tilde))}
    else:
        sp = {}
    extra = {}
    if isinstance(wrapper, FPUTSystem):
        extra["nonlinearity"] = "fput"
        extra["nonlinear_params"] = {"beta": float(np.asarray(wrapper.beta)),
                                     "lam": float(np.asarray(wrapper.lam)),
                                     "structure": wrapper.structure}
    elif isinstance(wrapper, RotorSystem):
        extra["nonlinearity"] = "rotors"
        extra["nonlinear_params"] = {"field": float(np.asarray(wrapper.field)),
                                     "structure": wrapper.structure}
    if model.profiles:
        extra["positions_sq"], extra["positions_sq_stderr"] = _mean_stderr(
            np.asarray(state.sum_q2) / n_prod)
        e_traj = 0.5 * t_traj + np.asarray(state.sum_e) / n_prod
        extra["energies"], extra["energies_stderr"] = _mean_stderr(e_traj)
    if model.rotors:
        for name, field in (("magnetisation", state.sum_m), ("magnetisation_sq", state.sum_m2)):
            mean, err = _mean_stderr(np.asarray(field) / n_prod)
            extra[name], extra[name + "_stderr"] = float(mean), float(err)
    return LangevinResult(
        flux_left=float(jl), flux_right=float(jr), temperatures=t_mean,
        flux_left_stderr=float(jl_err), flux_right_stderr=float(jr_err), temperatures_stderr=t_err,
        masses=m, gamma=float(np.asarray(system.gamma)), t_left=float(np.asarray(system.t_left)),
        t_right=float(np.asarray(system.t_right)), k_prime=float(np.asarray(system.k_prime)),
        system_kind=type(system).__name__, system_params=sp, dt=dt, n_steps=n_steps,
        burn_in=burn_in, n_trajectories=n_traj, initial=initial_desc, wall_time=wall,
        final_positions=np.asarray(state.q), final_velocities=np.asarray(state.v), **extra)
