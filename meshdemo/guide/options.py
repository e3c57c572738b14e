"""Step options: the attributes a fence may carry, each read and checked into ``StepOptions``.

Every problem is a ``ParseError`` naming the page and the fence's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshdemo.errors import ParseError, display_path
from meshdemo.guide import fences
from meshdemo.model import Kind, StepOptions

LOCAL_URL_RE = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?(/\S*)?")
# display attributes superfences/Material understand; allowed on any fence, ignored by the engine
DISPLAY_ATTRS = frozenset({"title", "linenums", "hl_lines", "anchor_linenums", "line_spans"})
BASH_ATTRS = frozenset(
    {
        "timeout",
        "exit",
        "background",
        "stream",
        "retry",
        "retry-delay",
        "skip",
        "skip-if",
        "provision",
        "teardown",
    }
)
PYTHON_ATTRS = frozenset({"timeout", "skip", "skip-if"})
SCREENSHOT_ATTRS = frozenset(
    {"url", "image", "wait-for", "width", "height", "timeout", "skip", "skip-if"}
)
EXPECTED_ATTRS = frozenset({"match", "title"})
MATCH_MODES = ("contains", "exact")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class Where:
    page: str
    path: Path
    line: int

    def error(self, message: str) -> ParseError:
        return ParseError(message, display_path(self.path), self.line)


def _number(where: Where, key: str, value: str, *, positive: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        raise where.error(f'{key}="{value}": not a number of seconds') from None
    if number != number or number in (float("inf"), float("-inf")):
        raise where.error(f'{key}="{value}": not a number of seconds')
    if number < 0 or (positive and number == 0):
        raise where.error(f'{key}="{value}": must be {"above" if positive else "at least"} 0')
    return number


def _integer(where: Where, key: str, value: str, *, minimum: int) -> int:
    if not re.fullmatch(r"[0-9]+", value):
        raise where.error(f'{key}="{value}": not a whole number')
    number = int(value)
    if number < minimum:
        raise where.error(f'{key}="{value}": must be at least {minimum}')
    return number


def _boolean(where: Where, key: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise where.error(f'{key}="{value}": must be "true" or "false"')
    return value == "true"


def _text(where: Where, key: str, value: str) -> str:
    if not value.strip():
        raise where.error(f'{key}="": must not be empty')
    return value


def check_keys(where: Where, info: fences.FenceInfo, allowed: frozenset[str], what: str) -> None:
    for key in info.attrs:
        if key not in allowed and key not in DISPLAY_ATTRS:
            known = ", ".join(sorted(allowed)) or "none"
            raise where.error(f"unknown attribute {key!r} on a {what} (known: {known})")


def parse_step_options(where: Where, kind: Kind, info: fences.FenceInfo) -> StepOptions:
    allowed = {Kind.BASH: BASH_ATTRS, Kind.PYTHON: PYTHON_ATTRS, Kind.SCREENSHOT: SCREENSHOT_ATTRS}
    check_keys(where, info, allowed[kind], f"{kind} step")
    a = info.attrs
    values: dict[str, Any] = {}
    if "timeout" in a:
        values["timeout"] = _number(where, "timeout", a["timeout"], positive=True)
    if "exit" in a:
        if a["exit"] == "any":
            values["exit"] = None
        else:
            code = _integer(where, "exit", a["exit"], minimum=0)
            if code > 255:
                raise where.error(f'exit="{a["exit"]}": an exit status is 0 to 255, or "any"')
            values["exit"] = code
    for key in ("background", "provision", "teardown"):
        if key in a:
            values[key] = _boolean(where, key, a[key])
    if "stream" in a:
        values["stream"] = _number(where, "stream", a["stream"], positive=True)
    if values.get("background") and "stream" in values:
        raise where.error('background="true" and stream="..." cannot go together')
    if "retry" in a:
        values["retry"] = _integer(where, "retry", a["retry"], minimum=1)
    if "retry-delay" in a:
        values["retry_delay"] = _number(where, "retry-delay", a["retry-delay"], positive=False)
    if "skip" in a:
        values["skip"] = _text(where, "skip", a["skip"])
    if "skip-if" in a:
        values["skip_if"] = _text(where, "skip-if", a["skip-if"])
    if kind is Kind.SCREENSHOT:
        for key in ("url", "image"):
            if key not in a:
                raise where.error(f'a screenshot needs {key}="..."')
        if not LOCAL_URL_RE.fullmatch(a["url"]):
            raise where.error(
                f'url="{a["url"]}": screenshots are of local pages only '
                "(http://localhost:PORT/... or http://127.0.0.1:PORT/...)"
            )
        values["url"] = a["url"]
        image = a["image"]
        if "://" in image or image.startswith("/") or not image.lower().endswith(IMAGE_SUFFIXES):
            raise where.error(
                f'image="{image}": a relative path to a .png or .jpg file, like a Markdown image'
            )
        values["image"] = image
        if "wait-for" in a:
            values["wait_for"] = _text(where, "wait-for", a["wait-for"])
        for key in ("width", "height"):
            if key in a:
                values[key] = _integer(where, key, a[key], minimum=1)
    return StepOptions(**values)


def check_plain_fence(where: Where, info: fences.FenceInfo) -> None:
    """Fences that are not steps are shown, not run: still reject step options on them."""
    misplaced = sorted((set(info.attrs) & (BASH_ATTRS | SCREENSHOT_ATTRS)) - DISPLAY_ATTRS)
    if misplaced:
        raise where.error(
            f"step option {misplaced[0]!r} on a {info.lang or 'plain'} fence, which is not a "
            "step (steps are bash, python and .screenshot fences)"
        )
