"""Public transport functions: Z(ω), G(ω), T(ω) and the heat flux J (Eqs. 7, 11, 16, 17).

Every function takes a system (:class:`MeanFieldChain` or :class:`HarmonicNetwork`) and is
jit-compiled once at this boundary; batches go through ``jax.vmap`` (over frequencies, over
stacked systems, or both). Parameters are traced array leaves, so new values of the same
shape never recompile.

Size buckets (``_buckets``): for a MeanFieldChain, :func:`transmittance`, the residue
:func:`heat_flux` and :func:`local_temperatures` (and their ``_with_error`` forms) pad the
chain with inert particles to the next size of the ladder 16, 64, 258, 1024, 4096, then
×√2, so that a new N compiles nothing when its bucket has been compiled (a compilation
takes 5–25 s on 2 cores; a padded call at most ~0.6 s more than an exact one). Results
equal the unpadded ones to rounding. ``MEANFIELD_JAX_BUCKETS=0`` compiles for every exact
N instead; an integer p >= 2 selects p buckets per octave (less padding, more compilations).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401
from ._green import (
    chain_greens_function,
    chain_transmittance,
    network_transmittance,
    network_z,
)
from ._green import _chain_as_network as chain_as_network
from ._model import (
    HarmonicNetwork,
    MeanFieldChain,
    _check_finite_omega,
    _is_concrete,
    bath_components,
    check_single_system,
)
from ._buckets import buckets_enabled, pad_chain, trim_particles
from ._poles import flux_by_residues, temperatures_by_residues
from ._secular import (
    flux_by_secular,
    network_modes,
    secular_transmittance,
    temperatures_by_secular,
)

__all__ = [
    "dynamical_matrix",
    "greens_function",
    "transmittance",
    "heat_flux",
    "heat_flux_with_error",
    "FluxResult",
    "local_temperatures",
    "local_temperatures_with_error",
    "TemperatureResult",
]




def _as_network(system) -> HarmonicNetwork:
    return chain_as_network(system) if isinstance(system, MeanFieldChain) else system


def _map_omega(kernel, system, omega):
    flat = jnp.ravel(omega)
    out = jax.vmap(kernel, in_axes=(None, 0))(system, flat)
    return out.reshape(jnp.shape(omega) + out.shape[1:])


def _per_frequency(chain_kernel, network_kernel):
    """A jitted ``(system, omega-array[, n]) → stacked outputs`` from one-frequency kernels,
    picking the structured kernel for a MeanFieldChain and the dense one for a
    HarmonicNetwork. ``n``: the true N of a chain padded to a size bucket (``_buckets``);
    only for chain kernels that take it."""

    @jax.jit
    def batched(system, omega, n=None):
        if not isinstance(system, MeanFieldChain):
            return _map_omega(network_kernel, system, omega)
        if n is None:
            return _map_omega(chain_kernel, system, omega)
        return _map_omega(lambda s, w: chain_kernel(s, w, n), system, omega)

    return batched


def _dense_inverse(network, omega):
    z = network_z(network, omega)
    return jnp.linalg.solve(z, jnp.eye(network.n, dtype=z.dtype))


_dynamical_matrix = _per_frequency(lambda s, w: network_z(chain_as_network(s), w), network_z)
_greens_function = _per_frequency(chain_greens_function, _dense_inverse)
_transmittance = _per_frequency(chain_transmittance, network_transmittance)


def dynamical_matrix(system, omega):
    """Z(ω) = K − ω² M + (iωγ + k')(e₁e₁ᵀ + e_Ne_Nᵀ), the matrix of Eq. (7).

    Args:
      system: MeanFieldChain or HarmonicNetwork.
      omega: real frequency, scalar or array of any shape.

    Returns:
      complex array of shape ``omega.shape + (N, N)``. O(N²) per frequency.

    Raises:
      ValueError, TypeError: as :func:`transmittance`.

    >>> import meanfield_jax as mf
    >>> mf.dynamical_matrix(mf.MeanFieldChain([1.0, 1.0], k=1.0), 0.0).real.tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    check_single_system(system, "dynamical_matrix")
    return _dynamical_matrix(system, _check_finite_omega(omega))


def greens_function(system, omega):
    """The Green's operator G(ω) = Z(ω)⁻¹ (Eq. 11).

    Mean-field chain: Sherman–Morrison on Z = diag(A_n) + b 1 1ᵀ (Eqs. 12–14), O(N²) per
    frequency (the size of the output; single elements cost O(N)). Networks: dense LU,
    O(N³). Singular at ω = 0 for a momentum-conserving system (the zero mode).

    Returns:
      complex array of shape ``omega.shape + (N, N)``.

    Raises:
      ValueError, TypeError: as :func:`transmittance`.
    """
    check_single_system(system, "greens_function")
    return _greens_function(system, _check_finite_omega(omega))


@jax.jit
def _transmittance_secular(network, omega):
    """Networks: one eigendecomposition, then O(N) per frequency (``_secular``)."""
    modes = network_modes(network)
    flat = jnp.ravel(omega)
    out = jax.vmap(lambda w: secular_transmittance(modes, network.gamma, w))(flat)
    return out.reshape(jnp.shape(omega))


def transmittance(system, omega, method: str = "auto"):
    """Transmission coefficient T(ω) = 4 γ² ω² |G_1N(ω)|² (Eq. 17).

    Mean-field chain: O(N) per frequency from the Sherman–Morrison form of Eq. (14),
    written as T = 4γ²κ̄²/|Q(ω)|² with Q = A_1 A_N Σ_n (A_n − κ̄)/(ω A_n) (κ̄ = Nk/Ñ), which
    is exact at ω = 0 (finite T(0) of the momentum-conserving chain, Eq. 23) and at the
    bulk resonances (T = 0). Agrees with dense solves to ~1e-12 relative. Networks
    (``method="auto"``): normal-mode secular form, T = 4γ²ω²|S_1N|²/|Δ|² with
    S(ω) = Σ_j b_j b_jᵀ/(λ_j − ω²) over the modes of (K + k'P, M) (``_secular``): one O(N³)
    ``eigh`` per call, then O(N) per frequency; ``method="dense"``: an LU solve per
    frequency, O(N³) each. 0 ≤ T ≤ 1 always.

    Args:
      system: MeanFieldChain or HarmonicNetwork (or a batch of them under ``jax.vmap``).
      omega: real frequency, scalar or array of any shape (T is even in ω).
      method: ``"auto"`` or, for networks, ``"dense"`` (the reference LU path).

    Returns:
      float64 array with the shape of ``omega``.

    Raises:
      ValueError: if ``omega`` holds NaN or inf, or ``system`` is a stacked batch (map over
        it with ``jax.vmap``).
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 10, k=1.0, k0=0.0, n_tilde="kac")
    >>> round(float(mf.transmittance(chain, 0.0)), 12)  # Eq. (23) at ω = 0
    1.0
    """
    check_single_system(system, "transmittance")
    omega = _check_finite_omega(omega)
    if method not in ("auto", "dense"):
        raise ValueError(f"method must be 'auto' or 'dense', got {method!r}")
    if isinstance(system, HarmonicNetwork) and method == "auto":
        return _transmittance_secular(system, omega)
    if isinstance(system, MeanFieldChain) and buckets_enabled():
        padded, n = pad_chain(system)
        return _transmittance(padded, omega, n)
    return _transmittance(system, omega)


# ---------------------------------------------------------------------------- heat flux


class FluxResult(NamedTuple):
    """Heat flux with its accuracy.

    Attributes:
      flux: J of Eq. (16), energy per unit time from the left bath into the chain
        (ΔT = T_L − T_R included).
      error_estimate: estimated absolute error of ``flux`` (for ``"residues"``, a bound
        built from the rounding noise of every pole and term; see docs/method.md).
      converged: True only if every iteration converged, every consistency check passed
        and (``"residues"``) ``error_estimate <= 1e-9·|flux|``; otherwise ``flux`` must not be
        trusted to 9 digits.
    """

    flux: jax.Array
    error_estimate: jax.Array
    converged: jax.Array


def _lyapunov_velocity_covariance(network: HarmonicNetwork):
    """Steady-state velocity covariance from A C + C Aᵀ + D = 0, by eigendecomposition.

    State x = (q, v): A = [[0, I], [−M⁻¹K_w, −M⁻¹Γ]], D = diag(0, 2γ M⁻¹ diag(T) M⁻¹).
    With A = V Λ V⁻¹: C = V X Vᴴ, X_ij = −(V⁻¹ D V⁻ᴴ)_ij / (λ_i + λ̄_j). Pairs with
    λ_i + λ̄_j = 0 (the momentum zero mode, and modes decoupled from the baths, e.g. the
    N − 3 bulk modes of identical masses) are not driven: their entry is set to zero, which
    is the particular solution from rest (paper, Sec. II). O(N³); runs where
    ``jnp.linalg.eig`` runs (CPU). Accurate for moderate N (cond(V) grows with N when
    the masses are nearly degenerate).
    """
    n = network.n
    m = network.masses
    ends = jnp.zeros(n, dtype=bool).at[0].set(True).at[-1].set(True)
    k_w = network.stiffness + jnp.diag(jnp.where(ends, network.k_prime, 0.0))
    gam = jnp.where(ends, network.gamma, 0.0)
    temps = jnp.zeros(n).at[0].set(network.t_left).at[-1].set(network.t_right)
    a = jnp.block([[jnp.zeros((n, n)), jnp.eye(n)],
                   [-k_w / m[:, None], -jnp.diag(gam / m)]])
    lam, v = jnp.linalg.eig(a)
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


@jax.jit
def _flux_lyapunov(system):
    network = _as_network(system)
    cvv = _lyapunov_velocity_covariance(network)
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


@jax.jit
def _flux_residues(system, n=None):
    out = flux_by_residues(system, n)
    return FluxResult(out["flux"], out["error_estimate"], out["converged"])


def _flux_residues_bucketed(system):
    """The residue flux through the program of the system's size bucket (``_buckets``)."""
    if not buckets_enabled():
        return _flux_residues(system)
    return _flux_residues(*pad_chain(system))


_METHODS = ("auto", "residues", "lyapunov")


def _resolve_method(system, method, what):
    """Check ``system`` (one system) and ``method``; return the method that will run:
    residues for chains by default, Lyapunov otherwise."""
    check_single_system(system, what)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if method == "auto":
        method = "residues"
    return method


def _left_component(system):
    """Particle 1's component of a network whose baths are decoupled, else None.

    Concrete :class:`HarmonicNetwork` only (:func:`bath_components`); None for a traced K
    and for a mean-field chain (connected for k > 0; at k = 0 the solvers keep the undriven
    bulk at rest). Each component relaxes to its own bath: J = 0 and T_n = T_L or T_R
    exactly. Raises ValueError for a component touching neither bath.
    """
    if not isinstance(system, HarmonicNetwork) or not _is_concrete(system.stiffness):
        return None
    return bath_components(system.stiffness)


def _raise_unless_converged(result, what, method):
    """On concrete values, raise RuntimeError if any system did not converge."""
    if _is_concrete(result.converged):
        ok = np.asarray(result.converged)
        if not np.all(ok):
            advice = f"inspect {what}_with_error(...)"
            if method == "residues":
                advice += " or compare with method='lyapunov' (moderate N)"
            raise RuntimeError(
                f"{what} ({method}) did not converge for {int(np.sum(~ok))} system(s); {advice}")


@jax.jit
def _flux_secular(network):
    out = flux_by_secular(network)
    return FluxResult(out["flux"], out["error_estimate"], out["converged"])


@jax.jit
def _temperatures_secular(network):
    return TemperatureResult(*temperatures_by_secular(network))


def _flux_with_error(system, method, what):
    method = _resolve_method(system, method, what)
    if method == "residues" and isinstance(system, MeanFieldChain):
        return _flux_residues_bucketed(system), method
    left = _left_component(system)
    if left is not None:  # decoupled baths: no path carries heat
        zero = jnp.zeros((), dtype=jnp.float64)
        return FluxResult(zero, zero, jnp.asarray(True)), method
    if method == "residues":
        return _flux_secular(system), method
    return _flux_lyapunov(system), method


def heat_flux_with_error(system, method: str = "auto") -> FluxResult:
    """Heat flux J (Eq. 16) with an error estimate and a convergence flag.

    Methods:
      ``"residues"`` (MeanFieldChain; the default for it): exact residue sum of Eq. (16)
        over the poles of G_1N, found from the secular equation of the diagonal-plus-rank-one
        Z(ω): one pole per gap between bulk frequencies (dlaed4-style iteration with exact
        pole offsets) plus six collective poles (deflated Aberth). Resonances of any width
        (1e-10 and far below) are included exactly. O(N²) time, O(N) memory per chunk.
        Near-degenerate pairs of collective poles (strong damping or weak coupling with
        equal end masses) enter through a contour integral around the pair. Error estimate:
        rounding bound from the term magnitudes, each collective pole's position error
        (first-order rounding-noise bound) times its term's derivative, the pair contours'
        quadrature and noise bounds, and the symmetry and trace sum-rule violations; it
        bounds the error against 40–50-digit references over γ ∈ [1e-6, 1e6], k, k0, k' over
        8 decades and mass ratios to 1e4 (tests/test_extremes.py). Typical size: 4e-12
        relative at N = 10³, 4e-11 at N = 10⁴ (random masses, δ = 0.1).
        HarmonicNetwork (its default too): the normal-mode secular form (``_secular``):
        one ``eigh`` of (K + k'P, M) (O(N³), CPU or GPU), the poles of G as the zeros of
        the 2×2 secular determinant Δ(ω) = det(I + iωγS(ω)) (Aberth iteration, O(N²) per
        sweep, Newton polish with exact offsets from the nearest mode), J as the residue
        sum Re Σ_p −γω_p S_1N²/(Δ′ tr S), O(N²). Modes without amplitude at particles 1
        and N are deflated. Error estimate: each pole's position error times its term's
        derivative, plus rounding.
      ``"lyapunov"`` (any system): steady-state covariance
        from the Lyapunov equation solved by eigendecomposition, J = γ(T_L − T_1)/m_1.
        O(N³); a reference for moderate N. Error estimate: |J_left − J_right|.

    Networks whose baths sit in separate connected components of the graph K_ij ≠ 0 carry
    no heat: J = 0 exactly (error 0, converged) without solving anything. This check runs on
    concrete inputs (not on a traced K under ``jit``/``vmap``, where the Lyapunov solve runs
    and reports ``converged`` as usual).

    Returns:
      FluxResult(flux, error_estimate, converged).

    Raises:
      ValueError: for an unknown ``method``, a stacked batch
        passed without ``jax.vmap``, or (concrete K) a network with a component coupled to
        neither bath, whose steady state depends on the initial state.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 3, k=0.1, k0=0.0, n_tilde="kac")
    >>> r = mf.heat_flux_with_error(chain)
    >>> round(float(r.flux), 12), bool(r.converged)
    (0.041666666667, True)
    """
    return _flux_with_error(system, method, "heat_flux_with_error")[0]


def heat_flux(system, method: str = "auto"):
    """Heat flux J = (T_L − T_R)/(4π) ∫ T(ω) dω (Eq. 16), exactly.

    See :func:`heat_flux_with_error` for the methods, their cost and the ``ValueError`` /
    ``TypeError`` raised for bad input. Called on concrete values, raises ``RuntimeError``
    when the method reports non-convergence; under ``jit``/``vmap`` use
    :func:`heat_flux_with_error` to get the status.

    >>> import meanfield_jax as mf
    >>> round(float(mf.heat_flux(mf.MeanFieldChain([1.0, 1.0, 1.0], k=0.1))), 12)
    0.041666666667
    """
    result, method = _flux_with_error(system, method, "heat_flux")
    _raise_unless_converged(result, "heat_flux", method)
    return result.flux



# ---------------------------------------------------------------------- local temperatures


class TemperatureResult(NamedTuple):
    """Local temperatures with their accuracy.

    Attributes:
      temperatures: (N,) array of T_n = m_n ⟨q̇_n²⟩ (Eq. 31).
      error_estimate: (N,) estimated absolute errors.
      converged: False if the underlying iteration or a check failed, or (``"residues"``)
        if some error_estimate exceeds 1e-9·max(T_L, T_R), or if unequal bulk masses a few
        ulp apart share one bulk frequency (their difference mode, decoupled to rounding,
        is thermalised in the exact steady state after ~1e30 time units: T_n is not
        resolved; J is unaffected).
    """

    temperatures: jax.Array
    error_estimate: jax.Array
    converged: jax.Array


@jax.jit
def _temperatures_residues(system, n=None):
    return TemperatureResult(*temperatures_by_residues(system, n=n))


def _temperatures_residues_bucketed(system):
    """Residue temperatures through the program of the system's size bucket, trimmed to N."""
    if not buckets_enabled():
        return _temperatures_residues(system)
    temps, err, ok = _temperatures_residues(*pad_chain(system))
    return TemperatureResult(trim_particles(temps, system.n), trim_particles(err, system.n), ok)


@jax.jit
def _temperatures_lyapunov(system):
    network = _as_network(system)
    cvv = _lyapunov_velocity_covariance(network)
    temps = network.masses * jnp.diag(cvv)
    m = network.masses
    j_left = network.gamma / m[0] * (network.t_left - temps[0])
    j_right = network.gamma / m[-1] * (temps[-1] - network.t_right)
    scale = jnp.maximum(network.t_left, network.t_right)
    err = jnp.full(network.n, jnp.abs(j_left - j_right) * m[0] / network.gamma + 1e-12 * scale)
    return TemperatureResult(temps, err, jnp.all(jnp.isfinite(temps)))


def _temperatures_with_error(system, method, what):
    method = _resolve_method(system, method, what)
    if method == "residues" and isinstance(system, MeanFieldChain):
        return _temperatures_residues_bucketed(system), method
    left = _left_component(system)
    if left is not None:  # decoupled baths: each component at its own bath's temperature
        temps = jnp.where(jnp.asarray(left), system.t_left, system.t_right)
        return TemperatureResult(temps, jnp.zeros(system.n), jnp.asarray(True)), method
    if method == "residues":
        return _temperatures_secular(system), method
    return _temperatures_lyapunov(system), method


def local_temperatures_with_error(system, method: str = "auto") -> TemperatureResult:
    """Local temperatures T_n = m_n⟨q̇_n²⟩ (Eq. 31) with error estimates and a status.

    Methods:
      ``"residues"`` (MeanFieldChain; its default): Eq. (31) closed over the same poles as
        the flux (one per gap between bulk frequencies plus six collective ones). For a
        bulk particle ω G_n1 = κ̄ A_N/(α_n Q), so each pole contributes
        m_n c_p [T_L |A_N|² + T_R |A_1|²]_p / α_n(ω_p)² with α_n formed from exact pole
        offsets: exact however narrow the resonances that heat the bulk are (the bulk of a
        disordered chain is heated only through resonances of width 1e-10 and below at
        N = 1000, which frequency grids miss and which make the dense Lyapunov equation
        ill-conditioned). End particles from the exact energy balance
        J = γ(T_L − T_1)/m_1 = γ(T_N − T_R)/m_N. Identical masses give the paper's
        particular solution (decoupled modes carry no energy). O(N²) time.
        HarmonicNetwork (its default too): the same poles as ``heat_flux`` (secular form),
        T_n = 2γ m_n Re i Σ_p ω_p² Σ_b T_b [Res_p G_{:,b}]_n G_{nb}(−ω_p), with the columns
        of G from one product U·W over all poles: O(N³) (a GEMM), like the ``eigh``.
      ``"lyapunov"`` (any system): the steady-state covariance
        by eigendecomposition (see ``heat_flux``), O(N³), for moderate N.

    A network whose baths sit in separate connected components (graph K_ij ≠ 0) is answered
    exactly: every particle at the temperature of the bath in its component (T_L for
    particle 1's, T_R for particle N's), error 0. Checked on concrete inputs only.

    Returns:
      TemperatureResult(temperatures (N,), error_estimate (N,), converged).

    Raises:
      ValueError, TypeError: as :func:`heat_flux_with_error` (bad ``method`` or system, a
        batch without ``jax.vmap``, a component coupled to neither bath).

    >>> import meanfield_jax as mf
    >>> K = [[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 0.5]]  # {1, 2} and {3}: decoupled
    >>> r = mf.local_temperatures_with_error(mf.HarmonicNetwork([1.0] * 3, K, t_left=2.0))
    >>> r.temperatures.tolist(), bool(r.converged)
    ([2.0, 2.0, 0.0], True)
    """
    return _temperatures_with_error(system, method, "local_temperatures_with_error")[0]


def local_temperatures(system, method: str = "auto"):
    """Local temperatures T_n = m_n⟨q̇_n²⟩ of Eq. (31), shape (N,).

    See :func:`local_temperatures_with_error` for methods, cost, accuracy and the
    ``ValueError``/``TypeError`` raised for bad input. Raises ``RuntimeError`` on concrete
    non-converged results (use the ``_with_error`` variant under ``jit``/``vmap``).

    >>> import meanfield_jax as mf
    >>> t = mf.local_temperatures(mf.MeanFieldChain([1.0] * 20, k=1.0, t_left=1.5, t_right=0.5))
    >>> [round(float(x), 6) for x in t[:3]]  # bulk: (T_L + T_R)/(2(N − 2)), the particular solution
    [1.475, 0.055556, 0.055556]
    """
    result, method = _temperatures_with_error(system, method, "local_temperatures")
    _raise_unless_converged(result, "local_temperatures", method)
    return result.temperatures
