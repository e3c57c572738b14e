"""Terminal output as plain text: what a reader would have seen on the screen.

Shared by the capture store (the text file of a long output) and the site's renderer
(``meshdemo.site.ansi``, which also keeps the colours).
"""

from __future__ import annotations

import re

# ECMA-48: CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), other 2-byte escapes.
_CSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]")
_OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
_ESC = re.compile(r"\x1b[@-Z\\-_]|\x1b[()][0-9A-Za-z]|\x1b[=>78c]")
# C0 controls nothing can show (tab, newline and carriage return are handled apart).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_escapes(text: str) -> str:
    """Remove terminal escape sequences, keeping every printable character."""
    return _ESC.sub("", _CSI.sub("", _OSC.sub("", text)))


def overlay(line: str) -> str:
    """What a terminal shows for one line that contains carriage returns and backspaces."""
    shown: list[str] = []
    column = 0
    for char in line:
        if char == "\r":
            column = 0
        elif char == "\b":
            column = max(0, column - 1)
        else:
            if column < len(shown):
                shown[column] = char
            else:
                shown.append(char)
            column += 1
    return "".join(shown)


def clean(text: str) -> str:
    """Terminal output → the plain text a reader would have seen on screen."""
    text = strip_escapes(text).replace("\r\n", "\n")
    lines = [
        overlay(line) if ("\r" in line or "\b" in line) else line for line in text.split("\n")
    ]
    return CONTROL.sub("", "\n".join(lines))
