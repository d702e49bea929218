"""The persistent compilation cache: one call (or ``JAX_COMPILATION_CACHE_DIR``) to use it.

Compiling the exact solvers costs seconds per program (size bucket) and running them
milliseconds, so a process that starts cold spends most of its time compiling. JAX's
persistent cache stores compiled programs on disk; a later process loads them instead.
It is off for the Python API unless switched on (a library should not write to a user's
home folder unasked; the user guide's compilation page says why and how) and on for every command-line command.
"""

from __future__ import annotations

import os

import jax

__all__ = ["enable_compile_cache", "DEFAULT_PATH"]

#: Default cache folder.
DEFAULT_PATH = os.path.join(os.path.expanduser("~"), ".cache", "meanfield_jax", "xla")


def enable_compile_cache(path=None) -> None:
    """Turn on JAX's persistent compilation cache for this process.

    Every ``meanfield-jax`` command calls it (unless ``--no-compile-cache``); from Python,
    call ``meanfield_jax.enable_compile_cache()`` once, before the first computation, or set
    ``JAX_COMPILATION_CACHE_DIR`` (JAX then enables it by itself). Programs that took at
    least ``jax_persistent_cache_min_compile_time_secs`` (JAX's default 1 s) to compile are
    stored, keyed by the program, the JAX/jaxlib version and the device: a new version
    recompiles, nothing stale is loaded. The folder is not pruned.

    Args:
      path: the cache folder. None: ``$JAX_COMPILATION_CACHE_DIR`` if set (JAX reads it
        itself), else ``~/.cache/meanfield_jax/xla``. A folder that cannot be created leaves
        the cache off.

    Returns:
      None; the setting is JAX's ``jax_compilation_cache_dir`` (process-wide).

    Raises:
      Nothing: a folder that cannot be created leaves the cache off instead of failing
        (compilation works without it).

    >>> import os, tempfile, jax
    >>> import meanfield_jax as mf
    >>> before = jax.config.jax_compilation_cache_dir
    >>> folder = os.path.join(tempfile.mkdtemp(), "xla")
    >>> mf.enable_compile_cache(folder)
    >>> os.path.isdir(folder) and jax.config.jax_compilation_cache_dir == folder
    True
    >>> jax.config.update("jax_compilation_cache_dir", before)  # this example leaves it as it was
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") and path is None:
        return
    path = path or DEFAULT_PATH
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
