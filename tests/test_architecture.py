"""The package's structure, read from its source with `ast` (issue 11):

* imports go one way, top-down through the layers in ``LAYERS`` (a module imports only
  modules of lower layers, or of its own layer listed before it);
* a leading underscore means file-local: no module imports another module's underscore
  name, or reaches one through ``module._name``;
* no `importlib` indirection between the package's modules, and no import of the package
  itself (``from . import __version__``) from inside it;
* the docs' layout section (``docs/architecture.md``) names every module, in the same order
  as ``LAYERS``;
* every program is compiled through ``_config.jit`` (one place for the compiler options).
"""

import ast
import functools
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "meanfield_jax"
LAYOUT = PACKAGE.parent / "docs" / "architecture.md"  # the site's Architecture page

# Bottom to top. Modules on one line form one layer; within a layer a module may import
# the modules listed before it.
LAYERS = [
    ["_interrupt", "_version", "_config", "_configfile", "_stats", "_report"],  # stdlib/NumPy
    ["_io", "_cache"],                                         # files, compile cache
    ["_special", "_quantum"],                                  # ψ, ψ′; quantum bath weights
    ["_model"],                                                # systems
    ["masses", "analytic", "networks", "nonlinear"],           # constructors, closed forms
    ["_solver_base", "_cauchy", "_contour", "_secular", "_secular_residues"],  # network solver
    ["_green", "_pole_chain", "_gap_zeros", "_collective_zeros", "_poles",     # kernels, chain
     "_poles_fast"],                                                          # solvers
    ["_buckets", "_failure", "_modes", "_lyapunov", "_landauer", "_transfer"],  # padding,
                                  # results, reference; quantum J, κ, T*; tridiagonal chains
    ["_transport"],                                            # public T, J, T_n
    ["_resonances", "_lorentzian"],                            # peaks and their fits
    ["_ensemble"],                                             # batches over devices
    ["_sweep_config", "_simulate_config", "_dataset"],         # pipeline schemas, datasets
    ["_langevin", "_langevin_analysis"],                       # simulation
    ["_plot", "_sweep", "_simulation"],                        # pipelines
    ["_cli"],                                                  # command line
    ["__init__"],                                              # public API
]


@functools.cache  # parsed once per session: every test here reads every module
def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), filename=str(p))
            for p in sorted(PACKAGE.glob("*.py"))}


def _rank() -> dict[str, tuple[int, int]]:
    return {name: (layer, pos) for layer, names in enumerate(LAYERS)
            for pos, name in enumerate(names)}


def _imports(tree: ast.Module):
    """(imported module, imported names or None, line) for each package-internal import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module is None:  # from . import a, b
                for alias in node.names:
                    yield alias.name, None, node.lineno
            elif node.level == 1:  # from ._x import a
                yield node.module, [a.name for a in node.names], node.lineno
            elif node.level == 0 and node.module and node.module.startswith("meanfield_jax"):
                parts = node.module.split(".")
                if len(parts) == 1:
                    for alias in node.names:
                        yield alias.name, None, node.lineno
                else:
                    yield parts[1], [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "meanfield_jax":
                    yield (parts[1] if len(parts) > 1 else "__init__"), None, node.lineno


def test_every_module_has_a_layer():
    missing = sorted(set(_modules()) - set(_rank()))
    assert not missing, f"modules missing from LAYERS (place them in the import graph): {missing}"


def test_imports_go_one_way():
    rank, bad = _rank(), []
    for name, tree in _modules().items():
        for target, _, line in _imports(tree):
            if target not in rank:
                bad.append(f"{name}:{line} imports {target!r}, which is not a module")
            elif target == name or rank[target] >= rank[name]:
                bad.append(f"{name}:{line} imports {target} (layer {rank[target][0]}) from "
                           f"layer {rank[name][0]}")
    assert not bad, "\n".join(bad)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_underscore_name_crosses_a_module():
    modules, bad = _modules(), []
    for name, tree in modules.items():
        imported_modules = set()
        for target, names, line in _imports(tree):
            if names is None:
                imported_modules.add(target)
            else:
                bad += [f"{name}:{line} imports {target}.{n}" for n in names if _is_private(n)]
        if name == "__init__":
            continue  # the package root re-exports from its private modules by plain names
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in imported_modules and _is_private(node.attr)):
                bad.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_no_importlib_indirection_and_no_import_of_the_package():
    bad = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr == "import_module") or (
                    isinstance(node, ast.ImportFrom) and node.module == "importlib"
                    and any(a.name == "import_module" for a in node.names)):
                bad.append(f"{name}:{node.lineno} uses importlib.import_module")
        for target, _, line in _imports(tree):
            if target in ("__init__", "__version__", "meanfield_jax"):
                bad.append(f"{name}:{line} imports the package itself")
    assert not bad, "\n".join(bad)


def _bare_jits(tree: ast.Module) -> list[int]:
    """Lines that call or decorate with ``jax.jit`` directly."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "jit"
            and isinstance(node.value, ast.Name) and node.value.id == "jax"]


def test_programs_compile_through_config_jit():
    """``jax.jit`` appears only in ``_config`` (its ``jit`` adds the compiler options)."""
    bad = [f"{name}:{line} uses jax.jit; use _config.jit" for name, tree in _modules().items()
           if name != "_config" for line in _bare_jits(tree)]
    assert not bad, "\n".join(bad)
    assert _bare_jits(ast.parse("@functools.partial(jax.jit, static_argnums=1)\ndef f(): pass"))


def test_docs_layout_is_the_import_graph():
    text = LAYOUT.read_text()
    match = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, "docs/architecture.md has no '## Layout' section"
    listed = re.findall(r"^- `([\w.]+)`", match.group(1), flags=re.M)
    listed = [name.removesuffix(".py") for name in listed]
    order = [name for layer in LAYERS for name in layer if name != "__init__"]
    assert listed == order, f"docs/architecture.md lists {listed}, the import graph is {order}"


@pytest.mark.parametrize("name", sorted(p.stem for p in PACKAGE.glob("*.py")))
def test_module_states_its_concern(name):
    doc = ast.get_docstring(_modules()[name])
    assert doc and doc.splitlines()[0].strip().endswith("."), \
        f"{name}: first docstring line must state the module's one concern"


def test_the_checks_see_violations():
    """The import walk finds each kind of violation in a synthetic module."""
    tree = ast.parse("from ._poles import _Chain\nfrom . import _cli, __version__\n"
                     "import meanfield_jax._sweep\n")
    found = list(_imports(tree))
    assert ("_poles", ["_Chain"], 1) in found and ("_cli", None, 2) in found
    assert ("__version__", None, 2) in found and ("_sweep", None, 3) in found
    rank = _rank()
    assert rank["_cli"] > rank["_poles"] and _is_private("_Chain") and not _is_private("__all__")


def test_conftest_groups_name_existing_files():
    """Every path that ``tests/conftest.py`` groups for xdist names a file that exists (a
    renamed file would silently leave its group)."""
    source = (PACKAGE.parent / "tests" / "conftest.py").read_text()
    groups = next(node.value for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "_GROUPS" for t in node.targets))
    paths = [name for _, files in ast.literal_eval(groups) for name in files]
    assert len(paths) > 20
    missing = [p for p in paths if not (PACKAGE.parent / p).is_file()]
    assert not missing, f"conftest groups name missing files: {missing}"
