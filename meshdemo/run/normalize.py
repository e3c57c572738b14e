"""Compare a step's output with the example output a page shows, ignoring what always varies.

Volatile tokens (ages such as ``5m12s``/``3d``, generated pod-name suffixes such as
``-5d8f9c7b6d-x2x9q``, IP addresses, durations and latencies such as ``12ms``/``1.5s``, dates
and timestamps, trailing spaces) become placeholders on both sides before comparing, and runs
of spaces collapse to one, so column widths that follow the data do not matter.

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
    # percentages and rates move between runs: 100.00% 0.5rps
    (re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:%|rps)(?!\w)"), "<NUM>"),
]
_SPACES = re.compile(r"[ \t]+")


def normalize_line(line: str) -> str:
    for pattern, replacement in _RULES:
        line = pattern.sub(replacement, line)
    return _SPACES.sub(" ", line).strip()


def normalize(text: str) -> str:
    return "\n".join(normalize_line(line) for line in text.splitlines())


@dataclass(frozen=True)
class Comparison:
    matched: bool
    detail: str = ""  # for a mismatch: the first expected line not found


def compare(expected: str, actual: str, match: str = "contains") -> Comparison:
    """Does ``actual`` (a step's output) match ``expected`` (the page's example)?"""
    if match == "exact":
        want = normalize(expected).strip("\n")
        got = normalize(actual).strip("\n")
        if want == got:
            return Comparison(True)
        for number, (a, b) in enumerate(zip(want.splitlines(), got.splitlines(), strict=False), 1):
            if a != b:
                return Comparison(False, f"line {number}: expected {a!r}, got {b!r}")
        return Comparison(False, "the output has a different number of lines")
    lines = [normalize_line(line) for line in actual.splitlines()]
    position = 0
    for raw in expected.splitlines():
        want = normalize_line(raw)
        if not want:
            continue
        while position < len(lines) and want not in lines[position]:
            position += 1
        if position == len(lines):
            return Comparison(False, f"expected line not found (in order): {raw.strip()!r}")
        position += 1
    return Comparison(True)
