"""Quantum baths through the exact solvers: the Landauer heat current J and the conductance κ(T).

The solvers (``_poles``, ``_poles_fast``, ``_secular``) describe their classical flux as a
:class:`~meanfield_jax._quantum.PoleSum` — points of the upper half plane (the poles of
G_1N, and the nodes of the contour rules of near-degenerate clusters) with weights whose
real sum is J/ΔT — and ``_quantum`` weights every point by the Binet factor of each bath
(DLMF 5.9.16):

    J    = Re Σ_j c_j [g_{T_L}(z_j) − g_{T_R}(z_j)],   g_T(z) = T·G(−iħz/(2πT)),
    κ(T) = Re Σ_j c_j K(−iħz_j/(2πT)),                 K = ∂g_T/∂T,

exactly the Landauer integrals J = ∫_0^∞ (dω/2π) ħω T(ω)[n_L − n_R] and
κ = ∫_0^∞ (dω/2π) ħω T(ω) ∂n/∂T (k_B = 1), with no frequency grid, broadening or cut-off.
The poles are found once; each temperature costs O(P) (P ≈ N poles plus 32 nodes per
cluster). ħ = 0 through the public functions runs the classical programs unchanged
(``_transport``); a traced ħ that is 0 gives the classical limit through these programs.

Error estimate (same convention as the classical solvers): each point's classical error
bound times |weight| there, the solver's rounding bound times Σ|c_j w_j|, the weights' own
rounding (64ε per term), the imaginary part of the self-conjugate sums, and the sum-rule
violation; ``converged`` requires the solver's checks and error ≤ 1e-9·|value|.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config
from ._buckets import buckets_enabled, pad_chain, pad_network
from ._failure import FluxResult, TemperatureResult, raise_if_not_converged
from ._model import (
    HarmonicNetwork,
    MeanFieldChain,
    bath_components,
    check_single_system,
    is_concrete,
)
from ._poles import chain_pole_sum
from ._poles_fast import chain_pole_sum_fast
from ._green import chain_transmittance
from ._quantum import (
    CONVERGED_RTOL,
    conductance,
    conductance_low_temperature,
    flux_low_temperature,
    kinetic_temperatures,
    quantum_flux,
)
from ._secular import network_modes, secular_transmittance
from ._secular_residues import network_pole_sum, temperature_site_weights

__all__ = ["ConductanceResult", "checked_hbar", "quantum_flux_fn", "quantum_flux_with_error",
           "quantum_method",
           "quantum_temperatures_with_error", "thermal_conductance",
           "thermal_conductance_with_error", "QUANTUM_METHODS"]

#: Methods with quantum baths: the exact residue solvers (``"lyapunov"`` is classical only).
QUANTUM_METHODS = ("auto", "residues", "residues-fmm")
#: As ``_transport.FMM_ABOVE``: "auto" takes the O(N) chain path above this N.
_FMM_ABOVE = 4096


class ConductanceResult(NamedTuple):
    """Thermal conductance with its accuracy (the package's failure convention).

    Attributes:
      conductance: κ(T) = ∫_0^∞ (dω/2π) ħω T(ω) ∂n_T/∂T, one per temperature (k_B = 1).
      error_estimate: estimated absolute error of each κ.
      converged: True where every solver check passed and error ≤ 1e-9·κ.
    """

    conductance: jax.Array
    error_estimate: jax.Array
    converged: jax.Array


def checked_hbar(hbar):
    """ħ as a float64 scalar, or None for a concrete ħ = 0 (the classical programs).

    Raises:
      ValueError: for ħ < 0, a NaN or infinite ħ, or a ħ that is not a scalar.
    """
    if not is_concrete(hbar):
        if jnp.ndim(hbar) != 0:
            raise ValueError(f"hbar must be a scalar, got shape {jnp.shape(hbar)}")
        return jnp.asarray(hbar, dtype=jnp.float64)
    arr = np.asarray(hbar, dtype=np.float64)
    if arr.ndim != 0:
        raise ValueError(f"hbar must be a scalar, got shape {arr.shape}")
    if not np.isfinite(arr):
        raise ValueError(f"hbar must be finite, got {hbar!r}")
    if arr < 0:
        raise ValueError(f"hbar must be >= 0, got {hbar!r}")
    return None if arr == 0 else jnp.asarray(arr)


def _checked_temperatures(temperature):
    """The temperatures as a 1-D float64 array (a scalar becomes shape (1,)), checked."""
    if not is_concrete(temperature):
        t = jnp.asarray(temperature, dtype=jnp.float64)
        if t.ndim > 1:
            raise ValueError(f"temperature must be a scalar or a 1-D array, got shape {t.shape}")
        return jnp.atleast_1d(t)
    arr = np.asarray(temperature, dtype=np.float64)
    if arr.ndim > 1:
        raise ValueError(f"temperature must be a scalar or a 1-D array, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise ValueError("temperature must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"temperature must be finite, got {temperature!r}")
    if np.any(arr < 0):
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    return jnp.asarray(arr)


def _method(system, method, what):
    check_single_system(system, what)
    return quantum_method(system, method, what)


def _decoupled(system):
    """True for a concrete network whose baths sit in separate components (J = κ = 0)."""
    if not isinstance(system, HarmonicNetwork) or not is_concrete(system.stiffness):
        return False
    return bath_components(system.stiffness) is not None


def _pole_sum_and_transmittance(system, n, pole_sum_fn=chain_pole_sum):
    """(the system's PoleSum, ω (1-D) ↦ T(ω) for the low-temperature rule of ``_quantum``):
    the chain's solver (``pole_sum_fn``) and O(N) form, or the network's secular solver and
    secular form over the same modes (one eigh)."""
    if isinstance(system, MeanFieldChain):
        return (pole_sum_fn(system, n),
                jax.vmap(lambda w: chain_transmittance(system, w, n)))
    modes = network_modes(system, n)
    return (network_pole_sum(system, n, modes),
            jax.vmap(lambda w: secular_transmittance(modes, system.gamma, w)))


def _flux(system, hbar, n, pole_sum_fn=chain_pole_sum):
    """The Landauer J from the solver's PoleSum (Binet weights; Gauss–Laguerre far below
    the lowest pole where that bound is smaller)."""
    pole_sum, transmittance = _pole_sum_and_transmittance(system, n, pole_sum_fn)
    t_left, t_right = system.t_left, system.t_right
    result = quantum_flux(pole_sum, hbar, t_left, t_right)
    return FluxResult(*flux_low_temperature(transmittance, pole_sum, hbar, t_left, t_right,
                                            result))


def _kappa(system, hbar, temperatures, n, pole_sum_fn=chain_pole_sum):
    """κ(T) from the solver's PoleSum (as :func:`_flux`)."""
    pole_sum, transmittance = _pole_sum_and_transmittance(system, n, pole_sum_fn)
    result = conductance(pole_sum, hbar, temperatures)
    return ConductanceResult(*conductance_low_temperature(transmittance, pole_sum, hbar,
                                                          temperatures, result))


@_config.jit
def _chain_flux(chain, hbar, n=None):
    return _flux(chain, hbar, n)


def _chain_flux_quadratic(chain, hbar, n):
    return _flux(chain, hbar, n)


@jax.custom_jvp
def _chain_flux_linear(chain, hbar, n):
    """The O(N) path's J; its derivatives (and, when differentiated, its values) are the
    O(N²) path's, as for the classical O(N) flux (``_poles_fast``)."""
    return _flux(chain, hbar, n, chain_pole_sum_fast)


@_chain_flux_linear.defjvp
def _chain_flux_linear_jvp(primals, tangents):
    return jax.jvp(_chain_flux_quadratic, primals, tangents)


@_config.jit
def _chain_flux_fmm(chain, hbar, n=None):
    return _chain_flux_linear(chain, hbar, n)


@_config.jit(compiler_options=False)  # eigh, Aberth sweeps: faster with XLA's defaults
def _network_flux(network, hbar, n=None):
    return _flux(network, hbar, n)


@_config.jit
def _chain_conductance(chain, hbar, temperatures, n=None):
    return _kappa(chain, hbar, temperatures, n)


@_config.jit
def _chain_conductance_fmm(chain, hbar, temperatures, n=None):
    return _kappa(chain, hbar, temperatures, n, chain_pole_sum_fast)


@_config.jit(compiler_options=False)
def _network_conductance(network, hbar, temperatures, n=None):
    return _kappa(network, hbar, temperatures, n)


def _run(system, method, chain_program, fmm_program, network_program, *args):
    """``program(system, *args, n)`` on the system's size bucket."""
    if isinstance(system, MeanFieldChain):
        program = fmm_program if method == "residues-fmm" else chain_program
        if not buckets_enabled():
            return program(system, *args)
        padded, n = pad_chain(system)
        return program(padded, *args, n)
    if not buckets_enabled():
        return network_program(system, *args)
    padded, n = pad_network(system)
    return network_program(padded, *args, n)


def _quantum_flux_one(system, hbar, n=None):
    """One system's Landauer J by residues (chain O(N²) path or secular network solver)."""
    if isinstance(system, MeanFieldChain):
        return _chain_flux_quadratic(system, hbar, n)
    return _flux(system, hbar, n)


def _quantum_flux_fmm_one(system, hbar, n=None):
    return _chain_flux_linear(system, hbar, n)


def _quantum_flux_auto_one(system, hbar, n=None):
    """"auto": the O(N) path for chains whose (padded) length exceeds 4096 (static)."""
    if isinstance(system, MeanFieldChain) and system.masses.shape[-1] > _FMM_ABOVE:
        return _quantum_flux_fmm_one(system, hbar, n)
    return _quantum_flux_one(system, hbar, n)


def quantum_flux_fn(method: str):
    """The per-system quantum flux function ``fn(system, hbar, n=None)`` of ``method``
    (``"auto"``, ``"residues"`` or ``"residues-fmm"``) for the ensembles and sweeps
    (``_ensemble.map_ensemble``; the same object each time: programs are cached by it)."""
    if method == "auto":
        return _quantum_flux_auto_one
    return _quantum_flux_fmm_one if method == "residues-fmm" else _quantum_flux_one


def quantum_method(systems, method: str, what: str) -> str:
    """The quantum solver's method for ``systems`` (one system or a batch): "auto" as for
    the classical flux; ValueError for methods without a quantum form ("lyapunov")."""
    if method not in QUANTUM_METHODS:
        raise ValueError(f"{what}: with hbar > 0, method must be one of {QUANTUM_METHODS} "
                         f"(the exact residue solvers), got {method!r}")
    chain = isinstance(systems, MeanFieldChain)
    if method == "auto":
        method = "residues-fmm" if chain and systems.masses.shape[-1] > _FMM_ABOVE else "residues"
    if method == "residues-fmm" and not chain:
        raise ValueError("method='residues-fmm' needs a MeanFieldChain; networks use "
                         "'residues' (the secular solver)")
    return method


def quantum_flux_with_error(system, method, hbar, what) -> FluxResult:
    """The Landauer J of ``system`` with quantum baths (``hbar``: a checked ħ, not None)."""
    method = _method(system, method, what)
    if _decoupled(system):
        zero = jnp.zeros((), dtype=jnp.float64)
        return FluxResult(zero, zero, jnp.asarray(True))
    return _run(system, method, _chain_flux, _chain_flux_fmm, _network_flux, hbar)


@_config.jit(compiler_options=False)
def _network_temperatures(network, hbar, n=None):
    sw = temperature_site_weights(network, n)
    temps, err = kinetic_temperatures(sw.points, sw.weights, sw.errors, hbar, network.t_left,
                                      network.t_right)
    # weakly coupled (deflated) modes: their classical share bounds what they change
    err = err + jnp.abs(sw.weak) + sw.weak_error
    size = network.n if n is None else n
    real = jnp.arange(network.n) < size
    temps, err = jnp.where(real, temps, 0.0), jnp.where(real, err, 0.0)
    scale = jnp.maximum(network.t_left, network.t_right)
    converged = sw.ok & jnp.all(err <= CONVERGED_RTOL * scale) & jnp.all(jnp.isfinite(temps))
    return TemperatureResult(temps, err, converged)


def quantum_temperatures_with_error(system, method, hbar, what) -> TemperatureResult:
    """Quantum kinetic temperatures T*_n (``_quantum.kinetic_temperatures``) of a network,
    or of a chain through its network form (O(N³): the chains' O(N²)/O(N) residue
    temperatures are classical only)."""
    method = _method(system, method, what)
    network = system.to_network() if isinstance(system, MeanFieldChain) else system
    if _decoupled(network):
        left = bath_components(network.stiffness)
        temps = jnp.where(jnp.asarray(left), network.t_left, network.t_right)
        return TemperatureResult(temps, jnp.zeros(network.n), jnp.asarray(True))
    if not buckets_enabled():
        return _network_temperatures(network, hbar)
    padded, n = pad_network(network)
    temps, err, ok, _ = _network_temperatures(padded, hbar, n)
    return TemperatureResult(temps[..., :network.n], err[..., :network.n], ok)


def thermal_conductance_with_error(system, temperature, *, hbar, method: str = "auto"
                                   ) -> ConductanceResult:
    """Thermal conductance κ(T) with quantum baths, with error estimates and a status.

    κ(T) = ∫_0^∞ (dω/2π) ħω T(ω) ∂n_T(ω)/∂T (k_B = 1), the linear response
    J → κ(T)·ΔT of the Landauer current, with the transmittance of Eq. (17): Re Σ_p t_p
    K(α_p), α_p = −iħω_p/(2πT), K(α) = 1 − 2α + 2α²ψ′(1 + α) (module docstring of
    ``_quantum``), over the poles of the exact residue solvers (found once for all
    temperatures). ħ = 0 gives the classical J/ΔT at every T. Limits: κ/κ₀ → T(0) as T → 0
    (κ₀ = πT/(6ħ), the quantum of thermal conductance; T(0) = 1 for an unpinned connected
    system), κ ∝ T³ for pinned systems, κ → J/ΔT (classical) as T → ∞.

    Far below the lowest pole (T ≪ ħ min|ω_p|, pinned systems), where the pole sum
    cancels, a temperature whose residue bound fails takes a Gauss–Laguerre rule in
    x = ħω/T over T(ω) evaluated directly where that bound is smaller (``_quantum``).

    Cost: the flux's poles (O(N²) for chains up to N = 4096, O(N) above; O(N³) for
    networks) plus O(N) per temperature (O(112 N) per low temperature). Accuracy: 1e-10
    relative against tanh-sinh quadrature over 30-digit dense solves
    (tests/test_quantum.py).

    Args:
      system: a MeanFieldChain or HarmonicNetwork (its bath temperatures are not used).
      temperature: a scalar or 1-D array of temperatures T ≥ 0.
      hbar: ħ ≥ 0 (keyword).
      method: ``"auto"``, ``"residues"`` or ``"residues-fmm"`` (chains), as for heat_flux.

    Returns:
      ConductanceResult(conductance, error_estimate, converged), each of shape (#T,).

    Raises:
      ValueError: for ħ < 0 or not finite, a negative, NaN or empty temperature, an
        unknown method; TypeError for a system that is neither chain nor network.

    >>> import meanfield_jax as mf
    >>> r = mf.thermal_conductance_with_error(mf.MeanFieldChain([1.0] * 3, k=0.1), [1e-4], hbar=1.0)
    >>> round(float(r.conductance[0] / (3.141592653589793 * 1e-4 / 6)), 5)  # κ/κ₀ → T(0) = 1
    1.0
    """
    h = checked_hbar(hbar)
    h = jnp.zeros((), jnp.float64) if h is None else h
    temperatures = _checked_temperatures(temperature)
    method = _method(system, method, "thermal_conductance")
    if _decoupled(system):
        zero = jnp.zeros(temperatures.shape, jnp.float64)
        return ConductanceResult(zero, zero, jnp.ones(temperatures.shape, bool))
    return _run(system, method, _chain_conductance, _chain_conductance_fmm,
                _network_conductance, h, temperatures)


def thermal_conductance(system, temperature, *, hbar, method: str = "auto", throw: bool = True):
    """Thermal conductance κ(T) = ∫_0^∞ (dω/2π) ħω T(ω) ∂n_T/∂T, one per temperature.

    See :func:`thermal_conductance_with_error` for the method, cost and accuracy.

    Args:
      system: a MeanFieldChain or HarmonicNetwork (its bath temperatures are not used).
      temperature: a scalar or 1-D array of temperatures T ≥ 0.
      hbar: ħ ≥ 0 (keyword); 0 gives the classical J/ΔT at every T.
      method: ``"auto"``, ``"residues"`` or ``"residues-fmm"`` (chains).
      throw: raise if some temperature did not converge (default True).

    Returns:
      κ at each temperature, shape (#T,).

    Raises:
      ValueError: for ħ < 0 or not finite, a negative, NaN or empty temperature, an
        unknown method; TypeError for a system that is neither chain nor network.
      NotConvergedError: (``throw=True``) if any temperature's κ did not converge.

    >>> import meanfield_jax as mf
    >>> chain = mf.MeanFieldChain([1.0] * 4, k=1.0, k0=0.5)
    >>> kappa = mf.thermal_conductance(chain, [0.01, 1.0, 100.0], hbar=1.0)
    >>> bool(kappa[0] < kappa[1] < kappa[2])
    True
    """
    result = thermal_conductance_with_error(system, temperature, hbar=hbar, method=method)
    if throw:
        result = raise_if_not_converged(result, jnp.all(result.converged), "thermal_conductance",
                                        "inspect thermal_conductance_with_error(...)")
    return result.conductance
