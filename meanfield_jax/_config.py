"""Numerical configuration: float64 everywhere; the command line's compilation cache.

JAX defaults to float32. Importing :mod:`meanfield_jax` turns on ``jax_enable_x64``
before the package creates any array, so every quantity (masses, frequencies, fluxes)
is float64 / complex128. Arrays a user created *before* importing the package keep
their dtype; import meanfield_jax first (or set ``JAX_ENABLE_X64=1``).
"""

import os

import jax

jax.config.update("jax_enable_x64", True)


def enable_compile_cache(path=None) -> None:
    """Turn on JAX's persistent compilation cache (used by the ``sweep`` and ``simulate``
    commands, so that reruns and resumed runs skip most compilation).

    ``path`` None: ``$JAX_COMPILATION_CACHE_DIR`` if set (JAX reads it itself), else
    ``~/.cache/meanfield_jax/xla``. A folder that cannot be created leaves the cache off.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") and path is None:
        return
    path = path or os.path.join(os.path.expanduser("~"), ".cache", "meanfield_jax", "xla")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", path)
