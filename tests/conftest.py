"""Test configuration: float64 on before anything creates an array; repo root importable;
shared fixtures."""

import os
import signal
import subprocess
import sys


#: ``MEANFIELD_JAX_TEST_FAST_COMPILE=1`` (set by ``make test``, the default suite): LLVM
#: optimizes the compiled programs at level 0 instead of 2. The suite compiles ~100
#: programs and runs each a few times at small N, so compilation is most of its time: this
#: cuts the suite by ~15% (each pole-solver program compiles ~2× faster, runs ~3× slower).
#: Results change at rounding level only (≤ 2e-13 relative seen; every tolerance is looser,
#: bit-for-bit comparisons are between runs of one setting: subprocesses inherit the flags).
#: ``make test-all`` (the slow tests too) and the notebooks compile at the default level.
FAST_COMPILE_VAR = "MEANFIELD_JAX_TEST_FAST_COMPILE"


def _xla_flags_for_tests():
    """XLA_FLAGS plus the package's per-program compiler options (``_config.COMPILER_OPTIONS``)
    as process flags, and LLVM level 0 under ``FAST_COMPILE_VAR``. XLA takes per-program
    options only for a top-level program, so the programs that tests stage under ``grad``
    or an outer ``jit`` would compile without them (about twice as long); as flags they
    apply to every compilation (numerics unchanged). Set once, in the first pytest process
    (xdist workers and subprocesses inherit it), and only if this jaxlib knows the flags:
    an unknown XLA flag aborts the process, so a child process tries them first."""
    from meanfield_jax._config import COMPILER_OPTIONS  # imports jax, starts no backend

    options = dict(COMPILER_OPTIONS)
    if os.environ.get(FAST_COMPILE_VAR) == "1":
        options["xla_backend_optimization_level"] = 0
    flags = " ".join(f"--{k}={str(v).lower()}" for k, v in options.items())
    current = os.environ.get("XLA_FLAGS", "")
    if flags in current or os.environ.get("MEANFIELD_JAX_TEST_FLAGS_PROBED"):
        return
    os.environ["MEANFIELD_JAX_TEST_FLAGS_PROBED"] = "1"
    env = dict(os.environ, XLA_FLAGS=f"{current} {flags}".strip())
    probe = "import jax; jax.jit(lambda x: x + 1).lower(1.0).compile()"
    if subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode == 0:
        os.environ["XLA_FLAGS"] = env["XLA_FLAGS"]


_xla_flags_for_tests()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def sigint_reaches_children():
    """Children get SIGINT as a terminal delivers it, even when the tests run as a background
    job (which starts with SIGINT ignored, inherited through exec, and meanfield-jax keeps an
    ignored signal ignored): a handled signal is reset to the default by exec."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)


#: Test files (and the package's doctests) that compile the same programs (the same size
#: buckets of the pole solvers, the same ensemble shapes) run in one xdist worker
#: (``make test``: ``-n 2 --dist loadfile``, whose scheduler :func:`pytest_xdist_make_scheduler`
#: replaces by one that keeps a group together), which keeps every compiled program in
#: memory for the files after it: each such program is compiled once per run instead of
#: once per worker. Listed most expensive first, and the workers take the groups in this
#: order (the last group to start is a short one).
_GROUPS = (
    ("poles", ("tests/test_core.py", "tests/test_temperatures.py")),
    ("convergence", ("tests/test_failure.py", "tests/test_buckets.py",
                     "tests/test_extremes.py", "tests/test_compile_options.py")),
    ("ensembles", ("tests/test_sweep.py", "tests/test_ensemble.py", "tests/test_inputs.py",
                   "meanfield_jax/_ensemble.py", "meanfield_jax/_sweep.py",
                   "meanfield_jax/_sweep_config.py")),
    ("langevin", ("tests/test_langevin.py", "meanfield_jax/_langevin.py",
                  "meanfield_jax/_simulation.py", "meanfield_jax/_simulate_config.py")),
    ("resonances", ("tests/test_resonances.py", "meanfield_jax/_resonances.py",
                    "meanfield_jax/_lorentzian.py")),
    ("fast", ("tests/test_fast_gaps.py", "tests/test_poles_fast.py", "tests/test_cauchy.py",
              "meanfield_jax/_cauchy.py", "meanfield_jax/_poles_fast.py")),
    ("networks", ("tests/test_networks.py", "meanfield_jax/networks.py",
                  "meanfield_jax/_secular.py", "meanfield_jax/_secular_residues.py")),
)
_GROUP_OF = {path: (rank, name) for rank, (name, paths) in enumerate(_GROUPS) for path in paths}


def _group(nodeid):
    """(rank, name) of a test's group: its file's group, or the file itself (ranked last)."""
    path = nodeid.split("::")[0]
    return _GROUP_OF.get(path, (len(_GROUPS), path))


def pytest_collection_modifyitems(config, items):
    """Order the groups as ``_GROUPS``, then the other files in collection order."""
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (_group(item.nodeid)[0], order[id(item)]))


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist is a dev extra: without it, tests run in one process
    LoadScopeScheduling = None

if LoadScopeScheduling is not None:
    class _GroupScheduling(LoadScopeScheduling):
        """``--dist loadfile`` with the files of a ``_GROUPS`` entry as one unit of work."""

        def _split_scope(self, nodeid):
            return _group(nodeid)[1]

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") != "loadfile":
            return None
        config.option.loadscopereorder = False  # take the groups in the collection order
        return _GroupScheduling(config, log)
