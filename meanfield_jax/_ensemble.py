"""Ensembles of systems: chunked, vectorized and sharded evaluation of J and T(ω).

An ensemble is a batch of systems of the same N: a :class:`MeanFieldChain` (or
:class:`HarmonicNetwork`) whose leaves carry a leading realization axis of length R (build
it with :func:`stack_systems`, or pass an (R, N) mass array and scalar parameters to
:func:`batch_chains`). Evaluation is organised in three levels:

1. **Chunks** of ``chunk_size`` systems are one compiled call each; memory and the
   compiled program depend on the chunk, never on R. The last chunk is padded (by repeating
   its last system) to the same shape, so an ensemble costs one compilation per N, and
   the residue flux (:func:`ensemble_flux`, sweeps) one per program size: the batch is
   padded to a size B on the host (``_buckets``, inert padding, true N passed as a traced
   argument), so ensembles of different N share a program. B follows the batch rule of
   ``_buckets.batch_bucket_size``: small batches share the single calls' one-program
   buckets; a batch whose padding there would cost more than 0.1 s and 10% of its work
   runs on a finer ladder or at its exact N.
2. Inside a chunk, systems are spread over a 1-d :class:`jax.sharding.Mesh` of devices
   (axis ``"realization"``) with :func:`jax.shard_map`; a chunk is padded to a multiple of
   ``devices × batch_size``.
3. On each device ``_config.map_in_batches`` (``lax.map`` in equal batches) runs
   ``batch_size`` systems at a time through ``jax.vmap``. The exact residue flux is already vectorized over the N
   poles, so ``batch_size`` 1 is fastest beyond N ≈ 300 (vmapping a batch of while loops
   runs every lane to the slowest); :func:`default_batch_size` picks it from N.

Every system is computed by the same per-system program regardless of its position,
chunk or device, so results do not depend on ``chunk_size`` or on the number of devices
(tested bit for bit with 1 and 4 devices).

Cost: R × (cost of one system), e.g. O(R·N²) for the residue flux, O(R·N·n_ω) for
T(ω); memory O(chunk_size · N) for both (plus the flux method's own O(N) work space per
system in flight).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import _config
from ._failure import FluxResult, raise_if_not_converged
from ._landauer import checked_hbar, quantum_flux_fn, quantum_method
from ._lyapunov import flux_lyapunov
from ._model import (
    HarmonicNetwork,
    MeanFieldChain,
    bath_components,
    chain_batch,
    check_finite_omega,
    check_system_batch,
    is_concrete,
    parse_n_tilde,
)
from ._buckets import batch_bucket_size, buckets_enabled, pad_chain, pad_network
from ._transfer import flux_transfer_callback, from_network
from ._transport import (
    METHODS,
    auto_uses_fmm,
    flux_residues,
    flux_residues_fmm,
    flux_secular,
    resolve_method,
    transmittance_grid,
    transmittance_secular,
)

__all__ = [
    "batch_chains",
    "device_mesh",
    "flux_fn",
    "pads_to_buckets",
    "default_batch_size",
    "map_ensemble",
    "compile_ensemble",
    "ensemble_flux",
    "ensemble_transmittance",
]

AXIS = "realization"


def device_mesh(devices=None) -> Mesh:
    """A 1-d device mesh with axis ``"realization"`` over ``devices``.

    Args:
      devices: a sequence of devices, an int (the first that many local devices), or None
        for all of this process's devices (``jax.local_devices()``; in a multi-process run
        each process works on its own share with its own devices).
    """
    if devices is None:
        devices = jax.local_devices()
    elif isinstance(devices, (int, np.integer)):
        local = jax.local_devices()
        if not 1 <= devices <= len(local):
            raise ValueError(f"devices must be between 1 and {len(local)}, got {devices}")
        devices = local[: int(devices)]
    devices = list(devices)
    if not devices:
        raise ValueError("devices: need at least one device")
    return Mesh(np.array(devices), (AXIS,))


def default_batch_size(n: int) -> int:
    """vmap width for the residue flux at size N: 8 for N <= 64, 4 up to 128, 2 up to 256, else 1.

    Small chains gain from vmapping several at once, large ones lose (the measurements
    behind the thresholds are on the documentation's Performance page).
    """
    if n <= 64:
        return 8
    if n <= 128:
        return 4
    if n <= 256:
        return 2
    return 1


def batch_chains(masses, *, k=1.0, k0=0.0, n_tilde="kac", gamma=1.0, t_left=1.0,
                 t_right=0.0, k_prime=0.0) -> MeanFieldChain:
    """A batch of R mean-field chains from an (R, N) mass array; parameters broadcast to (R,).

    Parameters may be scalars or length-R arrays; ``n_tilde="kac"`` means Ñ = N − 1.
    Validation as in :class:`MeanFieldChain`, element by element. O(R·N).

    Args:
      masses: (R, N) array of masses > 0, N >= 2.
      k, k0, n_tilde, gamma, t_left, t_right, k_prime: as in :class:`MeanFieldChain`, each
        a scalar or a length-R array.

    Returns:
      a MeanFieldChain batch: every leaf with a leading axis R (for ``jax.vmap`` and the
      ``ensemble_*`` functions).

    Raises:
      ValueError: naming the parameter, for masses not of shape (R, N), a parameter that is
        neither a scalar nor length R, or a bad value (as :class:`MeanFieldChain`).
      TypeError: for bool, complex or non-numeric values.

    >>> import numpy as np
    >>> import meanfield_jax as mf
    >>> b = mf.batch_chains(np.ones((3, 5)), k=0.1, k0=[0.0, 0.02, 0.02])
    >>> b.masses.shape, b.k0.shape, float(b.n_tilde[0])
    ((3, 5), (3,), 4.0)
    """
    masses = np.asarray(masses)
    if masses.ndim != 2:
        raise ValueError(f"masses must have shape (R, N), got {masses.shape} (for one system "
                         f"use MeanFieldChain)")
    r, n = masses.shape
    n_tilde = parse_n_tilde(n_tilde, n)

    def vec(name, value):
        arr = np.asarray(value)
        try:
            return np.broadcast_to(arr, (r,)).copy()
        except ValueError:
            raise ValueError(f"{name} must be a scalar or have length R = {r}, "
                             f"got shape {arr.shape}") from None

    return chain_batch(masses, k=vec("k", k), k0=vec("k0", k0),
                       n_tilde=vec("n_tilde", n_tilde), gamma=vec("gamma", gamma),
                       t_left=vec("t_left", t_left), t_right=vec("t_right", t_right),
                       k_prime=vec("k_prime", k_prime))


def _batch_length(systems) -> int:
    leaves = jax.tree_util.tree_leaves(systems)
    if not leaves or any(np.ndim(x) == 0 for x in leaves):
        raise ValueError("systems must be a batch: every leaf needs a leading realization axis "
                         "(use stack_systems or batch_chains)")
    lengths = {np.shape(x)[0] for x in leaves}
    if len(lengths) != 1:
        raise ValueError(f"systems: leaves have different leading lengths {sorted(lengths)}")
    return lengths.pop()


@functools.lru_cache(maxsize=None)
def _compiled(fn: Callable, mesh: Mesh, batch_size: int, compiler_options: bool = True):
    """jit(shard_map(lax.map(fn, batch_size))) over the mesh; jit caches per input shape.
    ``compiler_options``: as in ``_config.jit`` (networks run faster without)."""

    def per_device(batch, *args):
        # equal batches (one copy of fn in the program); batch_size 1 is a plain scan
        return _config.map_in_batches(lambda s: fn(s, *args), batch, batch_size)

    def run(batch, *args):
        specs = (PartitionSpec(AXIS),) + (PartitionSpec(),) * len(args)
        return jax.shard_map(per_device, mesh=mesh, in_specs=specs,
                             out_specs=PartitionSpec(AXIS), check_vma=False)(batch, *args)

    return _config.jit(run, compiler_options=compiler_options)


def _chunks(fn: Callable, systems, chunk_size: int, batch_size: int | None, devices):
    """(compiled runner, iterator of (start, stop, device chunk)) of :func:`map_ensemble`."""
    r = _batch_length(systems)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    mesh = device_mesh(devices) if not isinstance(devices, Mesh) else devices
    n = systems.masses.shape[-1] if hasattr(systems, "masses") else 1
    width = int(batch_size or default_batch_size(n))
    if width < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    step = mesh.devices.size * width
    padded = -(-min(chunk_size, r) // step) * step
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    host = jax.tree_util.tree_map(np.asarray, systems)

    def chunks():
        for start in range(0, r, chunk_size):
            stop = min(start + chunk_size, r)
            idx = np.minimum(np.arange(start, start + padded), stop - 1)  # pad: repeat last
            chunk = jax.tree_util.tree_map(lambda x: x[idx], host)
            yield start, stop, jax.device_put(chunk, sharding)

    networks = isinstance(systems, HarmonicNetwork)
    return _compiled(fn, mesh, width, not networks), chunks()


def map_ensemble(fn: Callable, systems, *args, chunk_size: int = 16,
                 batch_size: int | None = None, devices=None, on_chunk=None) -> Any:
    """Apply a per-system function to every system of a batch, chunked and sharded.

    Args:
      fn: ``fn(system, *args) -> pytree of arrays`` for ONE system (pure, jit-able). Pass the
        same function object each time: compiled programs are cached by it.
      systems: a batch of R systems (leading axis R on every leaf).
      *args: arrays passed unbatched to every call (e.g. a frequency grid).
      chunk_size: systems per compiled call (bounds memory; results do not depend on it).
      batch_size: systems vmapped together on a device (default :func:`default_batch_size`).
      devices: as in :func:`device_mesh`.
      on_chunk: optional callback ``on_chunk(start, stop)`` after each finished chunk.

    Returns:
      the pytree of ``fn``'s outputs with a leading axis R, as NumPy arrays.

    Raises:
      ValueError: if ``systems`` is not a batch (a leaf without the leading axis, or leaves
        of different lengths), or for a bad ``devices``.

    Cost: R × cost(fn); one compilation per (N, chunk shape, batch_size, mesh).

    >>> import numpy as np
    >>> import meanfield_jax as mf
    >>> def total_mass(system):
    ...     return system.masses.sum()
    >>> mf.map_ensemble(total_mass, mf.batch_chains(np.ones((3, 4)))).tolist()
    [4.0, 4.0, 4.0]
    """
    run, chunks = _chunks(fn, systems, chunk_size, batch_size, devices)
    outs = []
    for start, stop, chunk in chunks:
        out = run(chunk, *args)
        outs.append(jax.tree_util.tree_map(lambda x: np.asarray(x)[: stop - start], out))
        if on_chunk is not None:
            on_chunk(start, stop)
    return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *outs)


def compile_ensemble(fn: Callable, systems, *args, chunk_size: int = 16,
                     batch_size: int | None = None, devices=None) -> None:
    """Compile, without running, the program that :func:`map_ensemble` with the same
    arguments would run (its later calls then find it in JAX's cache).

    The compilation itself runs outside Python's GIL, so programs for several sizes can be
    compiled at once from threads (the sweep does). Cost: one compilation (or none if
    cached); nothing is evaluated.
    """
    run, chunks = _chunks(fn, systems, chunk_size, batch_size, devices)
    _, _, chunk = next(chunks)
    run.lower(chunk, *args).compile()


def flux_fn(method: str) -> Callable:
    """The per-system flux function of ``method`` for :func:`map_ensemble`: ``fn(system)``
    returns (flux, error_estimate, converged) by residues (``"auto"``, ``"residues"``: the
    chain's pole solver, or the secular solver for networks) or ``"lyapunov"``. The
    residue function also takes ``fn(system, n)``, the true N of chains padded to a size
    bucket (:func:`meanfield_jax._buckets.pad_chain`), passed to :func:`map_ensemble` as an
    unbatched argument (traced: one compiled program serves every N of the bucket). The
    same function object for the same method (compiled programs are cached by it).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "lyapunov":
        return _flux_lyapunov_one
    if method == "auto":
        return _flux_auto_one
    if method == "transfer":
        return _flux_transfer_one
    return _flux_fmm_one if method == "residues-fmm" else _flux_residues_one


def _flux_transfer_one(system):
    """Nearest-neighbour networks: the host-driven quadrature of ``_transfer`` as one JAX
    operation (``pure_callback``; systems in turn). K is checked by the caller."""
    return tuple(flux_transfer_callback(from_network(system)))


def _flux_auto_one(system, n=None):
    """``"auto"``: the O(N) flux for chains whose (padded) arrays are longer than
    ``FMM_ABOVE``, decided at trace time from the static shape, else the residue flux."""
    if auto_uses_fmm(system):
        return _flux_fmm_one(system, n)
    return _flux_residues_one(system, n)


def _flux_residues_one(system, n=None):
    if isinstance(system, HarmonicNetwork):  # networks: the secular normal-mode solver
        return tuple(flux_secular(system, n))
    return tuple(flux_residues(system, n))


def _flux_fmm_one(system, n=None):
    return tuple(flux_residues_fmm(system, n))


def _flux_lyapunov_one(system):
    return tuple(flux_lyapunov(system))


def pads_to_buckets(systems, method: str) -> bool:
    """Whether ``method`` on these systems runs through size buckets (``_buckets``): the
    residue flux of mean-field chains and of networks (the secular solver, padded on the
    finer step ladder, ``pad_network``), unless ``MEANFIELD_JAX_BUCKETS`` turns them off."""
    return (method in ("auto", "residues", "residues-fmm")
            and isinstance(systems, (MeanFieldChain, HarmonicNetwork)) and buckets_enabled())


def _cost_kind(systems, method: str) -> str:
    """The cost model (``_buckets.COST_MODELS``) of ``method`` (resolved) on these systems."""
    if isinstance(systems, HarmonicNetwork):
        return "network"
    return "residues-fmm" if method == "residues-fmm" else "residues"


def _pad_to_bucket(systems, method: str):
    """(systems, extra map_ensemble args) of a batch of R systems: padded to the program
    size of the batch rule (``_buckets.batch_bucket_size``: the one-program bucket for a
    small batch, a finer ladder or the exact N for one whose work is worth it), with the
    true N as the (traced) extra argument; unpadded, with none, at the exact size."""
    r, n = systems.masses.shape
    size = batch_bucket_size(n, r, _cost_kind(systems, method))
    if size == n:
        return systems, ()
    pad = pad_network if isinstance(systems, HarmonicNetwork) else pad_chain
    padded, n_true = pad(systems, size)
    return padded, (n_true,)


def ensemble_flux(systems, *, method: str = "auto", chunk_size: int = 16,
                  batch_size: int | None = None, devices=None,
                  throw: bool = False, hbar=0.0) -> FluxResult:
    """Heat flux J (Eq. 16) of every system of an ensemble, chunked over devices.

    Args:
      systems: a batch of R :class:`MeanFieldChain` or :class:`HarmonicNetwork`, leading
        axis R on every leaf.
      method: as in :func:`heat_flux_with_error` ("auto" = "residues": the chain residue
        solver, or the secular normal-mode solver for networks).
      chunk_size, batch_size, devices: see :func:`map_ensemble`.
      throw: raise NotConvergedError if some system did not converge (after all are
        computed). Default False: like the ``*_with_error`` forms, the result carries the
        status per system.
      hbar: ħ ≥ 0; ħ > 0 gives the Landauer current with quantum baths (as
        ``heat_flux(..., hbar=ħ)``; methods "auto", "residues", "residues-fmm").

    Returns:
      FluxResult of NumPy arrays of shape (R,): flux, error_estimate, converged (check it).
      Networks whose baths sit in separate components get J = 0 exactly (as in
      :func:`heat_flux_with_error`; checked on concrete K).

    Raises:
      NotConvergedError: with ``throw=True``, naming how many systems failed.
      ValueError: for a single system or malformed batch, or a network with a component
        coupled to neither bath (naming the
        realization and the particles).

    Cost: O(R·N²) time for "residues" (O(R·B²) with B the program size that
    ``_buckets.batch_bucket_size`` chooses for R systems of N: the one-program bucket of
    the single calls while its padding costs at most 0.1 s or 10% of the work, else a finer
    ladder or N itself; one compilation per program size; results equal the unpadded ones
    to rounding), O(R·N³) for "lyapunov"; memory O(chunk_size·N) resp. O(chunk_size·N²).

    >>> import numpy as np
    >>> import meanfield_jax as mf
    >>> res = mf.ensemble_flux(mf.batch_chains(np.ones((2, 3)), k=0.1), chunk_size=2)
    >>> np.round(res.flux, 12).tolist(), res.converged.tolist()
    ([0.041666666667, 0.041666666667], [True, True])
    """
    r = check_system_batch(systems, "ensemble_flux")
    h = checked_hbar(hbar)
    if h is not None:
        method = quantum_method(systems, method, "ensemble_flux")
    else:
        method = resolve_method(systems, method)
    if method == "transfer":
        from_network(systems, method)  # ValueError naming the method unless tridiagonal
    decoupled = _decoupled_networks(systems, r)
    args = ()
    if pads_to_buckets(systems, method):  # one program per size bucket, not per N
        systems, args = _pad_to_bucket(systems, method)
    fn = flux_fn(method) if h is None else quantum_flux_fn(method)
    if h is not None:
        args = (h,) + tuple(args)
    flux, err, ok = map_ensemble(fn, systems, *args, chunk_size=chunk_size,
                                 batch_size=batch_size, devices=devices)
    ok = ok.astype(bool)
    flux[decoupled], err[decoupled], ok[decoupled] = 0.0, 0.0, True  # exact: no path for heat
    result = FluxResult(flux, err, ok)
    if throw:
        raise_if_not_converged(result, ok, f"ensemble_flux ({method})",
                               "see the result's converged flags (throw=False)")
    return result


def _decoupled_networks(systems, r: int) -> np.ndarray:
    """(R,) mask of networks whose baths sit in separate components (J = 0 exactly), as in
    :func:`heat_flux_with_error`; raises ValueError naming a realization with a component
    coupled to neither bath. Concrete network batches only (O(R·N²)); else all False."""
    mask = np.zeros(r, dtype=bool)
    if not isinstance(systems, HarmonicNetwork) or not is_concrete(systems.stiffness):
        return mask
    stiffness = np.asarray(systems.stiffness)
    for i in range(r):
        try:
            mask[i] = bath_components(stiffness[i]) is not None
        except ValueError as e:
            raise ValueError(f"systems[{i}]: {e}") from None
    return mask


def _transmittance_one(system, omega):
    if isinstance(system, HarmonicNetwork):  # one eigh, then O(N) per frequency
        return transmittance_secular(system, omega)
    return transmittance_grid(system, omega)


def ensemble_transmittance(systems, omega, *, chunk_size: int = 16,
                           batch_size: int | None = None, devices=None) -> np.ndarray:
    """Transmittance T(ω) (Eq. 17) of every system of an ensemble on a frequency grid.

    Cost O(R·N·n_ω) for chains (O(R·(N³ + N·n_ω)) for networks); memory
    O(chunk_size·N·n_ω).

    Args:
      systems: a batch of R systems (``stack_systems``, ``batch_chains``).
      omega: real frequencies, any shape.
      chunk_size, batch_size, devices: see :func:`map_ensemble`.

    Returns:
      NumPy float64 array of shape (R,) + omega.shape.

    Raises:
      ValueError: for a single system or malformed batch, or non-finite ``omega``.

    >>> import numpy as np
    >>> import meanfield_jax as mf
    >>> T = mf.ensemble_transmittance(mf.batch_chains(np.ones((2, 4)), k=1.0), [0.0, 0.5])
    >>> T.shape, float(T[0, 0])  # T(0) = 1 for identical masses without pinning (Eq. 23)
    ((2, 2), 1.0)
    """
    check_system_batch(systems, "ensemble_transmittance")
    omega = check_finite_omega(omega)
    return map_ensemble(_transmittance_one, systems, omega, chunk_size=chunk_size,
                        batch_size=batch_size or 8, devices=devices)
