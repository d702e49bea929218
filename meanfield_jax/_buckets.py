"""Size buckets: one compiled program per bucket of chain sizes N, not one per N.

XLA compiles a program for every input shape, and the exact residue solver costs seconds
to compile (~3–5 s at any N on an idle 2-core CPU, tracing included; twice that on a busy
one) against 0.02 s to run at N = 10³. The
public chain paths (:func:`transmittance`, :func:`heat_flux` (``_with_error``),
:func:`local_temperatures` (``_with_error``), :func:`resonance_frequency` (``_with_error``),
:func:`find_resonances`, :func:`fit_resonance_lorentzians`, also under ``jax.vmap``)
therefore pad a
chain of N particles to the next size B of a ladder with *inert* particles, run the
program compiled for B with the true N passed as a traced value, and trim the result back
to N. Batch jobs (ensembles, sweeps) pad on the host by the batch rule below.

Padding. The masses become [m_1, m_2 … m_{N−1}, padding (B − N), m_N]: the bath particles
stay the first and the last real particle. The solvers receive the true N and treat the
padded bulk entries as weight-0 entries above the band (the same kind of entry that
``_pole_chain.PoleChain`` already uses to pad its list of distinct bulk frequencies): they add no
pole, no residue term and nothing to any sum, error bound or convergence flag, and
κ̄ = N k/Ñ uses the true N (Ñ = N − 1 for ``"kac"`` is a leaf of the chain already).
Results agree with the unpadded program to rounding (tests/test_buckets.py: 1e-14
relative for J, 1e-13 absolute for T_n, gradients likewise).

Ladder (chosen from measurements, ``scripts/bench_flux.py``, on the documentation's
Performance page: one compilation of the residue flux takes seconds at any N, a warm call
milliseconds up to N ~ 10³): padding up to 16× costs nothing noticeable while warm calls
are short, so the buckets are four-fold wide up to 4096 and √2 (at most 2× the work) above:

    N = 2 exact;  3…16 → 16;  17…64 → 64;  65…258 → 258;  259…1024 → 1024;
    1025…4096 → 4096;  then ⌈4096·2^(j/2)⌉: 5793, 8192, 11586, 16384, …

Twenty sizes spread over 10…5000 thus need 6 compilations instead of 20, and a padded
call costs at most ~0.6 s more than an exact one (N = 1025 in the 4096 bucket). The rung
258 (not 256) keeps every bucket on one side of the switch to the interpolated first
guesses of ``_gap_zeros.gap_roots`` (N − 3 >= 256 gaps): each N takes the code path it
would take unpadded. Measured figures: scripts/bench_compile.py and the Performance page.

The Langevin step of a chain (``_langevin``) pads on a finer ladder,
:func:`step_bucket_size` (4 buckets per octave from 16: a run takes 10⁴–10⁶ steps, so the
padding must cost little per step, and a step compiles in ~1 s), with inert particles
(1/m = 0, no bath).

Networks (:func:`pad_network`: ``heat_flux``, ``local_temperatures``, ``transmittance`` of a
:class:`HarmonicNetwork`) pad on the same finer ladder, since their ``eigh`` costs O(N³)
(at most 1.19³ ≈ 1.7× the work of the exact size): free particles (no spring, unit mass)
appended after particle N, a diagonal block of K that the eigendecomposition keeps apart
exactly (its modes have zero amplitude at both baths and are deflated); the true N tells
the solver which particle is the right bath's.

Batch jobs. A single call's padding costs it little (at most ~0.6 s, N = 1025 in the 4096
bucket), but an ensemble pays it once per system: 64 chains of N = 400 in the bucket 1024
take twice their exact-size time. So an ensemble (:func:`batch_bucket_size`) runs on the
coarsest ladder whose padding adds at most max(0.1 s, 10% of its exact-size warm work),
never more than one compilation (:func:`padding_allowance`, warm work from the cost models
:data:`COST_MODELS`): the interactive ladder for small batches (they share the single
calls' programs), else 4, 8, 16 or 32 buckets per octave, else N itself. A sweep
(:func:`merged_buckets`) knows all its sizes and pads a size only to a larger size of the
job, under the same allowance.

What padding costs: the solvers' O(N) passes run over all B entries, one pass per real
pole, so a chain padded from N to B costs about B/N times its exact-size O(N²) work (the
padded entries add no pole; N = 400 in the bucket 1024 runs J in ~0.6 of an exact
N = 1024 call). T(ω) sums its padded entries as ordinary terms of weight 0
(``_green.chain_q``): a per-element mask there made XLA on CPU write out the whole
(frequencies × N) array of terms before summing it, 3–4× the exact-size time under
``jax.vmap`` for 2.4% more particles.

Switch: the environment variable ``MEANFIELD_JAX_BUCKETS``, read at each call (under an
outer ``jit``: at trace time), so it can also be changed in a running session through
``os.environ``. Unset, ``1`` or ``on``: the ladder above; ``0``, ``off`` or ``false``: no
padding (one compilation per N); an integer p >= 2: a geometric ladder of p buckets per
octave from 16 (e.g. ``4``: at most 41% more work, for long scans at a fixed N where the
warm time matters more than compilations).
"""

from __future__ import annotations

import bisect
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from . import _config  # noqa: F401
from ._gap_zeros import INTERPOLATED_MIN_GAPS
from ._model import HarmonicNetwork, MeanFieldChain

__all__ = ["active_ladder", "buckets_enabled", "bucket_size", "merged_buckets", "pad_chain",
           "pad_network", "pad_particles", "step_bucket_size", "trim_particles"]

ENV_VAR = "MEANFIELD_JAX_BUCKETS"
# the first N of the interpolated-guess gap path (N − 3 gaps)
_FAST_PATH_FIRST_N = INTERPOLATED_MIN_GAPS + 3
_LARGEST = 2**24  # beyond the ladder: exact sizes


def _default_ladder() -> tuple[int, ...]:
    rungs = [16, 64, _FAST_PATH_FIRST_N - 1, 1024, 4096]
    j = 1
    while rungs[-1] < _LARGEST:
        rungs.append(math.ceil(4096 * 2.0 ** (j / 2) - 1e-9))
        j += 1
    return tuple(rungs)


def _geometric_ladder(per_octave: int) -> tuple[int, ...]:
    """⌈16·2^(j/p)⌉ for j >= 0, the last rung below the fast gap path moved to 258."""
    rungs = []
    j = 0
    while not rungs or rungs[-1] < _LARGEST:
        rung = math.ceil(16 * 2.0 ** (j / per_octave) - 1e-9)
        if not rungs or rung > rungs[-1]:
            rungs.append(rung)
        j += 1
    below = max(i for i, r in enumerate(rungs) if r < _FAST_PATH_FIRST_N)
    rungs[below] = _FAST_PATH_FIRST_N - 1
    return tuple(rungs)


LADDER = _default_ladder()


def active_ladder() -> tuple[int, ...] | None:
    """The ladder selected by ``MEANFIELD_JAX_BUCKETS`` (module docstring); None: off."""
    value = os.environ.get(ENV_VAR, "1").strip().lower()
    if value in ("", "1", "on", "true", "yes"):
        return LADDER
    if value in ("0", "off", "false", "no"):
        return None
    try:
        per_octave = int(value)
    except ValueError:
        per_octave = 0
    if per_octave < 2:
        raise ValueError(f"{ENV_VAR} must be 0/off, 1/on or a number of buckets per octave "
                         f">= 2, got {value!r}")
    return _geometric_cached(per_octave)


_LADDERS: dict[int, tuple[int, ...]] = {}


def _geometric_cached(per_octave: int) -> tuple[int, ...]:
    if per_octave not in _LADDERS:
        _LADDERS[per_octave] = _geometric_ladder(per_octave)
    return _LADDERS[per_octave]


def buckets_enabled() -> bool:
    """False when ``MEANFIELD_JAX_BUCKETS`` turns the padding off."""
    return active_ladder() is not None


def bucket_size(n: int, ladder: tuple[int, ...] | None = LADDER) -> int:
    """The padded size B >= n of the bucket holding N = n (module docstring). O(log n).

    N = 2 (no bulk) and N beyond the ladder stay exact; ``ladder=None``: always exact.

    >>> [bucket_size(n) for n in (2, 3, 16, 17, 100, 258, 259, 1000, 1025, 5000)]
    [2, 16, 16, 64, 258, 258, 1024, 1024, 4096, 5793]
    """
    if ladder is None or n <= 2 or n > ladder[-1]:
        return n
    return ladder[bisect.bisect_left(ladder, n)]


#: Buckets per octave of the ladder for O(N)-per-step kernels (the Langevin step): a step
#: compiles in ~0.5–1 s but a run takes 10⁴–10⁶ of them, so the padding must cost little
#: (at most 19% more work per step here, against up to 4× for the solvers' ladder).
STEP_PER_OCTAVE = 4


def step_bucket_size(n: int) -> int:
    """The padded size of an O(N)-per-step kernel (and of a network, :func:`pad_network`:
    O(N³) eigh) at N = n: ⌈16·2^(j/4)⌉ (16, 20, 23, 27,
    32, 39, …; at most 19% above N), or, when ``MEANFIELD_JAX_BUCKETS`` selects p buckets per
    octave, that ladder; N itself when buckets are off. O(log n).

    >>> [step_bucket_size(n) for n in (2, 3, 16, 17, 100, 1000)]
    [2, 16, 16, 20, 108, 1024]
    """
    ladder = active_ladder()
    if ladder is LADDER:
        ladder = _geometric_cached(STEP_PER_OCTAVE)
    return bucket_size(n, ladder)


def pad_particles(x, size: int, fill=0.0):
    """Per-particle values (last axis, N entries) in the padded layout of ``size`` particles:
    [x_1 … x_{N−1}, fill × (size − N), x_N] (the bath particles stay first and last);
    the inverse of :func:`trim_particles`. NumPy in, NumPy out (host-side setup). O(size)."""
    x = np.asarray(x)
    n = x.shape[-1]
    if size == n:
        return x
    if size < n:
        raise ValueError(f"pad_particles: size {size} < N = {n}")
    fill = np.broadcast_to(np.asarray(fill, dtype=x.dtype), x.shape[:-1] + (size - n,))
    return np.concatenate([x[..., :-1], fill, x[..., -1:]], axis=-1)


def pad_chain(chain: MeanFieldChain, size: int | None = None):
    """(chain padded to ``size`` particles, true N) for the bucketed solvers.

    ``size`` defaults to :func:`bucket_size` of the chain's (static) N on the ladder
    selected by ``MEANFIELD_JAX_BUCKETS``. Works on concrete
    arrays and on tracers (shapes are static), so under ``jax.vmap``/``jit`` too, and on a
    batch of chains of one N (masses (R, N): every chain padded along the last axis). The
    padded particles carry the first mass (gradient-stopped: only its finiteness matters);
    the solvers ignore them given the true N. O(size) per chain.
    """
    n = chain.n
    size = bucket_size(n, active_ladder()) if size is None else int(size)
    if size < n:
        raise ValueError(f"pad_chain: size {size} < N = {n}")
    masses = chain.masses
    fill_shape = masses.shape[:-1] + (size - n,)
    if isinstance(masses, jax.core.Tracer):
        fill = jnp.broadcast_to(jax.lax.stop_gradient(masses[..., :1]), fill_shape)
        padded = jnp.concatenate([masses[..., :-1], fill, masses[..., -1:]], axis=-1)
    else:  # concrete: in NumPy, so that a new N compiles no small slicing programs
        host = np.asarray(masses)
        fill = np.broadcast_to(host[..., :1], fill_shape)
        padded = jnp.asarray(np.concatenate([host[..., :-1], fill, host[..., -1:]], axis=-1))
    leaves = [padded if f == "masses" else getattr(chain, f) for f in chain._fields]
    return MeanFieldChain.tree_unflatten(None, leaves), jnp.asarray(n)


def pad_network(network: HarmonicNetwork, size: int | None = None):
    """(network padded to ``size`` particles, true N) for the bucketed network solvers.

    ``size`` defaults to :func:`step_bucket_size` of N. The padded particles come after
    particle N (masses 1, no springs, no bath): K becomes diag(K, 0), whose eigenvectors
    keep the two blocks apart exactly. Concrete or traced; one network or a stacked batch
    (leading axes on every leaf: all padded alike). O(size²) per network.
    """
    n = network.n
    size = step_bucket_size(n) if size is None else int(size)
    if size < n:
        raise ValueError(f"pad_network: size {size} < N = {n}")
    extra = size - n
    lead = network.masses.ndim - 1
    pad_m = [(0, 0)] * lead + [(0, extra)]
    pad_k = [(0, 0)] * lead + [(0, extra), (0, extra)]
    if isinstance(network.stiffness, jax.core.Tracer) or isinstance(network.masses,
                                                                    jax.core.Tracer):
        masses = jnp.pad(network.masses, pad_m, constant_values=1.0)
        stiffness = jnp.pad(network.stiffness, pad_k)
    else:  # concrete: in NumPy, so that a new N compiles no padding programs
        masses = jnp.asarray(np.pad(np.asarray(network.masses), pad_m, constant_values=1.0))
        stiffness = jnp.asarray(np.pad(np.asarray(network.stiffness), pad_k))
    leaves = [masses if f == "masses" else stiffness if f == "stiffness" else getattr(network, f)
              for f in network._fields]
    return HarmonicNetwork.tree_unflatten(None, leaves), jnp.asarray(n)


def trim_particles(x, n: int):
    """Per-particle values of a padded chain back to its N particles (last axis). O(N)."""
    if x.shape[-1] == n:
        return x
    if not isinstance(x, jax.core.Tracer):  # concrete: NumPy, nothing to compile per N
        host = np.asarray(x)
        return jnp.asarray(np.concatenate([host[..., : n - 1], host[..., -1:]], axis=-1))
    return jnp.concatenate([x[..., : n - 1], x[..., -1:]], axis=-1)


# ------------------------------------------------------------------ batch jobs: the rule

#: Warm cost models of one system of N particles, seconds ≈ constant · N^p, by the kind of
#: program: the chain's residue flux (O(N²)), its O(N) FMM flux (``"residues-fmm"``,
#: N > 4096) and a network's secular flux (O(N³), one ``eigh``); constants from a loaded
#: 2-core CPU (``scripts/bench_flux.py``, ``bench_flux_fast.py``, ``bench_networks.py``),
#: on the slow side: towards less padding under the absolute allowance. Only ratios of
#: costs at one kind matter otherwise.
COST_MODELS = {"residues": (8e-8, 2), "residues-fmm": (6e-5, 1), "network": (1.2e-9, 3)}
#: Seconds of one compilation of such a program (3–10 s on a 2-core CPU).
COMPILE_S = 5.0
#: A batch job's padding may add this fraction of its exact-size warm work …
PAD_FRACTION = 0.1
#: … or this many seconds (2% of a compilation: unnoticed), whichever is larger, but never
#: more than one compilation (:func:`padding_allowance`).
PAD_ABSOLUTE_S = 0.1
#: Ladders a batch job may fall back to, coarsest first (buckets per octave), then N itself.
FINER_PER_OCTAVE = (4, 8, 16, 32)


def warm_cost(n: int, kind: str = "residues") -> float:
    """Modelled warm seconds of one system of ``n`` particles (:data:`COST_MODELS`). O(1)."""
    constant, power = COST_MODELS[kind]
    return constant * float(n) ** power


def padding_allowance(work_s: float) -> float:
    """Seconds of extra warm work a batch job may spend on padding: max(PAD_ABSOLUTE_S,
    min(PAD_FRACTION · work, COMPILE_S)) for ``work_s`` seconds of exact-size work.

    Padding saves at most one compilation per size, so it may never cost more than one
    (jobs of ~100 compilations' work and more run at their exact size); jobs of more than
    1 s of work run within 10% of their exact-size time; tiny jobs (the interactive ones)
    keep the one-program buckets, whose padding costs them at most 0.1 s."""
    return max(PAD_ABSOLUTE_S, min(PAD_FRACTION * work_s, COMPILE_S))


def _same_path(n: int, size: int, kind: str) -> bool:
    """Padding N to ``size`` keeps N's code path (the chain's fast gap path from N = 259)."""
    return kind == "network" or (n >= _FAST_PATH_FIRST_N) == (size >= _FAST_PATH_FIRST_N)


def batch_bucket_size(n: int, count: int, kind: str = "residues",
                      ladder: tuple[int, ...] | None | str = "active") -> int:
    """The program size of a batch job of ``count`` systems of N = ``n`` (an ensemble).

    The rule (measured: ``scripts/bench_buckets.py``): the job runs on the coarsest of its
    ladders whose padding adds at most :func:`padding_allowance` of its exact-size warm work
    ``count · warm_cost(n)`` (:data:`COST_MODELS`): first the interactive ladder (chains:
    :data:`LADDER`; networks: :func:`step_bucket_size`'s, 4 per octave), then 4, 8, 16
    and 32 buckets per octave (sizes at most 19%, 9%, 4.4%, 2.2% above N), then N itself.
    So a small ensemble shares the one-program buckets of the single calls, 64 chains of
    N = 400 run at 413 (16 per octave: ≤ 7% more O(N²) work, against 6.6× in the bucket
    1024), and a job whose padding would cost more than a compilation runs at its exact
    size. Every ladder has the rungs 258 and 4096, so no N changes its code path. O(log n).

    Args:
      n, count: the size and the number of systems.
      kind: a key of :data:`COST_MODELS` (``"residues"``, ``"residues-fmm"``, ``"network"``).
      ladder: the interactive ladder (default: as ``MEANFIELD_JAX_BUCKETS`` selects, for
        networks its step ladder); None: exact sizes.

    >>> [batch_bucket_size(400, r) for r in (1, 4, 64, 10**4, 10**5)]
    [1024, 431, 413, 404, 400]
    >>> batch_bucket_size(10, 64), batch_bucket_size(9, 2, "network")
    (16, 16)
    """
    if ladder == "active":
        ladder = active_ladder()
        if kind == "network" and ladder is LADDER:
            ladder = _geometric_cached(STEP_PER_OCTAVE)
    if ladder is None:
        return n
    exact = count * warm_cost(n, kind)
    allowed = padding_allowance(exact)
    coarsest = ladder[1] / ladder[0] if len(ladder) > 1 else 2.0
    ladders = [ladder] + [_geometric_cached(p) for p in FINER_PER_OCTAVE
                          if 2.0 ** (1.0 / p) < coarsest and _geometric_cached(p) != ladder]
    for rungs in ladders:
        size = bucket_size(n, rungs)
        if count * (warm_cost(size, kind) - warm_cost(n, kind)) <= allowed:
            return size
    return n


def merged_buckets(sizes, counts, ladder: tuple[int, ...] | None = LADDER,
                   kinds: str | list[str] = "residues") -> list[int]:
    """Program sizes for a batch job over several N (a sweep): sizes padded to a larger
    size of the job where the rule of :func:`batch_bucket_size` allows it.

    The job knows all its sizes, so it pads only to sizes it runs anyway (padding beyond
    them would be wasted work): from the largest size down, each size N with ``count``
    systems runs in the smallest program already chosen whose padding adds at most
    :func:`padding_allowance` of its exact-size warm work (``count · warm_cost(N)``), of
    the same kind and on the same side of the fast gap path (N = 259); else in its own
    program. So small groups share a program, and a size whose work is a fair part of a
    compilation runs within 10% of its exact-size time. O(len(sizes)²).

    Args:
      sizes: the distinct sizes N of the job.
      counts: the number of systems at each size.
      ladder: None (``MEANFIELD_JAX_BUCKETS`` off): exact sizes, nothing merged; any ladder:
        the rule above.
      kinds: a key of :data:`COST_MODELS` for all sizes, or one per size.

    Returns:
      the program size for each entry of ``sizes`` (a size alone in its group: itself).

    >>> merged_buckets([10, 25, 63, 158, 398, 1000], [72] * 6)
    [63, 63, 63, 158, 398, 1000]
    >>> merged_buckets([10, 19, 35, 66, 123, 231], [408] * 6)
    [35, 35, 35, 66, 123, 231]
    """
    sizes = [int(n) for n in sizes]
    if ladder is None:
        return sizes
    kinds = [kinds] * len(sizes) if isinstance(kinds, str) else list(kinds)
    out = list(sizes)
    programs: list[tuple[int, str]] = []
    for i in sorted(range(len(sizes)), key=lambda j: -sizes[j]):
        n, count, kind = sizes[i], counts[i], kinds[i]
        allowed = padding_allowance(count * warm_cost(n, kind))
        fits = [size for size, k in programs if k == kind and _same_path(n, size, kind)
                and count * (warm_cost(size, kind) - warm_cost(n, kind)) <= allowed]
        if fits:
            out[i] = min(fits)
        else:
            programs.append((n, kind))
    return out
