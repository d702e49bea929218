"""meanfield_jax: exact heat transport through harmonic networks between Langevin baths.

Importing the package enables JAX's float64 mode (``jax_enable_x64``) before any array is
created: every result is float64 / complex128.

Public API
----------
Systems (pytrees; batch with :func:`stack_systems` and ``jax.vmap``):
  MeanFieldChain, HarmonicNetwork, stack_systems
Green's operator and transmittance (Eqs. 7, 11, 17):
  dynamical_matrix, greens_function, transmittance
Heat flux (Eq. 16):
  heat_flux, heat_flux_with_error, FluxResult
Closed forms of the paper: ``meanfield_jax.analytic``.
"""

from . import _config  # noqa: F401  (enables x64 first)
from ._model import HarmonicNetwork as HarmonicNetwork
from ._model import MeanFieldChain as MeanFieldChain
from ._model import stack_systems as stack_systems

__version__ = "0.1.0"
