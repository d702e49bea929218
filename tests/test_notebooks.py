"""The notebooks: stored with their outputs, in sync with their jupytext sources, and they
run top to bottom in a fresh kernel (assert cells check the physics), reproducing the
numbers stored in their last cell.

Executing them takes minutes (a fresh kernel compiles the exact solvers anew), so the
execution tests carry the ``notebooks`` marker: ``make test-notebooks`` runs them, and CI
(``.ci/run``) runs them after the default suite; a failing assert cell fails CI.

Needs the ``notebooks`` extra (nbclient, ipykernel, jupytext); skipped without it. The
notebooks share one empty JAX compilation cache per test session, so programs compiled by
one notebook (the size-64 bucket of the exact solvers) are reused by the next.
"""

import json
import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "notebooks"))
import _execute  # noqa: E402

NAMES = _execute.names()
#: Re-executed numbers must match the stored ones to this relative tolerance (the exact
#: solvers are deterministic; the Langevin run uses a fixed key; allow for a different CPU's
#: rounding in reductions).
RTOL = 1e-7


def _needs(module):
    return pytest.importorskip(module, reason=f"{module} is not installed: install the "
                                              f"notebooks extra, pip install -e '.[notebooks]'")


def _stored(name):
    nbformat = _needs("nbformat")
    return nbformat.read(os.path.join(ROOT, "notebooks", name + ".ipynb"), as_version=4)


def test_every_source_has_a_notebook():
    assert len(NAMES) >= 4
    for name in NAMES:
        assert os.path.exists(os.path.join(ROOT, "notebooks", name + ".ipynb")), name


@pytest.mark.parametrize("name", NAMES)
def test_stored_with_outputs_and_small(name):
    path = os.path.join(ROOT, "notebooks", name + ".ipynb")
    size = os.path.getsize(path)
    assert size <= _execute.MAX_BYTES, f"{name}.ipynb is {size} bytes > {_execute.MAX_BYTES}"
    nb = _stored(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "a code cell was not executed"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure stored"
    assert "widgets" not in nb.metadata  # GitHub fails to render partial widget state
    _execute.summary(nb)  # the last cell holds the checked numbers


@pytest.mark.parametrize("name", NAMES)
def test_source_pair_in_sync(name):
    jupytext = _needs("jupytext")
    source = jupytext.read(os.path.join(ROOT, "notebooks", name + ".py"))
    stored = _stored(name)
    a = [(c.cell_type, c.source.strip()) for c in source.cells]
    b = [(c.cell_type, c.source.strip()) for c in stored.cells]
    assert a == b, f"{name}.py and {name}.ipynb differ: run scripts/execute_notebooks.py {name}"


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("jax_cache"))


@pytest.mark.notebooks
@pytest.mark.parametrize("name", NAMES)
def test_executes_and_reproduces(name, compile_cache):
    _needs("nbclient")
    _needs("ipykernel")
    nb = _execute.read_source(name)
    nb, wall, cpu = _execute.execute(nb, cache_dir=compile_cache)
    print(f"{name}: {wall:.0f} s wall, {cpu:.0f} s kernel CPU")
    new, old = _execute.summary(nb), _execute.summary(_stored(name))
    assert new.keys() == old.keys()
    for key in old:
        assert math.isclose(new[key], old[key], rel_tol=RTOL, abs_tol=1e-13), (
            f"{name}: {key} = {new[key]!r}, stored {old[key]!r}\n"
            + json.dumps(new, indent=1))
