"""Execute the notebooks in fresh kernels and store them with their outputs (.ipynb).

Reads each jupytext source ``notebooks/NN_name.py``, runs it top to bottom in a fresh
``python3`` kernel with an empty JAX compilation cache (so the printed run time is a cold
first run), and writes ``notebooks/NN_name.ipynb`` with the outputs that GitHub shows.
Prints the wall and kernel CPU time of each.

    python scripts/execute_notebooks.py              # all notebooks
    python scripts/execute_notebooks.py 01_tour      # one
    python scripts/execute_notebooks.py --cache DIR  # reuse a compilation cache
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "notebooks"))
import _execute  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook stems (default: all)")
    ap.add_argument("--cache", help="JAX compilation cache folder (default: a new empty one)")
    args = ap.parse_args()
    import jupytext

    for name in args.names or _execute.names():
        nb = _execute.read_source(name)
        with tempfile.TemporaryDirectory() as tmp:
            nb, wall, cpu = _execute.execute(nb, cache_dir=args.cache or tmp)
        path = os.path.join(_execute.HERE, name + ".ipynb")
        jupytext.write(nb, path)
        size = os.path.getsize(path)
        print(f"{name}: {wall:.0f} s wall, {cpu:.0f} s kernel CPU, {size / 1e3:.0f} kB -> {path}",
              flush=True)
        if size > _execute.MAX_BYTES:
            sys.exit(f"{path} is larger than {_execute.MAX_BYTES} bytes")


if __name__ == "__main__":
    main()
