"""Public transport API: Z(ω), G(ω), T(ω), the heat flux J and local temperatures T_n.

Equations 7, 11, 16, 17 and 31 of the paper; the exact solvers behind J and T_n live in
``_poles`` (residues, chains) and ``_lyapunov`` (any network); failures follow the package's
one convention (``_failure``: a plain form with ``throw=`` and a ``*_with_error`` form).

Every function takes a system (:class:`MeanFieldChain` or :class:`HarmonicNetwork`) and is
jit-compiled once at this boundary; batches go through ``jax.vmap`` (over frequencies, over
stacked systems, or both). Parameters are traced array leaves, so new values of the same
shape never recompile.

Size buckets (``_buckets``): for a MeanFieldChain, :func:`transmittance`, the residue
:func:`heat_flux` and :func:`local_temperatures` (and their ``_with_error`` forms) pad the
chain with inert particles to the next size of the ladder 16, 64, 258, 1024, 4096, then
×√2, so that a new N compiles nothing when its bucket has been compiled (a compilation
takes ~3–10 s on 2 cores; a padded call at most ~0.6 s more than an exact one). Results
equal the unpadded ones to rounding. ``MEANFIELD_JAX_BUCKETS=0`` compiles for every exact
N instead; an integer p >= 2 selects p buckets per octave (less padding, more compilations).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from . import _config
from ._buckets import buckets_enabled, pad_chain, pad_network, trim_particles
from ._failure import FluxResult, TemperatureResult, raise_if_not_converged
from ._green import (
    chain_greens_function,
    chain_transmittance,
    network_transmittance,
    network_z,
)
from ._landauer import checked_hbar, quantum_flux_with_error, quantum_temperatures_with_error
from ._lyapunov import flux_lyapunov, temperatures_lyapunov
from ._model import (
    HarmonicNetwork,
    MeanFieldChain,
    as_network,
    bath_components,
    check_finite_omega,
    check_single_system,
    is_concrete,
)
from ._poles import flux_by_residues, temperatures_by_residues
from ._poles_fast import flux_by_residues_fast, temperatures_by_residues_fast
from ._secular import network_modes, secular_transmittance
from ._secular_residues import DECOUPLED, flux_by_secular, temperatures_by_secular
from ._transfer import (
    flux_transfer,
    from_network,
    is_tridiagonal,
    temperatures_transfer,
    transmittance_transfer,
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
    "METHODS",
    "resolve_method",
    "auto_uses_fmm",
    "auto_uses_transfer",
    "TRANSFER_FROM",
    "flux_residues",
    "flux_residues_fmm",
    "transmittance_grid",
]


def _map_omega(kernel, system, omega):
    flat = jnp.ravel(omega)
    out = jax.vmap(kernel, in_axes=(None, 0))(system, flat)
    return out.reshape(jnp.shape(omega) + out.shape[1:])


def _per_frequency(chain_kernel, network_kernel):
    """A jitted ``(system, omega-array[, n]) → stacked outputs`` from one-frequency kernels,
    picking the structured kernel for a MeanFieldChain and the dense one for a
    HarmonicNetwork. ``n``: the true N of a chain padded to a size bucket (``_buckets``);
    only for chain kernels that take it."""

    @_config.jit
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


_dynamical_matrix = _per_frequency(lambda s, w: network_z(as_network(s), w), network_z)
_greens_function = _per_frequency(chain_greens_function, _dense_inverse)
# T on an array of frequencies, jitted: ``transmittance_grid(system, omega[, n])``
transmittance_grid = _per_frequency(chain_transmittance, network_transmittance)


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
    return _dynamical_matrix(system, check_finite_omega(omega))


def greens_function(system, omega):
    """The Green's operator G(ω) = Z(ω)⁻¹ (Eq. 11).

    Mean-field chain: Sherman–Morrison on Z = diag(A_n) + b 1 1ᵀ (Eqs. 12–14), O(N²) per
    frequency (the size of the output; single elements cost O(N)). Networks: dense LU,
    O(N³). Singular at ω = 0 for a momentum-conserving system (the zero mode).

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system).
      omega: real frequency, scalar or array of any shape.

    Returns:
      complex array of shape ``omega.shape + (N, N)``.

    Raises:
      ValueError: if ``omega`` holds NaN or inf, or ``system`` is a stacked batch.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import numpy as np
    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0, 2.0, 1.5], k=1.0, k0=0.1)
    >>> G = mf.greens_function(chain, 0.5)
    >>> bool(np.allclose(G @ mf.dynamical_matrix(chain, 0.5), np.eye(3), atol=1e-12))
    True
    """
    check_single_system(system, "greens_function")
    return _greens_function(system, check_finite_omega(omega))


@_config.jit
def transmittance_secular(network, omega, n=None):
    """Networks: one eigendecomposition, then O(N) per frequency (``_secular``); ``n``: the
    true N of a padded network (``_buckets.pad_network``)."""
    modes = network_modes(network, n)
    flat = jnp.ravel(omega)
    out = jax.vmap(lambda w: secular_transmittance(modes, network.gamma, w))(flat)
    return out.reshape(jnp.shape(omega))


def transmittance(system, omega, method: str = "auto"):
    """Transmission coefficient T(ω) = 4 γ² ω² |G_1N(ω)|² (Eq. 17).

    Mean-field chain: O(N) per frequency from the Sherman–Morrison form of Eq. (14),
    written as T = 4γ²κ̄²/|Q(ω)|² with Q = A_1 A_N Σ_n (A_n − κ̄)/(ω A_n) (κ̄ = Nk/Ñ), which
    is exact at ω = 0 (finite T(0) of the momentum-conserving chain, Eq. 23) and at the
    bulk resonances (T = 0). Agrees with dense solves to ~1e-12 relative. Nearest-neighbour
    networks (concrete tridiagonal K, ``method="auto"`` or ``"transfer"``): the ratio
    recurrence of ``_transfer``, O(N) per frequency, no eigh, relatively accurate at every
    ω. Other networks (and any network under ``jit``/``vmap`` with ``"auto"``): normal-mode
    secular form, T = 4γ²ω²|S_1N|²/|Δ|² with
    S(ω) = Σ_j b_j b_jᵀ/(λ_j − ω²) over the modes of (K + k'P, M) (``_secular``): one O(N³)
    ``eigh`` per call, then O(N) per frequency; ``method="dense"``: an LU solve per
    frequency, O(N³) each. 0 ≤ T ≤ 1 always.

    Args:
      system: MeanFieldChain or HarmonicNetwork (or a batch of them under ``jax.vmap``).
      omega: real frequency, scalar or array of any shape (T is even in ω).
      method: ``"auto"`` or, for networks, ``"dense"`` (the reference LU path) or
        ``"transfer"`` (nearest-neighbour networks, tridiagonal K: the O(N)-per-frequency
        ratio recurrence of ``_transfer``, no eigh, relatively accurate at every ω; under
        ``jit``/``vmap`` a traced K is taken as tridiagonal).

    Returns:
      float64 array with the shape of ``omega``.

    Raises:
      ValueError: if ``omega`` holds NaN or inf, ``system`` is a stacked batch (map over
        it with ``jax.vmap``), or ``method="transfer"`` is asked for a system that is not a
        nearest-neighbour network.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 10, k=1.0, k0=0.0, n_tilde="kac")
    >>> round(float(mf.transmittance(chain, 0.0)), 12)  # Eq. (23) at ω = 0
    1.0
    """
    check_single_system(system, "transmittance")
    omega = check_finite_omega(omega)
    if method not in ("auto", "dense", "transfer"):
        raise ValueError(f"method must be 'auto', 'dense' or 'transfer', got {method!r}")
    if method == "transfer":
        _require_network(system, method)
        return transmittance_transfer(from_network(system, method), omega)
    if (isinstance(system, HarmonicNetwork) and method == "auto"
            and is_concrete(system.stiffness) and is_tridiagonal(system.stiffness)):
        return transmittance_transfer(from_network(system), omega)  # O(N) per ω, no eigh
    if isinstance(system, HarmonicNetwork) and method == "auto":
        if buckets_enabled():
            padded, n = pad_network(system)
            return transmittance_secular(padded, omega, n)
        return transmittance_secular(system, omega)
    if isinstance(system, MeanFieldChain) and buckets_enabled():
        padded, n = pad_chain(system)
        return transmittance_grid(padded, omega, n)
    return transmittance_grid(system, omega)


# ---------------------------------------------------------------------------- heat flux


@_config.jit
def flux_residues(system, n=None) -> FluxResult:
    """The residue flux (``_poles``) as a FluxResult, jitted; ``n``: the true N of a chain
    padded to a size bucket. The per-system program of the ensembles."""
    out = flux_by_residues(system, n)
    return FluxResult(out.value, out.error_estimate, out.converged)


@_config.jit
def flux_residues_fmm(system, n=None) -> FluxResult:
    """The O(N) residue flux (``_poles_fast``: bulk sums from the hierarchical Cauchy tree)
    as a FluxResult, jitted; ``n`` as in :func:`flux_residues`. Not differentiable."""
    out = flux_by_residues_fast(system, n)
    return FluxResult(out.value, out.error_estimate, out.converged)


def _bucketed(program, system):
    """``program`` run on the system's size bucket (``_buckets``)."""
    if not buckets_enabled():
        return program(system)
    return program(*pad_chain(system))


def _flux_residues_bucketed(system):
    """The residue flux through the program of the system's size bucket (``_buckets``)."""
    return _bucketed(flux_residues, system)


METHODS = ("auto", "residues", "residues-fmm", "lyapunov", "transfer")

# "auto" takes the O(N) flux for chains longer than this; 4096 is a size bucket (_buckets),
# so every bucket runs one of the two programs. Measured (scripts/bench_flux_fast.py
# --crossover; docs/performance.md): the O(N) path is slower up to N ~ 2000, level in the
# bucket 4096, and faster in every larger bucket.
FMM_ABOVE = 4096


def auto_uses_fmm(system) -> bool:
    """Whether ``method="auto"`` runs the O(N) path (``"residues-fmm"``) for ``system``
    (one chain or a batch; decided by the length of its arrays, static under jit): mean-field
    chains longer than :data:`FMM_ABOVE`."""
    return isinstance(system, MeanFieldChain) and system.masses.shape[-1] > FMM_ABOVE


# "auto" takes method="transfer" for concrete nearest-neighbour networks from this size on.
# Measured (heat_flux_with_error warm, masses 1 ± δ, k = γ = k' = 1, loaded 2-core CPU):
# at N = 300 the secular solver is faster for δ = 0.1 and slower for δ = 0.8, at N = 1000
# the recurrence is faster for both; its T_n is exact where the secular T_n is flagged.
TRANSFER_FROM = 1024


def auto_uses_transfer(system) -> bool:
    """Whether ``method="auto"`` runs ``"transfer"`` for ``system``: a HarmonicNetwork (one or
    a batch) with concrete values, N ≥ :data:`TRANSFER_FROM` and tridiagonal K."""
    if not isinstance(system, HarmonicNetwork) or system.masses.shape[-1] < TRANSFER_FROM:
        return False
    leaves = (system.stiffness, system.masses, system.gamma, system.t_left, system.t_right,
              system.k_prime)
    return all(is_concrete(x) for x in leaves) and is_tridiagonal(system.stiffness)


def resolve_method(system, method: str) -> str:
    """The method that runs for ``system`` (one system or a batch): ``"auto"`` is
    ``"residues"``, a residue sum over the poles of G (the chain's own pole solver, or the
    secular normal-mode solver of ``_secular`` for networks), except for chains with
    N > :data:`FMM_ABOVE`, where it is ``"residues-fmm"``, the O(N) variant (same poles
    and terms, bulk sums from hierarchical FMMs; its derivatives are the O(N²) path's);
    ``"lyapunov"`` is the dense O(N³) reference (the one dispatch rule of the flux and
    the temperatures). Nearest-neighbour networks with N ≥ :data:`TRANSFER_FROM` (concrete
    values, tridiagonal K) take ``"transfer"`` (:func:`auto_uses_transfer`).

    Raises:
      ValueError: for a method not in :data:`METHODS`, or ``"residues-fmm"`` with networks.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    chain = isinstance(system, MeanFieldChain)
    if method == "auto" and auto_uses_transfer(system):
        method = "transfer"
    if method == "auto":
        method = "residues-fmm" if auto_uses_fmm(system) else "residues"
    if method == "residues-fmm" and not chain:
        raise ValueError("method='residues-fmm' needs a MeanFieldChain; networks use "
                         "'residues' (the secular solver) or 'lyapunov'")
    if method == "transfer":
        _require_network(system, method)
    return method


def _require_network(system, method):
    """ValueError naming ``method`` unless ``system`` is a HarmonicNetwork."""
    if not isinstance(system, HarmonicNetwork):
        raise ValueError(f"method={method!r} needs a nearest-neighbour HarmonicNetwork "
                         "(tridiagonal K, e.g. networks.nearest_neighbour); mean-field chains "
                         "use 'auto', 'residues', 'residues-fmm' or 'lyapunov'")


def _resolve_method(system, method, what):
    """Check ``system`` (one system) and ``method``; return the method that will run."""
    check_single_system(system, what)
    return resolve_method(system, method)


def _left_component(system):
    """Particle 1's component of a network whose baths are decoupled, else None.

    Concrete :class:`HarmonicNetwork` only (:func:`bath_components`); None for a traced K
    and for a mean-field chain (connected for k > 0; at k = 0 the solvers keep the undriven
    bulk at rest). Each component relaxes to its own bath: J = 0 and T_n = T_L or T_R
    exactly. Raises ValueError for a component touching neither bath.
    """
    if not isinstance(system, HarmonicNetwork) or not is_concrete(system.stiffness):
        return None
    return bath_components(system.stiffness)


def _raise_unless_converged(result, what, method):
    """``result`` unchanged; NotConvergedError (also under jit/vmap) if it did not converge."""
    advice = f"inspect {what}_with_error(...)"
    if method == "residues":
        advice += " or compare with method='lyapunov' (moderate N)"
    if method == "residues-fmm":
        advice += " or use method='residues' (the O(N²) reference)"
    if method == "transfer":
        advice += " or compare with method='residues'"
    return raise_if_not_converged(result, result.converged, f"{what} ({method})", advice)


@_config.jit(compiler_options=False)  # eigh, Aberth sweeps: faster with XLA's defaults
def flux_secular(network, n=None):
    """The secular flux as a FluxResult, jitted; ``n``: the true N of a network padded to
    a size bucket (``_buckets.pad_network``)."""
    out = flux_by_secular(network, n=n)
    return FluxResult(out.value, out.error_estimate, out.converged)


@_config.jit(compiler_options=False)
def _secular_flux_data(network, n=None):
    return flux_by_secular(network, n=n)


@functools.partial(_config.jit, compiler_options=False, static_argnames="decoupled")
def _temperatures_from_flux(network, flux, n=None, decoupled="steady"):
    out = temperatures_by_secular(network, flux=flux, n=n, decoupled=decoupled)
    return TemperatureResult(out.value, out.error_estimate, out.converged, out.diagnostics)


def temperatures_secular(network, n=None, decoupled="steady"):
    """The secular T_n as a TemperatureResult: two programs, the flux (poles, modes) and
    T_n from them. One program fused the two, and at LLVM level 0 with the loop emitters
    (the test suite's flags) the fused flux's error estimate came out inf for an ordered
    chain with a near-degenerate pair (N = 9, k = 0.02, γ = 3); kept apart, both agree
    with the flux program's."""
    return _temperatures_from_flux(network, _secular_flux_data(network, n), n, decoupled)


def _network_bucketed(program, network):
    """``program`` run on the network's size bucket (``_buckets.pad_network``); per-particle
    results are the first N entries."""
    if not buckets_enabled():
        return program(network)
    return program(*pad_network(network))


def _concrete_chain(system, method):
    """The TridiagonalChain of a concrete nearest-neighbour network (``_transfer``);
    ValueError naming ``method`` for a non-tridiagonal K or traced values."""
    if not all(is_concrete(x) for x in (system.stiffness, system.masses, system.gamma,
                                         system.t_left, system.t_right, system.k_prime)):
        raise ValueError(f"method={method!r} runs on concrete values (host-driven NumPy/LAPACK)"
                         ": call it outside jit/vmap, or use ensemble_flux(..., method="
                         "'transfer') for a batch")
    return from_network(system, method)


def _flux_with_error(system, method, what):
    method = _resolve_method(system, method, what)
    if method == "transfer":
        _concrete_chain(system, method)  # a non-tridiagonal K raises even if decoupled
    if method == "residues" and isinstance(system, MeanFieldChain):
        return _flux_residues_bucketed(system), method
    if method == "residues-fmm":
        return _bucketed(flux_residues_fmm, system), method
    left = _left_component(system)
    if left is not None:  # decoupled baths: no path carries heat
        zero = jnp.zeros((), dtype=jnp.float64)
        return FluxResult(zero, zero, jnp.asarray(True)), method
    if method == "residues":
        return _network_bucketed(flux_secular, system), method
    if method == "transfer":
        return flux_transfer(_concrete_chain(system, method)), method
    return flux_lyapunov(system), method


def heat_flux_with_error(system, method: str = "auto", *, hbar=0.0) -> FluxResult:
    """Heat flux J (Eq. 16) with an error estimate and a convergence flag.

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system; map over a batch with
        ``jax.vmap`` or use ``ensemble_flux``).
      method: ``"auto"`` (default: ``"residues"``, or ``"residues-fmm"`` for chains with
        N > 4096), or one of the solvers below.

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

        ``"residues-fmm"`` (MeanFieldChain; what ``"auto"`` runs for N > 4096,
        ``FMM_ABOVE``): the same poles and residue terms with every bulk sum from a
        hierarchical Chebyshev FMM (``_cauchy``: exact near field, a-priori far-field
        bound) and a panel interpolant of the mirror poles: O(N) time and memory (timings:
        the documentation's Performance page, ``scripts/bench_flux_fast.py``). The bounds'
        first-order effect on every gap zero and term is added to the error estimate; a
        bound too large for 1e-9 makes ``converged`` False. Agrees with ``"residues"`` to
        ~1e-16 relative (tests/test_poles_fast.py). Derivatives (jax.grad, jvp) are those
        of ``"residues"`` (a custom JVP rule): O(N²) when differentiated, values included.

        ``"lyapunov"`` (any system): steady-state covariance from the Lyapunov equation
        solved by eigendecomposition, J = γ(T_L − T_1)/m_1. O(N³); a reference for
        moderate N. Error estimate: |J_left − J_right|.

        ``"transfer"`` (nearest-neighbour networks: tridiagonal K, concrete values; what
        ``"auto"`` runs for them from N = 1024, :data:`TRANSFER_FROM`): J = ΔT∫T dω/2π
        with T(ω) from an O(N) ratio recurrence, integrated peak by peak (tanh-sinh on the
        half-intervals around each undamped mode, adaptive Gauss 8/16 with the |G8 − G16|
        estimate, early stop once the band's transmission has died out): no eigenvectors,
        no poles; ~O(N^1.5) for disordered chains, O(N²) ordered (``_transfer``). For
        chains too long for a dense K: ``nearest_neighbour_flux_with_error``.

    Quantum baths (``hbar`` > 0, k_B = 1): Landauer's current
    J = ∫_0^∞ (dω/2π) ħω T(ω)[n_L(ω) − n_R(ω)], n_a = 1/(exp(ħω/T_a) − 1), exactly, from
    the same poles: each residue term (and each contour node of a near-degenerate cluster)
    carries the Binet weight T_a·G(−iħω_p/(2πT_a)) per bath instead of T_a (DLMF 5.9.16;
    docs/quantum.md). Methods ``"auto"``/``"residues"``/``"residues-fmm"`` (not
    ``"lyapunov"``); T_L or T_R = 0 allowed; same cost as the classical flux plus O(N).
    ``hbar=0`` (the default) runs the classical program unchanged; ħ → 0 gives it back.

    Networks whose baths sit in separate connected components of the graph K_ij ≠ 0 carry
    no heat: J = 0 exactly (error 0, converged) without solving anything. This check runs on
    concrete inputs (not on a traced K under ``jit``/``vmap``, where the Lyapunov solve runs
    and reports ``converged`` as usual).

    Returns:
      FluxResult(flux, error_estimate, converged); never raises for non-convergence.

    Raises:
      ValueError: for an unknown ``method``, ħ < 0 or not finite, a stacked batch
        passed without ``jax.vmap``, or (concrete K) a network with a component coupled to
        neither bath, whose steady state depends on the initial state.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 3, k=0.1, k0=0.0, n_tilde="kac")
    >>> r = mf.heat_flux_with_error(chain)
    >>> round(float(r.flux), 12), bool(r.converged)
    (0.041666666667, True)
    """
    h = checked_hbar(hbar)
    if h is not None:
        return quantum_flux_with_error(system, method, h, "heat_flux_with_error")
    return _flux_with_error(system, method, "heat_flux_with_error")[0]


def heat_flux(system, method: str = "auto", *, hbar=0.0, throw: bool = True):
    """Heat flux J = (T_L − T_R)/(4π) ∫ T(ω) dω (Eq. 16), exactly.

    See :func:`heat_flux_with_error` for the methods, their cost and accuracy.

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system; ``jax.vmap`` over a batch).
      method: as in :func:`heat_flux_with_error` (default ``"auto"``).
      throw: raise on non-convergence (default); ``False`` skips the check.

    Returns:
      float64 scalar J (energy per time, k_B = 1), linear in T_L − T_R.

    Raises:
      ValueError: for an unknown ``method``, a stacked batch passed without ``jax.vmap``,
        or a network with a component coupled to neither bath.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.
      NotConvergedError: (``throw=True``) when the method reports non-convergence; under
        ``jit``/``vmap`` as a JAX runtime error naming it (package docstring).
        ``throw=False`` returns the value unchecked; :func:`heat_flux_with_error` returns
        the status.

    >>> import meanfield_jax as mf
    >>> round(float(mf.heat_flux(mf.MeanFieldChain([1.0, 1.0, 1.0], k=0.1))), 12)
    0.041666666667
    """
    h = checked_hbar(hbar)
    if h is not None:
        result = quantum_flux_with_error(system, method, h, "heat_flux")
        method = f"{method}, hbar > 0"
    else:
        result, method = _flux_with_error(system, method, "heat_flux")
    if throw:
        result = _raise_unless_converged(result, "heat_flux", method)
    return result.flux



# ---------------------------------------------------------------------- local temperatures


@_config.jit
def _temperatures_residues(system, n=None):
    return TemperatureResult(*temperatures_by_residues(system, n=n)[:3])


@_config.jit
def temperatures_residues_fmm(system, n=None):
    """The O(N) residue temperatures (``_poles_fast``: the poles of the O(N) flux, every
    bulk sum from the hierarchical trees) as a TemperatureResult, jitted; ``n`` as in
    :func:`flux_residues`. Derivatives: the O(N²) path's."""
    return TemperatureResult(*temperatures_by_residues_fast(system, n)[:3])


def _temperatures_bucketed(program, system):
    """Chain temperatures through the program of the system's size bucket, trimmed to N."""
    if not buckets_enabled():
        return program(system)
    temps, err, ok, _ = program(*pad_chain(system))
    return TemperatureResult(trim_particles(temps, system.n), trim_particles(err, system.n), ok)


def _checked_decoupled(decoupled):
    if decoupled not in DECOUPLED:
        raise ValueError(f"decoupled must be one of {DECOUPLED}, got {decoupled!r}")
    return decoupled


def _temperatures_with_error(system, method, what, decoupled="steady"):
    decoupled = _checked_decoupled(decoupled)
    method = _resolve_method(system, method, what)
    if method == "transfer":
        _concrete_chain(system, method)
    if method == "residues" and isinstance(system, MeanFieldChain):
        return _temperatures_bucketed(_temperatures_residues, system), method
    if method == "residues-fmm":
        return _temperatures_bucketed(temperatures_residues_fmm, system), method
    left = _left_component(system)
    if left is not None:  # decoupled baths: each component at its own bath's temperature
        temps = jnp.where(jnp.asarray(left), system.t_left, system.t_right)
        zeros = jnp.zeros(system.n)
        return TemperatureResult(temps, zeros, jnp.asarray(True), zeros), method
    if method == "residues":
        program = functools.partial(temperatures_secular, decoupled=decoupled)
        temps, err, ok, unresolved = _network_bucketed(program, system)
        return TemperatureResult(temps[..., :system.n], err[..., :system.n], ok,
                                 unresolved[..., :system.n]), method
    if method == "transfer":
        temps, err, ok, _ = temperatures_transfer(_concrete_chain(system, method))
        return TemperatureResult(jnp.asarray(temps), jnp.asarray(err), jnp.asarray(ok),
                                 jnp.zeros(system.n)), method
    return temperatures_lyapunov(system), method


def local_temperatures_with_error(system, method: str = "auto", *, hbar=0.0,
                                  decoupled: str = "steady") -> TemperatureResult:
    """Local temperatures T_n = m_n⟨q̇_n²⟩ (Eq. 31) with error estimates and a status.

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system; ``jax.vmap`` over a batch).
      method: ``"auto"`` (default: ``"residues"``, or ``"residues-fmm"`` for chains with
        N > 4096), or one of the solvers below.

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

        ``"residues-fmm"`` (MeanFieldChain; what ``"auto"`` runs for N > 4096): the same
        poles (from the O(N) flux) and the same sum, taken for every bulk frequency at once
        by a transposed hierarchical FMM in ω² (``_cauchy.double_pole_sums``: exact near
        field, a-priori far-field bound), the poles' own error bounds carried into each
        T_n's estimate. O(N) time and memory; derivatives are the O(N²) path's.

        ``"lyapunov"`` (any system): the steady-state covariance by eigendecomposition
        (see ``heat_flux``), O(N³), for moderate N.

        ``"transfer"`` (nearest-neighbour networks, concrete values; ``"auto"`` from
        N = 1024, :data:`TRANSFER_FROM`): the stationary Lyapunov equations in normal modes
        with each mode's end amplitudes to full relative accuracy (twisted factorisation)
        and each mode's equations scaled by them: exact also for modes localised deep
        inside a disordered chain (end amplitudes 1e-17 and far below), which float64
        ``eigh`` cannot resolve and the other methods flag. O(N³)
        (``_transfer.temperatures_transfer``).

    Quantum baths (``hbar`` > 0): the kinetic temperatures T*_n, the temperature of both
    baths at which particle n has the steady state's m_n⟨v_n²⟩:
    Σ_b ∫_0^∞ dω ω²|G_nb|²[n(ω, T_b) − n(ω, T*_n)] = 0 (zero-point parts cancel), solved by
    safeguarded Newton over the same poles with Binet weights (``_quantum``; docs/quantum.md).
    Networks, and chains through their network form (O(N³)); every particle, the ends
    included, from its own residue sum. Equilibrium gives T*_n = T exactly; at high T,
    T*_n → Eq. (31)'s T_n where every mode couples to the baths (for identical masses
    T*_n is measured against the system's own equilibrium, so it differs from Eq. 31).
    Weakly coupled (deflated) modes are left out; their classical share enters the error.

    A network whose baths sit in separate connected components (graph K_ij ≠ 0) is answered
    exactly: every particle at the temperature of the bath in its component (T_L for
    particle 1's, T_R for particle N's), error 0. Checked on concrete inputs only.

    Modes float64 cannot resolve (``decoupled``). A mode whose end amplitudes b_1j, b_Nj
    are below ~8Nε (a mode localised deep inside a long disordered chain, or near the
    band top of an ordered long-range chain) relaxes in a time ~1/(γ b²), 1e26/γ and
    more, and its pole is below the rounding of every float64 method. Two well-defined
    answers exist, and ``decoupled`` picks one:

    * ``"steady"`` (default): the infinite-time steady state, Eq. (31) as an integral.
      Each such mode is at its weak-coupling temperature
      T_j = (T_L b_1j² + T_R b_Nj²)/(b_1j² + b_Nj²), which needs the ratio b_Nj/b_1j: exact
      for a reflection-symmetric network (masses and K invariant under i → N + 1 − i, bit
      for bit: T_j = (T_L + T_R)/2 for every mode), otherwise known to eigh's accuracy,
      and what is unknown of it is in ``error_estimate`` (so such sites may be flagged).
      The default because it is what the solvers returned before the keyword existed
      (weakly coupled modes at their weak-coupling temperatures) and it is Eq. (31)'s
      value.
    * ``"rest"``: the particular solution from rest (paper, Sec. II): such modes carry no
      energy, as they do at every time t ≪ 1/(γ b²) after starting from rest (what a
      simulation sees); exact, no term of theirs in the estimate.

    Modes decoupled exactly (zero amplitude at both baths, e.g. the N − 3 bulk modes of
    identical masses) have no steady state and are at rest in both conventions: for
    chains (``"residues"``, ``"residues-fmm"``) those are the only decoupled modes, so
    ``decoupled`` changes nothing there; ``"transfer"`` resolves every mode's coupling
    (no mode is unresolved: both conventions agree); ``"lyapunov"`` keeps modes damped
    below 1e-11 of the spectrum at rest whatever ``decoupled`` says; quantum baths leave
    such modes out and bound their classical share in the estimate. The result's
    ``unresolved`` (network ``"residues"``) is T_n("steady") − T_n("rest") per site.

    Returns:
      TemperatureResult(temperatures (N,), error_estimate (N,), converged, unresolved);
      never raises for non-convergence.

    Raises:
      ValueError, TypeError: as :func:`heat_flux_with_error` (bad ``method`` or system, a
        batch without ``jax.vmap``, a component coupled to neither bath), and for
        ``decoupled`` not ``"steady"`` or ``"rest"``.

    >>> import meanfield_jax as mf
    >>> K = [[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 0.5]]  # {1, 2} and {3}: decoupled
    >>> r = mf.local_temperatures_with_error(mf.HarmonicNetwork([1.0] * 3, K, t_left=2.0))
    >>> r.temperatures.tolist(), bool(r.converged)
    ([2.0, 2.0, 0.0], True)
    """
    h = checked_hbar(hbar)
    _checked_decoupled(decoupled)
    if h is not None:
        return quantum_temperatures_with_error(system, method, h, "local_temperatures_with_error")
    return _temperatures_with_error(system, method, "local_temperatures_with_error",
                                    decoupled)[0]


def local_temperatures(system, method: str = "auto", *, hbar=0.0, throw: bool = True,
                       decoupled: str = "steady"):
    """Local temperatures T_n = m_n⟨q̇_n²⟩ of Eq. (31), shape (N,).

    See :func:`local_temperatures_with_error` for methods, cost and accuracy.

    Args:
      system: MeanFieldChain or HarmonicNetwork (one system; ``jax.vmap`` over a batch).
      method: as in :func:`local_temperatures_with_error` (default ``"auto"``).
      throw: raise on non-convergence (default); ``False`` skips the check.
      decoupled: ``"steady"`` (default) or ``"rest"``: what modes whose coupling float64
        cannot resolve carry (:func:`local_temperatures_with_error`).

    Returns:
      float64 array of shape (N,), k_B = 1.

    Raises:
      ValueError: for an unknown ``method``, a stacked batch passed without ``jax.vmap``,
        or a network with a component coupled to neither bath.
      TypeError: if ``system`` is not a MeanFieldChain or HarmonicNetwork.
      NotConvergedError: (``throw=True``) as :func:`heat_flux`; ``throw=False`` returns
        the value unchecked, :func:`local_temperatures_with_error` the status.

    >>> import meanfield_jax as mf
    >>> t = mf.local_temperatures(mf.MeanFieldChain([1.0] * 20, k=1.0, t_left=1.5, t_right=0.5))
    >>> [round(float(x), 6) for x in t[:3]]  # bulk: (T_L + T_R)/(2(N − 2)), the particular solution
    [1.475, 0.055556, 0.055556]
    """
    h = checked_hbar(hbar)
    _checked_decoupled(decoupled)
    if h is not None:
        result = quantum_temperatures_with_error(system, method, h, "local_temperatures")
        method = f"{method}, hbar > 0"
    else:
        result, method = _temperatures_with_error(system, method, "local_temperatures",
                                                  decoupled)
    if throw:
        result = _raise_unless_converged(result, "local_temperatures", method)
    return result.temperatures
