"""Failure convention: result types with a status, NotConvergedError and the ``throw`` check.

Every public solver comes as a pair (documented once in the package docstring): a plain
form returning the value, which raises :class:`NotConvergedError` when the solver reports
non-convergence (``throw=True``, the default), and a ``*_with_error`` form returning a
NamedTuple with ``converged`` and ``error_estimate`` that never raises for
non-convergence. :func:`raise_if_not_converged` is the one place the check is made:

* concrete status (an eager call): a plain Python ``raise NotConvergedError``;
* traced status (under ``jax.jit``, ``jax.vmap``, ``jax.grad``, ``lax.map``): the number of
  failed lanes is counted over the whole batch (a ``custom_vmap`` reduction, so that under
  ``vmap`` the count stays one unbatched scalar) and a ``lax.cond`` on it calls
  ``jax.debug.callback`` only when something failed; the callback raises, and JAX reports
  that as a runtime error (``JaxRuntimeError``) whose message contains
  ``NotConvergedError: <function> did not converge ...``. When everything converged the
  program runs one integer reduction and a skipped branch: no host round trip.

The value passes through untouched (bit for bit, gradients included): the check adds an
effect, not an operation on the value. Cost: the check itself is ~60 µs per compiled call
(nothing measurable at the call of an eager ``heat_flux``: 36–37 ms at N = 1000 before and
after). Under an outer ``jax.jit`` the status has to be computed, which XLA otherwise drops
as dead code when only the value is used: ``jit(heat_flux)`` at N = 1000 takes ~37 ms with
``throw=True`` against ~31 ms with ``throw=False`` (2-core CPU).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401
from ._model import is_concrete

__all__ = ["NotConvergedError", "FluxResult", "TemperatureResult", "raise_if_not_converged"]


class NotConvergedError(RuntimeError):
    """A solver reported non-convergence (its ``converged`` flag is False).

    Raised by the plain form of a public solver (``heat_flux``, ``local_temperatures``,
    ``resonance_frequency``, ...) with ``throw=True``; the ``*_with_error`` forms return the
    status instead. Under ``jax.jit``/``jax.vmap`` it surfaces as a JAX runtime error whose
    message contains ``NotConvergedError`` and the function's name.
    """


class FluxResult(NamedTuple):
    """Heat flux with its accuracy.

    Attributes:
      flux: J of Eq. (16), energy per unit time from the left bath into the chain
        (ΔT = T_L − T_R included).
      error_estimate: estimated absolute error of ``flux`` (for ``"residues"``, a bound
        built from the rounding noise of every pole and term; see docs/method.md).
      converged: True only if every iteration converged, every consistency check passed
        and (``"residues"``) ``error_estimate <= 1e-9·|flux|``; otherwise ``flux`` must not be
        trusted to 9 digits.
    """

    flux: jax.Array
    error_estimate: jax.Array
    converged: jax.Array


class TemperatureResult(NamedTuple):
    """Local temperatures with their accuracy.

    Attributes:
      temperatures: (N,) array of T_n = m_n ⟨q̇_n²⟩ (Eq. 31).
      error_estimate: (N,) estimated absolute errors.
      converged: False if the underlying iteration or a check failed, or (``"residues"``)
        if some error_estimate exceeds 1e-9·max(T_L, T_R), or if unequal bulk masses a few
        ulp apart share one bulk frequency (their difference mode, decoupled to rounding,
        is thermalised in the exact steady state after ~1e30 time units: T_n is not
        resolved; J is unaffected).
      unresolved: (N,) the share of each T_n carried by modes whose coupling to the baths
        float64 cannot resolve, T_n(``decoupled="steady"``) − T_n(``"rest"``): which
        sites depend on that convention and by how much (network ``"residues"``; zeros
        for ``"transfer"``, which resolves every mode). None where the method does not
        report it (chains, ``"lyapunov"``, quantum baths).
    """

    temperatures: jax.Array
    error_estimate: jax.Array
    converged: jax.Array
    unresolved: jax.Array | None = None


@jax.custom_batching.custom_vmap
def _count_failed(converged):
    return jnp.sum(~converged).astype(jnp.int32)


@_count_failed.def_vmap
def _count_failed_over_batch(axis_size, in_batched, converged):
    # every lane of the batch at once, unbatched result: the cond below stays a cond
    return jnp.sum(~converged).astype(jnp.int32), False


def _message(what: str, failed: int, advice: str) -> str:
    text = f"{what} did not converge for {failed} system(s)"
    return f"{text}; {advice}" if advice else text


def raise_if_not_converged(value, converged, what: str, advice: str = ""):
    """Return ``value``; raise :class:`NotConvergedError` if any ``converged`` is False.

    Concrete ``converged``: raises here. Traced: raises when the compiled program runs (see
    the module docstring), only if some lane failed. ``what`` names the public function;
    ``advice`` is appended to the message. Cost: O(size of ``converged``).
    """
    if is_concrete(converged):
        ok = np.asarray(converged, dtype=bool)
        if not np.all(ok):
            raise NotConvergedError(_message(what, int(np.sum(~ok)), advice))
        return value
    failed = _count_failed(jnp.asarray(converged, dtype=bool))

    def raise_now(count):
        raise NotConvergedError(_message(what, int(count), advice))

    jax.lax.cond(failed > 0, lambda c: jax.debug.callback(raise_now, c), lambda c: None, failed)
    return value
