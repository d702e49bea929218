"""MkDocs hook of the documentation site: generated pages, notebooks and the local MathJax.

Loaded by ``mkdocs.yml`` (``hooks:``), so ``mkdocs build`` alone builds the whole site:

* ``reference/config.md``: the sweep and simulate configuration keys, generated from the
  schemas (``SweepConfig``'s fields and their documented meanings; the simulate keys of
  ``_simulate_config``). A schema key without a documented meaning fails the build.
* ``reference/cli.md``: every ``meanfield-jax`` subcommand's ``--help``, generated from the
  argparse parser of ``_cli.build_parser``.
* the stored notebooks ``notebooks/*.ipynb`` (rendered by mkdocs-jupyter, never executed),
  put into the nav;
* MathJax 3 (``es5/tex-svg-full.js``: TeX input, SVG output, every extension and the fonts
  in one file) copied into ``site/assets/mathjax``, so the site renders its math offline,
  without a CDN. It comes from the npm registry once (``npm pack mathjax@MATHJAX``, with
  npm's integrity check) and is kept in ``.cache/mathjax/``; a build without npm and
  without that cache fails saying so.

``python scripts/gen_docs.py`` prints the generated pages (to check them by eye).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # document this checkout's package, not an installed one
    sys.path.insert(0, str(ROOT))

NOTEBOOKS = ROOT / "notebooks"
MATHJAX = "3.2.2"
MATHJAX_FILE = "tex-svg-full.js"
GENERATED = ("reference/config.md", "reference/cli.md")


# ----------------------------------------------------------------------------- config keys


def _documented_keys(doc: str, header: str) -> list[tuple[list[str], str]]:
    """``(keys, meaning)`` entries of an indented ``key: meaning`` block after ``header``."""
    lines = doc.split(header, 1)[1].splitlines()[1:]
    entries, indent = [], None
    for line in lines:
        if not line.strip():
            break
        width = len(line) - len(line.lstrip())
        indent = width if indent is None else indent
        if width < indent:
            break
        if width == indent:
            keys, _, text = line.strip().partition(": ")
            entries.append(([k.strip() for k in keys.split(",")], text.strip()))
        else:
            entries[-1] = (entries[-1][0], entries[-1][1] + " " + line.strip())
    return entries


def _md(text: str) -> str:
    """Sphinx roles and pipes made safe for a Markdown table cell."""
    text = re.sub(r":(?:func|class|data|mod):`([^`]+)`", r"`\1`", text)
    text = text.replace("``", "`")
    return text.replace("|", "\\|")


def _default(field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{value!r}`".replace("'", '"')


def config_page() -> str:
    from meanfield_jax import _simulate_config, _sweep_config

    fields = {f.name: f for f in dataclasses.fields(_sweep_config.SweepConfig)}
    entries = _documented_keys(_sweep_config.SweepConfig.__doc__, "Attributes (config keys):")
    documented = [k for keys, _ in entries for k in keys]
    missing = sorted(set(fields) - set(documented))
    unknown = sorted(set(documented) - set(fields))
    if missing or unknown:
        raise RuntimeError(f"SweepConfig docstring: undocumented keys {missing}, "
                           f"documented but not fields {unknown}")
    out = [
        "# Configuration reference",
        "",
        "Generated from the schemas at every build (`scripts/gen_docs.py`); a key added to a "
        "schema without a documented meaning fails the build.",
        "",
        "## `sweep` (J against N)",
        "",
        "Keys of a TOML file for `meanfield-jax sweep FILE.toml`, of `load_config` and of "
        "`SweepConfig` (`meanfield_jax/_sweep_config.py`). Every value is checked before any "
        "computation: an unknown key, a missing `sizes` or a bad value is a `ValueError` "
        "naming the key. List-valued keys (`sizes`, `masses`, `k0`, `n_tilde`, `alpha`) "
        "span the sweep's grid; a scalar is a one-element list.",
        "",
        "| key | default | meaning |",
        "|---|---|---|",
    ]
    for keys, meaning in entries:
        names = ", ".join(f"`{k}`" for k in keys)
        defaults = ", ".join(_default(fields[k]) for k in keys)
        out.append(f"| {names} | {_md(defaults)} | {_md(meaning)} |")
    out += ["", "Allowed values: `model` ∈ " + ", ".join(f"`{m}`" for m in _sweep_config.MODELS)
            + "; `masses` ⊂ " + ", ".join(f"`{m}`" for m in _sweep_config.MASS_KINDS)
            + "; `method` ∈ " + ", ".join(f"`{m}`" for m in _sweep_config.METHODS)
            + "; `nonlinearity` ∈ " + ", ".join(f"`{m}`" for m in _sweep_config.NONLINEARITIES)
            + ".", "",
            "### Built-in sweeps (`--builtin NAME`)", ""]
    for name, values in _sweep_config.BUILTINS.items():
        body = "\n".join(f"{k} = {_toml(v)}" for k, v in values.items())
        out += [f"`{name}`:", "", "```toml", body, "```", ""]

    doc = _simulate_config.__doc__
    required = set(_simulate_config._REQUIRED)
    out += [
        "## `simulate` (a Langevin run)",
        "",
        "Keys of a TOML file for `meanfield-jax simulate RUN.toml --out RUN.nc` "
        "(`meanfield_jax/_simulate_config.py`; a complete example is "
        "`configs/simulate_example.toml`). Numbers must be TOML numbers: `dt = \"0.1\"` is an "
        "error naming `dt`.",
        "",
        "| key | required |",
        "|---|---|",
    ]
    text = doc.split("Config keys", 1)[1]
    for key in _simulate_config._KEYS:
        if not re.search(rf"\b{key}\b", text):
            raise RuntimeError(f"simulate key {key!r} is not described in _simulate_config's "
                               "module docstring")
        out.append(f"| `{key}` | {'yes' if key in required else 'no'} |")
    block = "\n".join(line[2:] if line.startswith("  ") else line
                      for line in text.split("\n", 1)[1].strip("\n").splitlines())
    out += ["", "Meanings and defaults, as the schema states them:", "", "```text",
            block.strip(), "```", "",
            "A `masses` table takes the keys "
            + ", ".join(f"`{k}`" for k in _simulate_config._MASS_TABLE_KEYS) + ".", ""]
    return "\n".join(out)


def _toml(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


# ----------------------------------------------------------------------------- CLI


def cli_commands() -> dict:
    """``{name: subparser}`` of the ``meanfield-jax`` parser."""
    import argparse

    from meanfield_jax._cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, dict(sub.choices)


def cli_page() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width
    parser, commands = cli_commands()
    out = ["# Command-line reference", "",
           "Generated from the argparse parser (`meanfield_jax/_cli.py`) at every build.",
           "Exit status: 0 done; 2 bad input, with one line `meanfield-jax: error: ...` naming "
           "the key or flag; 1 a result that did not converge; 130 / 143 on SIGINT / SIGTERM "
           "(with a valid checkpoint: rerun the same command to resume).", "",
           "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in commands.items():
        out += [f"## `meanfield-jax {name}`", "", "```text", sub.format_help().rstrip(),
                "```", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------- hook events


def _notebooks() -> list[pathlib.Path]:
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def _notebook_title(path: pathlib.Path) -> str:
    import json

    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip().replace("`", "")
    return path.stem


def on_config(config):
    """Put the stored notebooks into the nav."""
    for section in config["nav"]:
        if isinstance(section, dict) and "Notebooks" in section:
            section["Notebooks"] = [{_notebook_title(p): f"notebooks/{p.name}"}
                                    for p in _notebooks()]
    return config


def on_files(files, config):
    """Add the generated pages and the stored notebooks to the site's files."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, "reference/config.md", content=config_page()))
    files.append(File.generated(config, "reference/cli.md", content=cli_page()))
    for path in _notebooks():  # src_dir is the repository: notebooks/NAME.ipynb as stored
        files.append(File(f"notebooks/{path.name}", str(ROOT), config["site_dir"],
                          config["use_directory_urls"]))
    return files


on_files.mkdocs_priority = 100  # before mkdocs-jupyter converts the notebook files


def mathjax() -> pathlib.Path:
    """The cached MathJax bundle; fetched with ``npm pack`` the first time."""
    import subprocess
    import tarfile

    cache = ROOT / ".cache" / "mathjax" / MATHJAX
    target = cache / MATHJAX_FILE
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"MathJax {MATHJAX} is not in {cache} and npm is not installed to "
                           f"fetch it (apt-get install npm, or copy es5/{MATHJAX_FILE} there)")
    subprocess.run([npm, "pack", f"mathjax@{MATHJAX}", "--silent", "--pack-destination",
                    str(cache)], check=True, stdout=subprocess.DEVNULL)
    archive = cache / f"mathjax-{MATHJAX}.tgz"
    with tarfile.open(archive) as tar:
        for name in (f"package/es5/{MATHJAX_FILE}", "package/LICENSE"):
            member = tar.getmember(name)
            member.name = pathlib.PurePath(name).name
            tar.extract(member, cache, filter="data")
    archive.unlink()
    return target


def on_post_build(config):
    """Copy MathJax 3 into the site: math renders offline."""
    target = pathlib.Path(config["site_dir"]) / "assets" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    source = mathjax()
    shutil.copy2(source, target / MATHJAX_FILE)
    shutil.copy2(source.parent / "LICENSE", target / "LICENSE")


if __name__ == "__main__":
    print(config_page())
    print(cli_page())
