"""Numerical configuration: float64 everywhere, and the XLA options of every compiled program.

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

Compilation: every program of the package is jitted through :func:`jit`, which compiles
with :data:`COMPILER_OPTIONS` (one place to tune how the solvers compile), and maps over
long axes in equal batches with :func:`map_in_batches` (no second copy of the mapped
function for a remainder).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def require_x64(what: str) -> None:
    """Raise RuntimeError, naming ``what``, unless JAX computes in float64 right now."""
    if jax.dtypes.canonicalize_dtype(np.float64) != np.float64:
        raise RuntimeError(
            f"{what}: meanfield_jax computes in float64, but JAX's float64 mode is off "
            "(jax_enable_x64 = False). Importing meanfield_jax turns it on; turn it back on "
            "with jax.config.update('jax_enable_x64', True).")


#: XLA options of every program the package compiles (:func:`jit`). On CPU, XLA's newer
#: fusion emitters take LLVM much longer on the pole solvers' many small loop bodies than
#: the loop emitters do, for no faster code here (``python scripts/bench_compile.py
#: --options 1000 10000``; figures on the docs' Performance page). Other backends ignore
#: ``xla_cpu_*`` options. Programs dominated by dense linear algebra and long O(N²) passes
#: (the network solvers: ``eigh``, Aberth sweeps, GEMMs; the transfer recurrence) run
#: faster with the fusion emitters and opt out (``jit(..., compiler_options=False)``).
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def _accepted_compiler_options() -> dict | None:
    """COMPILER_OPTIONS if this jaxlib's XLA knows them, else None (XLA retires options; a
    jaxlib without one must still work). Probed once, by compiling a trivial program."""
    try:
        jax.jit(lambda x: x, compiler_options=COMPILER_OPTIONS).lower(0.0).compile()
    except Exception:  # noqa: BLE001 - whatever the rejection, compile without them
        return None
    return COMPILER_OPTIONS


@functools.cache
def _probe():
    return jax.jit(lambda x: x * x, compiler_options=_accepted_compiler_options())


def _options_allowed(tracer) -> bool:
    """Whether a program with compiler options may be called on ``tracer`` here: yes at the
    top level of ``vmap`` and ``jvp`` (JAX runs the transformed program as a top-level
    one); no where a trace stages it into an outer program (``jit``, ``grad``,
    ``lax.map``, ``scan``), for which JAX raises ValueError. Decided by calling a tiny
    program with options on the tracer (cheap: no compilation of the real program)."""
    try:
        _probe()(tracer)
    except ValueError:
        return False
    return True


class _Program:
    """``jax.jit(fun, **jit_kwargs)``, compiled with :data:`COMPILER_OPTIONS` where XLA takes
    them: a top-level call, also under a top-level ``vmap`` or ``jvp``. Inside a trace that
    stages it into an outer program (an outer ``jit``, ``grad``, ``lax.map``, also through
    closed-over arguments) it is the plain ``jax.jit`` of ``fun``, compiled as part of the
    outer program. The jitted functions are made on first use (the options are probed then,
    not at import: probing starts a backend). Every attribute of the jitted function
    (``lower``, ``trace``, ``eval_shape``, ``_cache_size``, ``clear_cache``) is the
    top-level program's."""

    def __init__(self, fun, jit_kwargs):
        functools.update_wrapper(self, fun)
        self._jit_kwargs = jit_kwargs
        self._top = self._nested = None

    def _program(self):
        if self._top is None:
            self._top = jax.jit(self.__wrapped__, compiler_options=_accepted_compiler_options(),
                                **self._jit_kwargs)
        return self._top

    def _plain(self):
        if self._nested is None:
            self._nested = jax.jit(self.__wrapped__, **self._jit_kwargs)
        return self._nested

    def __call__(self, *args, **kwargs):
        if _accepted_compiler_options() is None:
            return self._plain()(*args, **kwargs)
        tracer = next((leaf for leaf in jax.tree_util.tree_leaves((args, kwargs))
                       if isinstance(leaf, jax.core.Tracer)), None)
        if tracer is not None and not _options_allowed(tracer):
            return self._plain()(*args, **kwargs)
        try:
            return self._program()(*args, **kwargs)
        except ValueError:
            # staged into an outer trace through closed-over values only (or a ValueError
            # of fun itself, which the plain program raises again)
            return self._plain()(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_top", "_nested", "_jit_kwargs"):
            raise AttributeError(name)
        return getattr(self._program(), name)


def jit(fun=None, /, *, compiler_options: bool = True, **jit_kwargs):
    """``jax.jit`` for the package's programs: the same arguments (``static_argnames``,
    ``donate_argnames``, …), compiled with :data:`COMPILER_OPTIONS` (``compiler_options=
    False``: with XLA's defaults, for programs that run faster so). Usable as ``@jit``,
    ``@jit(static_argnums=2)`` or ``jit(f, **kwargs)``."""
    if fun is None:
        return functools.partial(jit, compiler_options=compiler_options, **jit_kwargs)
    if not compiler_options:
        return jax.jit(fun, **jit_kwargs)
    return _Program(fun, jit_kwargs)


def map_in_batches(f, xs, batch_size: int):
    """``jax.lax.map(f, xs, batch_size=...)`` in equal batches of at most ``batch_size``.

    ``lax.map`` vmaps a remainder that does not fill a batch separately, which puts a
    second copy of ``f`` into the program (compiled again: seconds for the pole solvers).
    Here the leading axis (length n) is padded by repeating its last entry to
    ⌈n/b⌉·b', b' = ⌈n/⌈n/b⌉⌉ <= b (less than one entry of padding per batch), mapped in
    batches of b' and trimmed: the same values, one copy of ``f``. Memory O(b' · size of
    one f call), as ``lax.map``.
    """
    leaves = jax.tree_util.tree_leaves(xs)
    n = leaves[0].shape[0]
    batch = max(1, min(int(batch_size), n))
    n_batches = -(-n // batch)
    batch = -(-n // n_batches)
    pad = n_batches * batch - n
    if pad:
        xs = jax.tree_util.tree_map(
            lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]), xs)
    # (batches of one: a plain scan; a vmap over one entry would turn every lax.cond in f
    # into a select that computes both branches)
    out = jax.lax.map(f, xs, batch_size=None if batch == 1 else batch)
    return jax.tree_util.tree_map(lambda y: y[:n], out) if pad else out
