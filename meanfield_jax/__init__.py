"""meanfield_jax: exact heat transport through harmonic networks between Langevin baths.

The first model is the all-to-all (mean-field) chain of Defaveri, Olivares & Anteneodo,
PRE 105, 054149 (2022); equation numbers in docstrings are that paper's.

Importing the package enables JAX's float64 mode (``jax_enable_x64``) before any array is
created: every result is float64 / complex128. Import it before creating JAX arrays of
your own (or set ``JAX_ENABLE_X64=1``).

Public API
----------
Systems (pytrees; batch with :func:`stack_systems` and ``jax.vmap``):
  MeanFieldChain, HarmonicNetwork, stack_systems, batch_chains; mass configurations in
  ``meanfield_jax.masses``; power-law, nearest-neighbour and random-spring networks in
  ``meanfield_jax.networks``.
Green's operator and transmittance (Eqs. 7, 11, 17):
  dynamical_matrix, greens_function, transmittance
Heat flux (Eq. 16) and local temperatures (Eq. 31), exact:
  heat_flux, heat_flux_with_error, FluxResult,
  local_temperatures, local_temperatures_with_error, TemperatureResult,
  normal_modes, NormalModes,
  nearest_neighbour_flux_with_error (J of a nearest-neighbour chain without a dense K,
  N ≫ 10⁴; ``method="transfer"`` of the functions above for nearest-neighbour networks)
Quantum baths (``hbar`` > 0 on heat_flux and friends; Landauer, docs/quantum.md):
  thermal_conductance, thermal_conductance_with_error, ConductanceResult
Resonances (Eqs. 24, 26, 28–29):
  resonance_frequency, resonance_frequency_with_error, ResonanceResult, find_resonances,
  Resonances, fit_lorentzian_curve (one Lorentzian to a given T(ω) curve),
  LorentzianCurveFit, fit_resonance_lorentzians (Eq. 28 / 24 to a chain's main peaks),
  ResonanceLorentzianFit
Disorder ensembles and sweeps:
  ensemble_flux, ensemble_transmittance, map_ensemble, ensemble_mean, EnsembleMean,
  run_sweep, SweepConfig, load_config, fit_power_law, plot_fig4
Compilation: enable_compile_cache (persistent cache on disk; off unless called; docs/guide/compilation.md)
Langevin simulation (Eqs. 2–5):
  simulate, LangevinResult, relaxation_time, richardson (dt → 0), Extrapolated,
  rectification, Rectification; nonlinear chains (FPUT-β, XY rotors):
  ``meanfield_jax.nonlinear`` (fput, rotors)
Failures: NotConvergedError (below).
Closed forms of the paper: ``meanfield_jax.analytic``.

Deprecated aliases (they warn): fit_lorentzian → fit_lorentzian_curve, fit_lorentzians →
fit_resonance_lorentzians, LorentzianFit → LorentzianCurveFit, LorentzianFits →
ResonanceLorentzianFit, resonance_frequency_with_status → resonance_frequency_with_error.

Failure convention
------------------
Every iterative solver reports whether it converged, and in one way:

* ``f(..., throw=True)`` (``heat_flux``, ``local_temperatures``, ``resonance_frequency``)
  returns the value. With ``throw=True`` (the default) a non-converged result raises
  :class:`NotConvergedError` (a ``RuntimeError``): on concrete values at the call, and under
  ``jax.jit``/``jax.vmap``/``jax.grad`` when the compiled program runs, as a JAX runtime
  error whose message contains ``NotConvergedError`` and the function's name (it is raised
  only if some lane failed; a converged call costs one reduction, no host round trip).
  ``throw=False`` returns the value unchecked (under ``jit`` it also lets XLA skip the
  error estimate: ~15% of a residue flux).
* ``f_with_error(...)`` (``heat_flux_with_error``, ``local_temperatures_with_error``,
  ``resonance_frequency_with_error``) returns a NamedTuple (FluxResult, TemperatureResult,
  ResonanceResult) with ``converged`` and ``error_estimate``; it never raises for
  non-convergence. Functions returning such results for many systems (``ensemble_flux``)
  follow it too: ``converged`` per system (``throw=True`` raises after the run).
* Bad input (a wrong type, shape or value) always raises ``TypeError``/``ValueError`` at the
  call, naming the parameter; never a silent NaN.
"""

from . import _interrupt  # stdlib only: the CLI's signal handling starts before JAX loads
_interrupt.install_if_command_line()
from . import _config  # noqa: E402, F401  (enables x64 first)
from . import analytic as analytic
from . import masses as masses
from . import networks as networks
from . import nonlinear as nonlinear
from ._cache import enable_compile_cache as enable_compile_cache
from ._ensemble import batch_chains as batch_chains
from ._ensemble import ensemble_flux as ensemble_flux
from ._ensemble import ensemble_transmittance as ensemble_transmittance
from ._ensemble import map_ensemble as map_ensemble
from ._landauer import ConductanceResult as ConductanceResult
from ._landauer import thermal_conductance as thermal_conductance
from ._landauer import thermal_conductance_with_error as thermal_conductance_with_error
from ._langevin import LangevinResult as LangevinResult
from ._langevin import relaxation_time as relaxation_time
from ._langevin import simulate as simulate
from ._langevin_analysis import Extrapolated as Extrapolated
from ._langevin_analysis import Rectification as Rectification
from ._langevin_analysis import rectification as rectification
from ._langevin_analysis import richardson as richardson
from ._failure import NotConvergedError as NotConvergedError
from ._lorentzian import LorentzianCurveFit as LorentzianCurveFit
from ._lorentzian import ResonanceLorentzianFit as ResonanceLorentzianFit
from ._lorentzian import fit_lorentzian_curve as fit_lorentzian_curve
from ._lorentzian import fit_resonance_lorentzians as fit_resonance_lorentzians
from ._modes import NormalModes as NormalModes
from ._modes import normal_modes as normal_modes
from ._model import HarmonicNetwork as HarmonicNetwork
from ._model import MeanFieldChain as MeanFieldChain
from ._model import stack_systems as stack_systems
from ._plot import plot_fig4 as plot_fig4
from ._resonances import ResonanceResult as ResonanceResult
from ._resonances import Resonances as Resonances
from ._resonances import find_resonances as find_resonances
from ._resonances import resonance_frequency as resonance_frequency
from ._resonances import resonance_frequency_with_error as resonance_frequency_with_error
from ._stats import EnsembleMean as EnsembleMean
from ._stats import ensemble_mean as ensemble_mean
from ._stats import fit_power_law as fit_power_law
from ._sweep import run_sweep as run_sweep
from ._sweep_config import SweepConfig as SweepConfig
from ._sweep_config import load_config as load_config
from ._failure import FluxResult as FluxResult
from ._failure import TemperatureResult as TemperatureResult
from ._transfer import nearest_neighbour_flux_with_error as nearest_neighbour_flux_with_error
from ._transport import dynamical_matrix as dynamical_matrix
from ._transport import greens_function as greens_function
from ._transport import heat_flux as heat_flux
from ._transport import heat_flux_with_error as heat_flux_with_error
from ._transport import local_temperatures as local_temperatures
from ._transport import local_temperatures_with_error as local_temperatures_with_error
from ._transport import transmittance as transmittance
from ._version import __version__ as __version__

# The public API: every re-export above (tests/test_docs_api.py checks that this list and
# the module's public names agree, and the documentation's API reference shows each).
__all__ = [
    "analytic", "masses", "networks", "nonlinear",
    "MeanFieldChain", "HarmonicNetwork", "stack_systems", "batch_chains",
    "dynamical_matrix", "greens_function", "transmittance",
    "heat_flux", "heat_flux_with_error", "FluxResult",
    "local_temperatures", "local_temperatures_with_error", "TemperatureResult",
    "normal_modes", "NormalModes", "nearest_neighbour_flux_with_error",
    "thermal_conductance", "thermal_conductance_with_error", "ConductanceResult",
    "resonance_frequency", "resonance_frequency_with_error", "ResonanceResult",
    "find_resonances", "Resonances",
    "fit_lorentzian_curve", "LorentzianCurveFit",
    "fit_resonance_lorentzians", "ResonanceLorentzianFit",
    "ensemble_flux", "ensemble_transmittance", "map_ensemble", "ensemble_mean", "EnsembleMean",
    "fit_power_law", "run_sweep", "SweepConfig", "load_config", "plot_fig4",
    "enable_compile_cache",
    "simulate", "LangevinResult", "relaxation_time",
    "richardson", "Extrapolated", "rectification", "Rectification",
    "NotConvergedError",
]

_DEPRECATED = {
    "fit_lorentzian": "fit_lorentzian_curve",
    "fit_lorentzians": "fit_resonance_lorentzians",
    "LorentzianFit": "LorentzianCurveFit",
    "LorentzianFits": "ResonanceLorentzianFit",
    "resonance_frequency_with_status": "resonance_frequency_with_error",
}


def __getattr__(name):
    """The deprecated aliases: the new object, with a DeprecationWarning."""
    if name in _DEPRECATED:
        import warnings

        new = _DEPRECATED[name]
        warnings.warn(f"meanfield_jax.{name} is deprecated; use meanfield_jax.{new}",
                      DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module 'meanfield_jax' has no attribute {name!r}")
