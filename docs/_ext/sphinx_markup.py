"""Griffe extension: render the Sphinx markup of rgdl's numpydoc docstrings in Markdown.

The docstrings are written for numpydoc/Sphinx (``:func:`x```, ``:math:`x```, ``.. math::``
blocks); mkdocstrings renders docstrings as Markdown, where that markup would show verbatim.
This extension rewrites it when the site is built (the source files are not touched):

* cross-reference roles (``:func:``, ``:class:``, ``:meth:``, ``:mod:``, ``:data:``,
  ``:attr:``, ``:obj:``, ``:exc:``) become inline code (a leading ``~`` keeps the last
  component, as in Sphinx);
* ``:math:`x``` becomes inline math ``$x$`` and a ``.. math::`` directive (with its indented
  continuation lines) a ``$$ ... $$`` block, both typeset by pymdownx.arithmatex.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)$")


def _role(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH_DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("first").strip()] if m.group("first").strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            if lines[i].strip():
                body.append(lines[i].strip())
            elif body and i + 1 < len(lines) and lines[i + 1].strip() and \
                    len(lines[i + 1]) - len(lines[i + 1].lstrip()) <= len(indent):
                break
            i += 1
        # inside a list item (indented 2 or 3 spaces in the docstring) Python-Markdown needs 4
        pad = " " * (-(-len(indent) // 4) * 4)
        out.extend(["", f"{pad}$$", *(f"{pad}{b}" for b in body), f"{pad}$$", ""])
    return "\n".join(out)


def convert(text: str) -> str:
    """Sphinx roles and math directives of ``text`` in Markdown + arithmatex syntax."""
    text = _math_blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1).strip()}$", text)
    return _ROLE.sub(_role, text)


class SphinxMarkup(griffe.Extension):
    """Rewrite every docstring of the loaded packages (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    stack.append(member)
