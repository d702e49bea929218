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
  ``meanfield_jax.masses``.
Green's operator and transmittance (Eqs. 7, 11, 17):
  dynamical_matrix, greens_function, transmittance
Heat flux (Eq. 16) and local temperatures (Eq. 31), exact:
  heat_flux, heat_flux_with_error, FluxResult,
  local_temperatures, local_temperatures_with_error, TemperatureResult,
  normal_modes, NormalModes
Resonances (Eqs. 24, 26, 28–29):
  resonance_frequency, resonance_frequency_with_status, find_resonances,
  fit_lorentzians, fit_lorentzian
Disorder ensembles and sweeps:
  ensemble_flux, ensemble_transmittance, map_ensemble, ensemble_mean, run_sweep,
  SweepConfig, load_config, fit_power_law, plot_fig4
Compilation: enable_compile_cache (persistent cache on disk; off unless called, README)
Langevin simulation (Eqs. 2–5):
  simulate, LangevinResult, relaxation_time
Closed forms of the paper: ``meanfield_jax.analytic``.
"""

from . import _interrupt  # stdlib only: the CLI's signal handling starts before JAX loads
_interrupt.install_if_command_line()
from . import _config  # noqa: E402, F401  (enables x64 first)
from . import analytic as analytic
from . import masses as masses
from ._cache import enable_compile_cache as enable_compile_cache
from ._ensemble import batch_chains as batch_chains
from ._ensemble import ensemble_flux as ensemble_flux
from ._ensemble import ensemble_transmittance as ensemble_transmittance
from ._ensemble import map_ensemble as map_ensemble
from ._langevin import LangevinResult as LangevinResult
from ._langevin import relaxation_time as relaxation_time
from ._langevin import simulate as simulate
from ._modes import NormalModes as NormalModes
from ._modes import normal_modes as normal_modes
from ._model import HarmonicNetwork as HarmonicNetwork
from ._model import MeanFieldChain as MeanFieldChain
from ._model import stack_systems as stack_systems
from ._plot import plot_fig4 as plot_fig4
from ._resonances import LorentzianFit as LorentzianFit
from ._resonances import LorentzianFits as LorentzianFits
from ._resonances import ResonanceResult as ResonanceResult
from ._resonances import Resonances as Resonances
from ._resonances import find_resonances as find_resonances
from ._resonances import fit_lorentzian as fit_lorentzian
from ._resonances import fit_lorentzians as fit_lorentzians
from ._resonances import resonance_frequency as resonance_frequency
from ._resonances import resonance_frequency_with_status as resonance_frequency_with_status
from ._stats import EnsembleMean as EnsembleMean
from ._stats import ensemble_mean as ensemble_mean
from ._stats import fit_power_law as fit_power_law
from ._sweep import run_sweep as run_sweep
from ._sweep_config import SweepConfig as SweepConfig
from ._sweep_config import load_config as load_config
from ._transport import FluxResult as FluxResult
from ._transport import TemperatureResult as TemperatureResult
from ._transport import dynamical_matrix as dynamical_matrix
from ._transport import greens_function as greens_function
from ._transport import heat_flux as heat_flux
from ._transport import heat_flux_with_error as heat_flux_with_error
from ._transport import local_temperatures as local_temperatures
from ._transport import local_temperatures_with_error as local_temperatures_with_error
from ._transport import transmittance as transmittance
from ._version import __version__ as __version__
