"""The exploration notebooks (jupytext percent scripts) run end to end."""

import os
import runpy

import matplotlib
import pytest

matplotlib.use("Agg")

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(NOTEBOOKS) if f.endswith(".py")))
def test_notebook_runs(name):
    runpy.run_path(os.path.join(NOTEBOOKS, name), run_name="__main__")
