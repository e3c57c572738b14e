"""Where a command prints: rich on a terminal, plain lines anywhere else.

Importing rich costs about 50 ms, as much as running a short guide. Into a pipe, a file or a
CI log, nothing is redrawn and no colour is shown, so ``meshdemo run`` writes plain lines
there without it: :class:`PlainConsole` takes the same rich markup as a rich ``Console`` and
writes the text rich would have written, without styles and without wrapping (a long line
stays one line, to grep or to paste). ``FORCE_COLOR`` or ``TTY_COMPATIBLE`` in the
environment ask for rich anyway, as they ask rich for colour.
"""

from __future__ import annotations

import os
import re
import sys
from typing import IO, TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from rich.console import Console

Printer: TypeAlias = "Console | PlainConsole"  # what a command prints through

# rich's markup: a tag is "[" + a letter, "#", "/" or "@" + up to "]"; backslashes before
# it escape it (rich.markup.RE_TAGS, and escape() below mirrors rich.markup.escape)
_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_ESCAPE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """``text`` made literal in rich markup, exactly as ``rich.markup.escape`` makes it."""
    text = _ESCAPE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def plain(markup: str) -> str:
    """The text rich shows for ``markup``: tags removed, escaped brackets kept."""
    pieces: list[str] = []
    done = 0
    for match in _TAG.finditer(markup):
        pieces.append(markup[done : match.start()])
        backslashes = match.group(2)
        escaped, literal = divmod(len(backslashes), 2)
        pieces.append("\\" * escaped)
        if literal:
            pieces.append(f"[{match.group(3)}]")  # an escaped tag is text
        done = match.end()
    pieces.append(markup[done:])
    return "".join(pieces)


class PlainConsole:
    """The part of a rich ``Console`` a command uses, for output that is not a terminal."""

    is_terminal = False

    def __init__(self, file: IO[str] | None = None):
        self._file = file

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stdout

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **_style: Any) -> None:
        """Like ``Console.print`` of markup strings (style options are ignored)."""
        self.file.write(plain(sep.join(str(o) for o in objects)) + end)


def wants_rich(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (stdout by default) is a terminal, or colour is asked for."""
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE", "") == "1":
        return True
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console_for_output(**options: Any) -> Console | PlainConsole:
    """A rich ``Console`` (``options`` passed on) on a terminal, else a :class:`PlainConsole`."""
    if wants_rich():
        from rich.console import Console

        return Console(**options)
    return PlainConsole()
