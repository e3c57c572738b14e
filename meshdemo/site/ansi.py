"""Terminal output made fit for a page.

A captured step is what a terminal would have received: colour escapes (SGR), cursor moves,
carriage-return progress bars. A page shows what a reader would have *seen* on that terminal:

* ``to_html_lines``: one self-contained, escaped HTML line per output line, its colours (SGR)
  as ``<span class="ansi-…">`` (``linkerd check``'s green ✔ and yellow ‼ stay green and
  yellow); every other control sequence is applied or dropped, never passed through;
* plain text without colour: :func:`meshdemo.terminal.clean`.

Lines that hold no escape, carriage return or backspace (nearly all of them) take a fast path:
one ``html.escape``. Only a line that rewrites itself (``\\r`` progress bars, backspaces,
erase-line) is replayed cell by cell.
"""

from __future__ import annotations

import functools
import html
import re
from functools import lru_cache
from typing import NamedTuple

from meshdemo.terminal import CONTROL as _CONTROL
from meshdemo.terminal import overlay as _overlay
from meshdemo.terminal import type_onto

# any escape sequence, in the order a terminal would recognise them
_ANY_ESCAPE = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI (SGR is the one with final byte m)
    r"|\x1b[()][0-9A-Za-z]|\x1b[=>78c]|\x1b[@-Z\\-_]"
)
_NEEDS_REPLAY = re.compile(r"[\r\b]")


# -- colour ---------------------------------------------------------------------------------------


class Style(NamedTuple):
    """The SGR state of the terminal: what the next printed character looks like."""

    fg: int | str | None = None  # 0-15: a palette class; "#rrggbb": a 256-colour or RGB value
    bg: int | str | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False

    def span(self) -> str | None:
        """The opening tag for this style, or None for the terminal's default look."""
        return _span(self)


@lru_cache(maxsize=256)
def _span(style: Style) -> str | None:
    """A handful of styles per output: each opening tag is built once."""
    classes: list[str] = []
    styles: list[str] = []
    for prefix, colour, prop in (("fg", style.fg, "color"), ("bg", style.bg, "background")):
        if isinstance(colour, int):
            classes.append(f"ansi-{prefix}-{colour}")
        elif colour is not None:
            styles.append(f"{prop}:{colour}")
    for flag in ("bold", "dim", "italic", "underline"):
        if getattr(style, flag):
            classes.append(f"ansi-{flag}")
    if not classes and not styles:
        return None
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if styles:
        attrs += f' style="{";".join(styles)}"'
    return f"<span{attrs}>"


DEFAULT = Style()
_CUBE = (0, 95, 135, 175, 215, 255)


def _colour_256(index: int) -> int | str | None:
    if not 0 <= index <= 255:
        return None
    if index < 16:
        return index
    if index < 232:
        index -= 16
        red, green, blue = _CUBE[index // 36], _CUBE[index // 6 % 6], _CUBE[index % 6]
        return f"#{red:02x}{green:02x}{blue:02x}"
    grey = 8 + (index - 232) * 10
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def _extended(codes: list[int], at: int) -> tuple[int | str | None, int]:
    """``38;5;N`` / ``38;2;R;G;B`` (and 48): the colour, and how many codes it used."""
    if at + 1 < len(codes) and codes[at + 1] == 5 and at + 2 < len(codes):
        return _colour_256(codes[at + 2]), 3
    if at + 1 < len(codes) and codes[at + 1] == 2 and at + 4 < len(codes):
        red, green, blue = (max(0, min(255, c)) for c in codes[at + 2 : at + 5])
        return f"#{red:02x}{green:02x}{blue:02x}", 5
    return None, len(codes) - at  # malformed: ignore the rest, as terminals do


@lru_cache(maxsize=1024)
def apply_sgr(style: Style, params: str) -> Style:
    """The style after ``ESC [ params m`` (the same few sequences recur: cached)."""
    try:
        codes = [int(code) if code else 0 for code in re.split("[;:]", params)] if params else [0]
    except ValueError:
        return style
    at = 0
    while at < len(codes):
        code = codes[at]
        used = 1
        if code == 0:
            style = DEFAULT
        elif code == 1:
            style = style._replace(bold=True)
        elif code == 2:
            style = style._replace(dim=True)
        elif code == 3:
            style = style._replace(italic=True)
        elif code == 4:
            style = style._replace(underline=True)
        elif code == 22:
            style = style._replace(bold=False, dim=False)
        elif code == 23:
            style = style._replace(italic=False)
        elif code == 24:
            style = style._replace(underline=False)
        elif 30 <= code <= 37:
            style = style._replace(fg=code - 30)
        elif 90 <= code <= 97:
            style = style._replace(fg=code - 90 + 8)
        elif code == 39:
            style = style._replace(fg=None)
        elif 40 <= code <= 47:
            style = style._replace(bg=code - 40)
        elif 100 <= code <= 107:
            style = style._replace(bg=code - 100 + 8)
        elif code == 49:
            style = style._replace(bg=None)
        elif code in (38, 48):
            colour, used = _extended(codes, at)
            style = style._replace(fg=colour) if code == 38 else style._replace(bg=colour)
        at += used
    return style


def _segments(line: str, style: Style) -> tuple[list[tuple[Style, str]], Style]:
    """A line without ``\\r``/``\\b`` as (style, text) runs; the style it leaves behind."""
    runs: list[tuple[Style, str]] = []
    position = 0
    for match in _ANY_ESCAPE.finditer(line):
        if match.start() > position:
            runs.append((style, line[position : match.start()]))
        sequence = match.group()
        if sequence.endswith("m") and sequence.startswith(("\x1b[", "\x9b")):
            style = apply_sgr(style, sequence[2:-1] if sequence[0] == "\x1b" else sequence[1:-1])
        position = match.end()
    if position < len(line):
        runs.append((style, line[position:]))
    return runs, style


def _styled(style: Style, char: str) -> tuple[Style, str]:
    return style, char


def _replay(line: str, style: Style) -> tuple[list[tuple[Style, str]], Style]:
    """A line that rewrites itself, replayed on a row of cells as a terminal would."""
    cells: list[tuple[Style, str]] = []
    column = 0
    position = 0
    for match in [*_ANY_ESCAPE.finditer(line), None]:
        end = match.start() if match is not None else len(line)
        styled = functools.partial(_styled, style)
        column = type_onto(cells, column, line[position:end], styled)
        if match is None:
            break
        sequence = match.group()
        if sequence.startswith(("\x1b[", "\x9b")):
            final = sequence[-1]
            params = sequence[2:-1] if sequence[0] == "\x1b" else sequence[1:-1]
            if final == "m":
                style = apply_sgr(style, params)
            elif final == "K" and params in ("", "0"):  # erase to the end of the line
                del cells[column:]
            elif final == "K" and params == "2":
                cells = [(DEFAULT, " ")] * column if column else []
            elif final == "G":  # cursor to a column (1-based)
                column = max(0, int(params or "1") - 1) if params.isdigit() or not params else 0
        position = match.end()
    runs: list[tuple[Style, str]] = []
    for cell_style, char in cells:
        if runs and runs[-1][0] == cell_style:
            runs[-1] = (cell_style, runs[-1][1] + char)
        else:
            runs.append((cell_style, char))
    return runs, style


def _html(runs: list[tuple[Style, str]]) -> str:
    parts: list[str] = []
    for style, text in runs:
        text = html.escape(_CONTROL.sub("", text), quote=False)
        if not text:
            continue
        opening = style.span()
        parts.append(f"{opening}{text}</span>" if opening else text)
    return "".join(parts)


def to_html_lines(text: str) -> list[str]:
    """Terminal output → one escaped HTML line per output line, colours as spans.

    Each line opens and closes its own spans (the colour in force carries over from the line
    before, as on a terminal), so any run of lines can be shown apart from the others.
    """
    text = text.replace("\r\n", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    if not _NEEDS_REPLAY.search(text) and "\x1b" not in text and "\x9b" not in text:
        return html.escape(_CONTROL.sub("", text), quote=False).split("\n")
    style = DEFAULT
    lines: list[str] = []
    for line in text.split("\n"):
        if "\x1b" not in line and "\x9b" not in line and style == DEFAULT:
            if _NEEDS_REPLAY.search(line):
                lines.append(html.escape(_CONTROL.sub("", _overlay(line)), quote=False))
            else:
                lines.append(html.escape(_CONTROL.sub("", line), quote=False))
            continue
        if _NEEDS_REPLAY.search(line):
            runs, style = _replay(line, style)
        else:
            runs, style = _segments(line, style)
        lines.append(_html(runs))
    return lines
