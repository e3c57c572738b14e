"""From a line of a rendered page back to the line of the page file that produced it.

mkdocs-macros renders a page before its fences are read: the front matter is gone, a
``{{ variable }}`` changes a line, an ``{% include %}`` becomes many lines, a ``{# comment #}``
or an ``{% if %}`` removes some. Errors and steps must still name the line of the file.

The two texts are aligned the way patience diff aligns them, in time linear in their length
(``difflib.SequenceMatcher`` takes quadratic time on long pages): the common first and last
lines match; then the lines that occur exactly once in each text and keep their order (the
longest increasing run of them) are anchors; the stretches between anchors are aligned the
same way, a few levels deep. Where no line is left that both texts share, a source line
that holds an expression (``echo {{ versions.x }}``, a fence whose options use a variable)
is found in the rendered stretch by its literal text around the expressions. A rendered line
left without a counterpart after all that came from the source lines of its stretch: the
n-th such line maps to the n-th source line of the stretch (its last one past that), and a
line inserted where the source has none maps to the source line that follows it.
"""

from __future__ import annotations

import re
from bisect import bisect_left

# Stretches between anchors are aligned again, this many levels down: enough for what macros
# do to a page, and it bounds the work at a small multiple of the page's length.
MAX_DEPTH = 6
# A source line with an expression is looked for this many rendered lines ahead at most (so
# that the work stays linear), and only when its literal text says enough to be recognised.
TEMPLATE_WINDOW = 200
TEMPLATE_MIN_TEXT = 4
_EXPRESSION = re.compile(r"\{\{.*?\}\}")


class LineMap:
    """Maps a 0-based line of the rendered page to the 1-based line of the page file."""

    def __init__(self, source: str, rendered: str):
        src = source.split("\n")
        out = rendered.split("\n")
        self.last = max(0, len(src) - 1)
        if src == out:
            self.mapping = list(range(len(out)))
        elif source.endswith(rendered) and source[: len(source) - len(rendered)].endswith("\n"):
            # only front matter was taken off the top
            offset = len(src) - len(out)
            self.mapping = list(range(offset, offset + len(out)))
        else:
            self.mapping = [0] * len(out)
            _align(src, 0, len(src), out, 0, len(out), self.mapping, 0)

    def __call__(self, rendered_line: int) -> int:
        if 0 <= rendered_line < len(self.mapping):
            return self.mapping[rendered_line] + 1
        return self.last + 1


def _align(
    a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int, to: list[int], depth: int
) -> None:
    """Fill ``to[j]`` (an index of ``a``) for every ``j`` in ``b[blo:bhi]``."""
    while alo < ahi and blo < bhi and a[alo] == b[blo]:
        to[blo] = alo
        alo, blo = alo + 1, blo + 1
    while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
        ahi, bhi = ahi - 1, bhi - 1
        to[bhi] = ahi
    if blo == bhi:
        return
    if depth >= MAX_DEPTH or alo == ahi:
        _fill(alo, ahi, blo, bhi, to, len(a))
        return
    anchors = _anchors(a, alo, ahi, b, blo, bhi) or _template_anchors(a, alo, ahi, b, blo, bhi)
    if not anchors:
        _fill(alo, ahi, blo, bhi, to, len(a))
        return
    for i, j in anchors:
        _align(a, alo, i, b, blo, j, to, depth + 1)
        to[j] = i
        alo, blo = i + 1, j + 1
    _align(a, alo, ahi, b, blo, bhi, to, depth + 1)


def _fill(alo: int, ahi: int, blo: int, bhi: int, to: list[int], size: int) -> None:
    """Rendered lines with no counterpart: they came from the source lines of their stretch."""
    for j in range(blo, bhi):
        if ahi > alo:
            to[j] = alo + min(j - blo, ahi - alo - 1)
        else:  # inserted: the source line that follows
            to[j] = max(0, min(alo, size - 1))


def _anchors(a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int):
    """Lines found exactly once in each stretch, in an order both texts agree on."""
    count_a: dict[str, int] = {}
    where_a: dict[str, int] = {}
    for i in range(alo, ahi):
        line = a[i]
        count_a[line] = count_a.get(line, 0) + 1
        where_a[line] = i
    count_b: dict[str, int] = {}
    for j in range(blo, bhi):
        line = b[j]
        if line in count_a:
            count_b[line] = count_b.get(line, 0) + 1
    pairs = [
        (where_a[b[j]], j) for j in range(blo, bhi) if count_b.get(b[j]) == 1 and count_a[b[j]] == 1
    ]
    return _longest_increasing(pairs)


def _template_anchors(a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int):
    """Source lines with expressions, each found in order by the literal text around them."""
    found: list[tuple[int, int]] = []
    start = blo
    for i in range(alo, ahi):
        if "{{" not in a[i]:
            continue
        parts = _EXPRESSION.split(a[i])
        if len(parts) < 2 or sum(len(part) for part in parts) < TEMPLATE_MIN_TEXT:
            continue
        for j in range(start, min(bhi, start + TEMPLATE_WINDOW)):
            if _renders(parts, b[j]):
                found.append((i, j))
                start = j + 1
                break
    return found


def _renders(parts: list[str], line: str) -> bool:
    """Whether ``line`` can be the literal ``parts`` with expressions rendered between them."""
    if not (line.startswith(parts[0]) and line.endswith(parts[-1])):
        return False
    position, stop = len(parts[0]), len(line) - len(parts[-1])
    for part in parts[1:-1]:
        position = line.find(part, position, stop)
        if position < 0:
            return False
        position += len(part)
    return position <= stop


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``pairs`` (in ``j`` order) whose ``i`` increase (patience sorting)."""
    tails: list[int] = []  # tails[k]: the smallest i ending a run of length k + 1
    ends: list[int] = []  # the index in pairs of that run's last pair
    back: list[int] = [-1] * len(pairs)
    for index, (i, _) in enumerate(pairs):
        k = bisect_left(tails, i)
        if k == len(tails):
            tails.append(i)
            ends.append(index)
        else:
            tails[k] = i
            ends[k] = index
        back[index] = ends[k - 1] if k else -1
    run: list[tuple[int, int]] = []
    index = ends[-1] if ends else -1
    while index >= 0:
        run.append(pairs[index])
        index = back[index]
    run.reverse()
    return run
