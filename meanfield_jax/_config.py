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
    _guard_cache_writes()


def _guard_cache_writes() -> None:
    """Make JAX's compile-cache writes sections that an interrupt waits for.

    JAX writes a cache entry in place (``LRUCache.put``: ``Path.write_bytes``), not
    atomically; the command line ends the process at once on SIGINT / SIGTERM
    (``meanfield_jax._interrupt``), which could leave a truncated entry that JAX then fails
    to read, warns about and recompiles on every later run. If JAX's internals differ from
    what is expected here, nothing is changed.
    """
    from . import _interrupt

    try:
        from jax._src import lru_cache
    except ImportError:
        return
    put = getattr(getattr(lru_cache, "LRUCache", None), "put", None)
    if put is None or getattr(put, "_waits_for_interrupts", False):
        return

    def put_whole(self, key, value):
        with _interrupt.critical():
            return put(self, key, value)

    put_whole._waits_for_interrupts = True
    lru_cache.LRUCache.put = put_whole
