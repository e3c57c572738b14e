"""Errors that point at the place in the documentation that caused them."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path | str) -> str:
    """A path relative to the current folder when it is inside it: short and clickable."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


class MeshdemoError(Exception):
    """Bad input: reported as ``FILE:LINE: message``, exit status 2, nothing run or written."""

    exit_status = 2

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line

    @property
    def location(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(MeshdemoError):
    """mkdocs.yml is missing, unreadable, or names a page that does not exist."""


class ParseError(MeshdemoError):
    """A page has a fence the engine cannot accept (unknown option, bad value, unterminated)."""
