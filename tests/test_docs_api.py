"""The documented API, read from the package's source (issue 30; default suite, no build):

* ``meanfield_jax.__all__`` is exactly the package's public names (the API reference shows
  each of them; tests/test_docs_site.py checks the built site);
* every public function — the functions of ``__all__`` and the module-level functions of
  ``analytic``, ``masses`` and ``networks`` — has an ``Args:``, ``Returns:`` and ``Raises:``
  section and a doctest example (the examples run in this suite through
  ``--doctest-modules``);
* no docstring in the package quotes a dated timing (a year-month date, "measured … s",
  "N× faster"): measured numbers live on the documentation's Performance page.
"""

import ast
import inspect
import pathlib
import re

import pytest

import meanfield_jax as mf

PACKAGE = pathlib.Path(mf.__file__).resolve().parent
PUBLIC_MODULES = ("analytic", "masses", "networks", "nonlinear")


DATED_TIMING = re.compile(
    r"\b20\d\d-[01]\d\b"                                                  # a date 2026-12
    r"|\bmeasured\b[^\n]*(?:\n[^\n]*){0,2}?\d\s*(?:s|ms|µs|seconds|min|minutes|h)\b"  # measured … 5 s
    r"|\d(?:\.\d+)?\s*×\s*(?:faster|slower)",                             # 1.9× faster
    flags=re.I)


def _docstrings(path: pathlib.Path):
    """(qualified name, docstring) of the module and of every class and function in it."""
    tree = ast.parse(path.read_text())
    yield "<module>", ast.get_docstring(tree) or ""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, ast.get_docstring(node) or ""


def _timings(path):
    return [f"{path.stem}.{name}: {m.group(0)!r}" for name, doc in _docstrings(path)
            for m in DATED_TIMING.finditer(doc)]


@pytest.mark.parametrize("name", sorted(p.stem for p in PACKAGE.glob("*.py")))
def test_no_docstring_quotes_a_dated_timing(name):
    bad = _timings(PACKAGE / f"{name}.py")
    assert not bad, ("dated timings in docstrings (move them to docs/performance.md): "
                     + "; ".join(bad))


def test_the_timing_pattern_sees_violations():
    for text in ("idle, 2026-12-01", "measured 2.0 s → 0.41 s", "(measured\n5.9 s at N = 10⁵",
                 "4 measured up to 1.9× faster", "~4× faster per chain"):
        assert DATED_TIMING.search(text), text
    for text in ("O(N²) time", "error 1e-12 at N = 10³", "Eq. (16)", "dt·ω_max < 2",
                 "timings: the Performance page", "k0 = 0.02, 2 s"):
        assert not DATED_TIMING.search(text), text


def test_all_lists_the_public_api():
    public = {name for name in vars(mf) if not name.startswith("_")}
    assert sorted(mf.__all__) == sorted(public)
    assert len(mf.__all__) == len(set(mf.__all__))


def public_module_names(module: str) -> list[str]:
    """Module-level public names defined in ``meanfield_jax/<module>.py`` (not imports); its
    ``__all__`` where it declares one (the names that it documents as its API)."""
    declared = getattr(getattr(mf, module), "__all__", None)
    if declared is not None:
        return list(declared)
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


def public_functions():
    """(label, function) of every public function: __all__'s and the public modules'."""
    out = [(name, getattr(mf, name)) for name in mf.__all__
           if inspect.isfunction(getattr(mf, name))]
    for module in PUBLIC_MODULES:
        mod = getattr(mf, module)
        out += [(f"{module}.{name}", getattr(mod, name)) for name in public_module_names(module)
                if inspect.isfunction(getattr(mod, name))]
    return out


@pytest.mark.parametrize("label, fn", public_functions(), ids=lambda x: x if isinstance(x, str) else "")
def test_public_function_docstring_has_its_sections(label, fn):
    doc = inspect.getdoc(fn) or ""
    missing = [s for s in ("Args:", "Returns:", "Raises:") if not re.search(rf"^{s}", doc, re.M)]
    if ">>>" not in doc:
        missing.append("a doctest example (>>>)")
    assert not missing, f"{label}: docstring lacks {', '.join(missing)}"
