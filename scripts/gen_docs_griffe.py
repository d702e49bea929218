"""Griffe extension of the documentation site: doctest examples rendered as code.

The package's docstrings carry their runnable examples as bare doctest blocks (``>>>``
lines and their expected output, run by ``pytest --doctest-modules``). Markdown would read
``>>>`` as nested quotes and ``[1.0, 2.0]`` as a link, so each block is wrapped in a
``pycon`` code fence, at its own indentation, before mkdocstrings parses the docstring.
Loaded by ``mkdocs.yml`` (mkdocstrings' ``extensions`` option).
"""

from __future__ import annotations

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with every doctest block (``>>>`` up to a blank line) in a pycon fence."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.append(indent + "```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(indent + "```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctest blocks of every docstring that griffe loads."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
