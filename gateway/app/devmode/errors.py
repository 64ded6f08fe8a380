"""What a dev gateway refuses, in one line each (no pydantic or runtime import needed to catch them)."""

from __future__ import annotations


class SeedError(ValueError):
    """A seed file that cannot be used: ``str()`` is ``file: entry: reason`` (one line per problem)."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{file}: {entry}: {reason}" if entry else f"{file}: {reason}" for entry, reason in problems]
        super().__init__("\n".join(lines))


class DevModeRefused(ValueError):
    """A dev gateway asked for something only a deployment may do (listening beyond loopback)."""
