"""Wildcard patterns of the policy language, compiled once to regular expressions that cannot blow up.

``*`` matches any run of characters (also none) and ``?`` exactly one. In an ARN the wildcards of
the first five colon-separated parts stay inside their part, while the resource part (the sixth,
which may itself hold colons) matches freely: AWS compares an ARN part by part. A pattern is a
sequence of pieces so that text a policy variable put there (or ``${*}``) stays literal.

Why not plain ``.*``: a policy author controls the pattern, and ``*?*?*?...Z`` compiled naively
backtracks exponentially (a dozen pairs stall an action name for seconds). Between two stars the
fixed-length piece is taken at its leftmost occurrence, inside an atomic group — the leftmost
occurrence is always a correct choice, since the next star absorbs what follows — so the engine
never retries a piece and matching stays O(pattern x text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ARN_PARTS = 6
Piece = tuple[str, bool]
"""(text, wildcards_active): policy text has live wildcards, substituted values do not."""

_STAR = "*"
_ONE = "?"
Token = tuple[str, str]
"""(kind, char): kind is ``*`` (any run), ``?`` (any one) or ``c`` (the literal ``char``)."""


def pieces_regex(pieces: Iterable[Piece], *, arn: bool = False) -> str:
    """The regular expression (source) of a pattern; in ``arn`` mode wildcards respect the ARN parts."""
    tokens = _tokens(pieces)
    if not arn:
        return _render(tokens, ".", head=False)
    parts: list[list[Token]] = [[]]
    for token in tokens:
        if token == ("c", ":") and len(parts) < ARN_PARTS:
            parts.append([])
        else:
            parts[-1].append(token)
    if len(parts) < ARN_PARTS:
        return _render(tokens, ".", head=False)
    heads = [_render(part, "[^:]", head=True) for part in parts[:-1]]
    return ":".join([*heads, _render(parts[-1], ".", head=False)])


def glob_regex(pattern: str, *, arn: bool = False) -> str:
    if "*" not in pattern and "?" not in pattern:
        return re.escape(pattern)
    return pieces_regex(((pattern, True),), arn=arn)


def is_arn_pattern(pattern: str) -> bool:
    return pattern.startswith("arn:") and pattern.count(":") >= ARN_PARTS - 1


def compile_any(sources: Iterable[str], *, ignore_case: bool = False) -> re.Pattern[str]:
    """One expression that fully matches any of ``sources`` (a union is one scan, not one per pattern)."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("|".join(f"(?:{s})" for s in sources) or "(?!)", flags)


def full_match(source: str, value: str, *, ignore_case: bool = False) -> bool:
    """Match an expression built at evaluation time (a pattern holding policy variables)."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(source, value, flags) is not None


def _tokens(pieces: Iterable[Piece]) -> list[Token]:
    out: list[Token] = []
    for text, live in pieces:
        for ch in text:
            if live and ch == "*":
                if not out or out[-1][0] != _STAR:  # ** is *
                    out.append((_STAR, ch))
            elif live and ch == "?":
                out.append((_ONE, ch))
            else:
                out.append(("c", ch))
    return out


def _render(tokens: list[Token], any_char: str, *, head: bool) -> str:
    """L0 *L1 *L2 ... *Lk as L0 (?>g*?L1) ... g*Lk: leftmost, committed middle pieces.

    A head ARN part is atomic as a whole and must end at its colon, so nothing after it can make
    the engine come back into it.
    """
    pieces: list[str] = [""]
    for kind, ch in tokens:
        if kind == _STAR:
            pieces.append("")
        else:
            pieces[-1] += any_char if kind == _ONE else re.escape(ch)
    body = pieces[0]
    if len(pieces) > 1:
        body += "".join(f"(?>{any_char}*?{p})" for p in pieces[1:-1] if p)
        body += f"{any_char}*{pieces[-1]}"
    return f"(?>{body}(?=:))" if head else body
