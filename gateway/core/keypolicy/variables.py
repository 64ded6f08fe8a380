"""Policy variables: ``${aws:username}`` in a Resource or condition value, filled in per request.

Only policies of Version 2012-10-17 have them (2008-10-17 reads ``${...}`` literally). ``${*}``,
``${?}`` and ``${$}`` are the literal characters; ``${key, 'default'}`` falls back to the quoted
text (``''`` is a quote in it). A variable whose key the request lacks, that names a multivalued
key, or that does not parse, resolves to nothing: the value holding it then matches no request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from gateway.core.keypolicy.patterns import Piece

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_INNER = re.compile(r"\s*([A-Za-z0-9_.-]+:[A-Za-z0-9_.:/-]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")
_ESCAPES = frozenset({"*", "?", "$"})


@dataclass(frozen=True, slots=True)
class Var:
    key: str
    """Lower-case context key; empty when the variable did not parse (it never resolves)."""
    default: str | None = None


Template = tuple[Piece | Var, ...]
Lookup = Callable[[str], str | None]
"""A single-valued context key's value, or None (absent or multivalued)."""


def parse_template(text: str) -> Template | None:
    """The pieces of a value holding variables, or None for plain text (the common, fast case)."""
    if "${" not in text:
        return None
    parts: list[Piece | Var] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], True))
        inner = m.group(1)
        if inner in _ESCAPES:
            parts.append((inner, False))
        else:
            parsed = _INNER.fullmatch(inner)
            if parsed is None:
                parts.append(Var(""))
            else:
                default = parsed.group(2)
                parts.append(Var(parsed.group(1).lower(), None if default is None else default.replace("''", "'")))
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], True))
    return tuple(parts)


def resolve(template: Template, lookup: Lookup) -> list[Piece] | None:
    """The template with its variables filled in (their text literal), or None if one cannot be."""
    out: list[Piece] = []
    for part in template:
        if isinstance(part, Var):
            value = lookup(part.key) if part.key else None
            if value is None:
                value = part.default
            if value is None:
                return None
            out.append((value, False))
        else:
            out.append(part)
    return out


def resolved_text(template: Template, lookup: Lookup) -> str | None:
    pieces = resolve(template, lookup)
    return None if pieces is None else "".join(text for text, _ in pieces)
