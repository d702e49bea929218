"""Execute the notebooks in fresh kernels: shared by ``scripts/execute_notebooks.py`` and the tests.

A notebook's source is its jupytext percent script ``notebooks/NN_name.py``, paired with
``NN_name.ipynb`` (the stored, executed copy that GitHub shows). The last code cell of every
notebook prints a JSON object of the numbers it checked; :func:`summary` reads it back.
"""

from __future__ import annotations

import json
import os
import resource
import time

HERE = os.path.dirname(os.path.abspath(__file__))
#: The stored notebooks must stay below this size (figures as 72-dpi PNG).
MAX_BYTES = 1_000_000
#: Environment variable that tells a notebook not to build ipywidgets (headless runs).
HEADLESS = "MEANFIELD_JAX_NOTEBOOK_HEADLESS"


def names() -> list[str]:
    """Stems of the paired notebooks, e.g. ``01_tour``."""
    return sorted(f[:-3] for f in os.listdir(HERE)
                  if f.endswith(".py") and f[:2].isdigit() and f[2] == "_")


def read_source(name: str):
    import jupytext

    return jupytext.read(os.path.join(HERE, name + ".py"))


def execute(nb, cache_dir: str | None = None, timeout: int = 900):
    """Run ``nb`` top to bottom in a fresh ``python3`` kernel (cwd: notebooks/).

    Returns (notebook, wall seconds, kernel CPU seconds). ``cache_dir`` is passed to the
    kernel as ``JAX_COMPILATION_CACHE_DIR`` (None: the notebook's own default). A failing
    cell (an ``assert``) raises ``nbclient.exceptions.CellExecutionError``.
    """
    from nbclient import NotebookClient

    env = dict(os.environ)
    env[HEADLESS] = "1"
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if cache_dir is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": HERE}}, store_widget_state=False)
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    client.execute(env=env)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return nb, wall, cpu


def summary(nb) -> dict:
    """The JSON object printed by the last code cell (the notebook's checked numbers)."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    text = "".join(o.get("text", "") for o in cells[-1].get("outputs", [])
                   if o.get("output_type") == "stream")
    start, stop = text.find("{"), text.rfind("}")
    if start < 0 or stop < start:
        raise ValueError("the last code cell printed no JSON summary")
    return json.loads(text[start:stop + 1])
