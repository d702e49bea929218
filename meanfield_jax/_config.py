"""Numerical configuration: float64 everywhere.

The contract: every result is float64 / complex128, or the call raises. JAX defaults to
float32, and the exact solvers need float64 (residue sums cancel to ~1e-13 of their terms;
resonances are 1e-10 wide). So importing :mod:`meanfield_jax` turns on ``jax_enable_x64``
for the process before the package creates any array (as NetKet does; diffrax, equinox and
optax leave the flag to the user, but they are correct in float32 and this package is not).
Arrays a user created *before* importing the package keep their dtype; import
meanfield_jax first (or set ``JAX_ENABLE_X64=1``). A user who turns float64 off again
(``jax.config.update("jax_enable_x64", False)``, or a scoped ``jax.enable_x64(False)``) gets
a RuntimeError from every constructor and public function (:func:`require_x64`, checked at
trace time, so also under ``jit``), never a silent float32 result.
"""

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)


def require_x64(what: str) -> None:
    """Raise RuntimeError, naming ``what``, unless JAX computes in float64 right now."""
    if jax.dtypes.canonicalize_dtype(np.float64) != np.float64:
        raise RuntimeError(
            f"{what}: meanfield_jax computes in float64, but JAX's float64 mode is off "
            "(jax_enable_x64 = False). Importing meanfield_jax turns it on; turn it back on "
            "with jax.config.update('jax_enable_x64', True).")
