"""Compare a step's output with the example output a page shows, ignoring what always varies.

Volatile tokens (ages such as ``5m12s``/``3d``, generated pod-name suffixes such as
``-5d8f9c7b6d-x2x9q``, IP addresses, durations and latencies such as ``12ms``/``1.5s``, dates
and timestamps, trailing spaces) become placeholders on both sides before comparing, and runs
of spaces collapse to one, so column widths that follow the data do not matter.

Percentages and rates (``100.00%``, ``0.5rps``) are ignored too, unless the page declares a
``tolerance`` (in points) on the step: then they must be within that much of each other.

``contains`` (the default): every non-blank expected line, normalised, must be found in the
output in order, either as a whole line or inside one (a substring), each match after the
previous one, so an example may show a part of a table or drop lines. ``exact``: the
normalised outputs must be equal (blank lines at either end ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RULES: list[tuple[re.Pattern[str], str]] = [
    # 2024-05-01T12:03:04.123Z, 2024-05-01 12:03:04, 2024-05-01
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
        "<DATE>",
    ),
    # Mon Jan  2 15:04:05 UTC 2006 / Jan 2 15:04:05
    (
        re.compile(
            r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
            r"Oct|Nov|Dec)\s+\d{1,2}(?:,)?\s+\d{2}:\d{2}(?::\d{2})?(?:\s+[A-Z]{2,5})?(?:\s+\d{4})?"
        ),
        "<DATE>",
    ),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<TIME>"),
    # IPv4 (with an optional port or prefix length), IPv6 with at least two colons
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?\b"), "<IP>"),
    (re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"), "<IP>"),
    # deployment pods: <name>-<replicaset hash>-<5 chars>; statefulset/job pods: -<5 chars>
    (
        re.compile(r"-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b"),
        "-<POD>",
    ),
    (re.compile(r"(?<=[a-z0-9])-(?=[a-z0-9]*\d)[bcdfghjklmnpqrstvwxz2456789]{5}\b"), "-<POD>"),
    # ages and durations: 5m12s 3d 2d4h 10h 45s 1.5s 12ms 300µs 2m
    (
        re.compile(
            r"(?<![\w.])\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|y)(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))*(?!\w)"
        ),
        "<DUR>",
    ),
]
# percentages and rates move between runs: 100.00% 0.5rps
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:%|rps)(?!\w)")
NUMBER = "<NUM>"
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class _Line:
    """A normalised line: its text, every percentage or rate as <NUM>, and those numbers."""

    text: str
    numbers: tuple[float, ...]
    shown: str  # normalised with its numbers: what a message quotes


def _measure(line: str) -> _Line:
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    numbers = tuple(float(match.group(1)) for match in _NUMBER.finditer(line))
    text = _SPACES.sub(" ", _NUMBER.sub(NUMBER, line)).strip()
    return _Line(text, numbers, _SPACES.sub(" ", line).strip())


def _close(want: tuple[float, ...], got: tuple[float, ...], tolerance: float | None) -> bool:
    if tolerance is None:
        return True
    if len(want) != len(got):
        return False
    return all(abs(a - b) <= tolerance for a, b in zip(want, got, strict=True))


def _same(want: _Line, got: _Line, tolerance: float | None) -> bool:
    return want.text == got.text and _close(want.numbers, got.numbers, tolerance)


def _inside(want: _Line, got: _Line, tolerance: float | None) -> bool:
    """Is ``want`` a part of ``got``, its numbers within ``tolerance`` of theirs there?"""
    start = got.text.find(want.text)
    while start != -1:
        before = got.text[:start].count(NUMBER)
        if _close(want.numbers, got.numbers[before : before + len(want.numbers)], tolerance):
            return True
        start = got.text.find(want.text, start + 1)
    return False


def normalize_line(line: str) -> str:
    return _measure(line).text


def normalize(text: str) -> str:
    return "\n".join(normalize_line(line) for line in text.splitlines())


def normalize_keeping_numbers(text: str, seen: dict[str, str] | None = None) -> str:
    """As :func:`normalize`, but percentages and rates as they were: to show what moved.

    ``seen``: lines normalised before (raw -> normalised), reused and added to: two outputs
    compared share most of their lines.
    """
    seen = {} if seen is None else seen
    shown = []
    for line in text.splitlines():
        found = seen.get(line)
        if found is None:
            found = seen[line] = _measure(line).shown
        shown.append(found)
    return "\n".join(shown)


@dataclass(frozen=True)
class Comparison:
    matched: bool
    detail: str = ""  # for a mismatch: the first expected line not found


def _trimmed(text: str) -> list[str]:
    """The lines of ``text`` without the blank ones at either end (a line normalises to
    nothing exactly when it is blank: every rule puts a placeholder in what it replaces)."""
    lines = text.splitlines()
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def compare(
    expected: str, actual: str, match: str = "contains", tolerance: float | None = None
) -> Comparison:
    """Does ``actual`` (a step's output) match ``expected`` (the page's example)?

    ``tolerance``: how many points percentages and rates may differ by (None: any).
    """
    if match == "exact":
        want, got = _trimmed(expected), _trimmed(actual)
        for number, (raw_a, raw_b) in enumerate(zip(want, got, strict=False), 1):
            if raw_a == raw_b:
                continue  # the same line normalises the same: no need to (most lines of a rerun)
            a, b = _measure(raw_a), _measure(raw_b)
            if not _same(a, b, tolerance):
                return Comparison(False, f"line {number}: expected {a.shown!r}, got {b.shown!r}")
        if len(want) != len(got):
            return Comparison(False, "the output has a different number of lines")
        return Comparison(True)
    lines = [_measure(line) for line in actual.splitlines()]
    position = 0
    for raw in expected.splitlines():
        wanted = _measure(raw)
        if not wanted.text:
            continue
        while position < len(lines) and not _inside(wanted, lines[position], tolerance):
            position += 1
        if position == len(lines):
            return Comparison(False, f"expected line not found (in order): {raw.strip()!r}")
        position += 1
    return Comparison(True)
