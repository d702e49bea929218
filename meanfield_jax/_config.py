"""Numerical configuration: float64 everywhere.

JAX defaults to float32. Importing :mod:`meanfield_jax` turns on ``jax_enable_x64``
before the package creates any array, so every quantity (masses, frequencies, fluxes)
is float64 / complex128. Arrays a user created *before* importing the package keep
their dtype; import meanfield_jax first (or set ``JAX_ENABLE_X64=1``).
"""

import jax

jax.config.update("jax_enable_x64", True)
