"""Terminal output as plain text: what a reader would have seen on the screen.

Shared by the capture store (the text file of a long output) and the site's renderer
(``meshdemo.site.ansi``, which also keeps the colours).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# ECMA-48: CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), other 2-byte escapes.
_CSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_ESC = re.compile(r"\x1b[@-Z\\-_]|\x1b[()][0-9A-Za-z]|\x1b[=>78c]")
# C0 controls nothing can show (tab, newline and carriage return are handled apart).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences, keeping every printable character."""
    return _ESC.sub("", _CSI.sub("", _OSC.sub("", text)))


def type_onto(cells: list[Any], column: int, text: str, cell: Callable[[str], Any] = str) -> int:
    """Type ``text`` onto a row of ``cells`` from ``column``, as a terminal does: a carriage
    return goes back to the start, a backspace one cell left, a character overwrites the
    cell under the cursor (``cell`` makes what is stored of it). The column it ends at."""
    for char in text:
        if char == "\r":
            column = 0
        elif char == "\b":
            column = max(0, column - 1)
        else:
            if column < len(cells):
                cells[column] = cell(char)
            else:
                cells.append(cell(char))
            column += 1
    return column


def overlay(line: str) -> str:
    """What a terminal shows for one line that contains carriage returns and backspaces."""
    shown: list[str] = []
    type_onto(shown, 0, line)
    return "".join(shown)


# what ``clean`` changes: C0 controls (ESC, CR and BS among them), DEL and the C1 CSI
_UNCLEAN = (*map(chr, range(0x00, 0x09)), *map(chr, range(0x0B, 0x20)), "\x7f", "\x9b")


def clean(text: str) -> str:
    """Terminal output → the plain text a reader would have seen on screen."""
    # most outputs have none of these: a text is returned as it is after a search for each
    # character (a memchr each, ~10x faster on 200 KB than one character-class regex)
    if not any(char in text for char in _UNCLEAN):
        return text
    return _clean_all(text)


def _clean_all(text: str) -> str:
    text = strip_escapes(text).replace("\r\n", "\n")
    lines = [overlay(line) if ("\r" in line or "\b" in line) else line for line in text.split("\n")]
    return CONTROL.sub("", "\n".join(lines))
