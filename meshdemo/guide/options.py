"""Step options, declared once: the table every reader of a fence's options works from.

Each row of ``OPTIONS`` is one attribute a fence may carry: its name in the page, the field it
fills (``StepOptions``, or ``ExpectedOutput`` for ``.expected`` fences), the kinds of fence
that take it, how its value is read, and a one-line description with an example. ``RULES``
are the checks across options. From them come:

* what the page reader accepts (``parse_step_options``, ``parse_expected_options``): an
  unknown option, a bad value or a broken rule is a ``ParseError`` naming the page and line;
* the options table of ``docs/reference.md`` (``reference_table``, a mkdocs-macros macro);
* what ``meshdemo run --dry-run`` shows of a step (``describe``).

Adding an option: one row here, one field in ``meshdemo.model.StepOptions``, and its
behaviour where it acts (the runner, the renderer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from meshdemo.errors import ParseError, display_path
from meshdemo.model import ExpectedOutput, Kind, StepOptions

if TYPE_CHECKING:
    from meshdemo.guide import fences

# the fence kinds options apply to: the three kinds of step, and the expected output of one
BASH, PYTHON, SCREENSHOT = Kind.BASH.value, Kind.PYTHON.value, Kind.SCREENSHOT.value
EXPECTED = "expected"
STEP_KINDS = (BASH, PYTHON, SCREENSHOT)

# display attributes superfences/Material understand; allowed on any fence, ignored by the engine
DISPLAY_ATTRS = frozenset({"title", "linenums", "hl_lines", "anchor_linenums", "line_spans"})

# Durations are bounded so that no value can overflow a clock later (poll(2) takes an int of
# milliseconds; select(2) a time_t): a day is longer than any runbook step should wait.
MAX_SECONDS = 86_400.0
# The engine needs a moment to hand a step to the shell: a shorter limit would fire before
# the step even started, and stopping a step that has not started yet cannot be done cleanly.
MIN_LIMIT_SECONDS = 1.0
MAX_ATTEMPTS = 1_000
MAX_PIXELS = 16_384  # Chromium's largest window side


class BadValue(ValueError):
    """A value an option cannot take; the message says what it should be."""


# -- values ----------------------------------------------------------------------------------


class Value(NamedTuple):
    """How an option's value is written (``metavar``), read (``parse``) and shown (``show``)."""

    metavar: str
    parse: Callable[[str], Any]
    show: Callable[[Any], str] = str
    limits: str = ""  # the range it accepts, for the reference table


def _seconds(minimum: float, *, above: bool) -> Value:
    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise BadValue("not a number of seconds") from None
        if not math.isfinite(number):
            raise BadValue("not a number of seconds")
        if number < minimum or (above and number == minimum):
            raise BadValue(f"must be {'above' if above else 'at least'} {minimum:g}")
        if number > MAX_SECONDS:
            raise BadValue(f"must be at most {MAX_SECONDS:g} seconds (a day)")
        return number

    limits = f"{'above ' if above else ''}{minimum:g} to {MAX_SECONDS:g}"
    return Value("SECONDS", parse, lambda value: f"{value:g}", limits)


def _limit_seconds() -> Value:
    """A time limit: above 0, and not so short that it fires before the step has started."""
    base = _seconds(0.0, above=True)

    def parse(text: str) -> float:
        number = base.parse(text)
        if number < MIN_LIMIT_SECONDS:
            raise BadValue(
                f"must be at least {MIN_LIMIT_SECONDS:g} s: a shorter limit can run out before "
                "the shell has started the step"
            )
        return number

    return Value("SECONDS", parse, base.show, f"{MIN_LIMIT_SECONDS:g} to {MAX_SECONDS:g}")


def _whole(minimum: int, maximum: int, metavar: str = "N") -> Value:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text):
            raise BadValue("not a whole number")
        number = int(text)
        if number < minimum:
            raise BadValue(f"must be at least {minimum}")
        if number > maximum:
            raise BadValue(f"must be at most {maximum}")
        return number

    return Value(metavar, parse, limits=f"{minimum} to {maximum}")


def _exit_status(text: str) -> int | None:
    if text == "any":
        return None
    if not re.fullmatch(r"[0-9]+", text):
        raise BadValue('not a whole number (an exit status is 0 to 255, or "any")')
    if int(text) > 255:
        raise BadValue('an exit status is 0 to 255, or "any"')
    return int(text)


def _flag(text: str) -> bool:
    if text not in ("true", "false"):
        raise BadValue('must be "true" or "false"')
    return text == "true"


def _text(text: str) -> str:
    if not text.strip():
        raise BadValue("must not be empty")
    return text


LOCAL_URL_RE = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?(/\S*)?")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MATCH_MODES = ("contains", "exact")


def _local_url(text: str) -> str:
    if not LOCAL_URL_RE.fullmatch(text):
        raise BadValue(
            "screenshots are of local pages only "
            "(http://localhost:PORT/... or http://127.0.0.1:PORT/...)"
        )
    return text


def _image(text: str) -> str:
    if "://" in text or text.startswith("/") or not text.lower().endswith(IMAGE_SUFFIXES):
        raise BadValue("a relative path to a .png or .jpg file, like a Markdown image")
    return text


def _points(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise BadValue("not a number of percentage points") from None
    if not 0 <= number <= 100:  # also refuses nan
        raise BadValue("must be 0 to 100 percentage points")
    return number


def _match(text: str) -> str:
    if text not in MATCH_MODES:
        raise BadValue(f"must be {' or '.join(f'{m!r}' for m in MATCH_MODES)}")
    return text


SECONDS = _seconds(0.0, above=False)
LIMIT = _limit_seconds()
EXIT = Value(
    'N|"any"', _exit_status, lambda value: "any" if value is None else str(value), "0 to 255"
)
FLAG = Value('"true"|"false"', _flag, lambda value: "true" if value else "false")
TEXT = Value("TEXT", _text)
SHELL_TEST = Value("SHELL TEST", _text)
URL = Value("URL", _local_url)
IMAGE = Value("PATH", _image)
SELECTOR = Value("CSS SELECTOR", _text)
PIXELS = _whole(1, MAX_PIXELS, "PIXELS")
MATCH = Value('"contains"|"exact"', _match)
POINTS = Value("POINTS", _points, lambda value: f"{value:g}", "0 to 100")
TITLE = Value("TEXT", str)


# -- the table -------------------------------------------------------------------------------


class Option(NamedTuple):
    """One attribute of a fence."""

    name: str  # as written in the page: retry-delay="5"
    field: str  # the field it fills: StepOptions.retry_delay
    kinds: tuple[str, ...]  # the fences that take it
    value: Value
    description: str  # one line, for the reference table
    example: str  # the attribute as a page writes it (with what the rules ask of it)
    required: tuple[str, ...] = ()  # the kinds that must give it

    @property
    def default(self) -> Any:
        """The field's default."""
        model = ExpectedOutput if self.kinds == (EXPECTED,) else StepOptions
        for item in fields(model):
            if item.name == self.field:
                return item.default
        raise LookupError(f"{model.__name__} has no field {self.field!r}")


OPTIONS: tuple[Option, ...] = (
    Option(
        "timeout", "timeout", STEP_KINDS, LIMIT,
        "How long the step may run (each attempt); its processes are killed after that.",
        'timeout="420"',
    ),
    Option(
        "exit", "exit", (BASH,), EXIT,
        'The exit status the step must end with; "any" accepts every status.',
        'exit="1"',
    ),
    Option(
        "background", "background", (BASH,), FLAG,
        "Left running in its own process group; stopped at the end of the run.",
        'background="true"',
    ),
    Option(
        "stream", "stream", (BASH,), LIMIT,
        "Run that many seconds, then stop the command; that counts as success.",
        'stream="15"',
    ),
    Option(
        "retry", "retry", (BASH,), _whole(1, MAX_ATTEMPTS),
        "Attempts in all, until the exit status matches: to wait for a condition.",
        'retry="24"',
    ),
    Option(
        "retry-delay", "retry_delay", (BASH,), SECONDS,
        "The pause between two attempts.",
        'retry="24" retry-delay="5"',
    ),
    Option(
        "skip", "skip", STEP_KINDS, TEXT,
        "Shown on the page, never run; the reason is shown to the reader.",
        'skip="installs software with sudo"',
    ),
    Option(
        "skip-if", "skip_if", STEP_KINDS, SHELL_TEST,
        "A shell test run in the session just before the step: status 0 skips the step.",
        "skip-if=\"kind get clusters | grep -qx meshdemo\"",
    ),
    Option(
        "provision", "provision", (BASH,), FLAG,
        "The step creates the cluster: skipped when a run targets an existing one.",
        'provision="true"',
    ),
    Option(
        "teardown", "teardown", (BASH,), FLAG,
        "The step destroys the cluster: runs as `meshdemo run --cleanup` says.",
        'teardown="true"',
    ),
    Option(
        "tolerance", "tolerance", (BASH,), POINTS,
        "How far percentages and rates in the output may move and still match (by default "
        "they are ignored), in expected-output checks and in `meshdemo diff`.",
        'tolerance="2"',
    ),
    Option(
        "url", "url", (SCREENSHOT,), URL,
        "The local page to shoot (localhost, 127.0.0.1 or [::1]).",
        'url="http://localhost:50750/namespaces"',
        required=(SCREENSHOT,),
    ),
    Option(
        "image", "image", (SCREENSHOT,), IMAGE,
        "Where the picture goes, relative to the page, like a Markdown image.",
        'image="images/dashboard.png"',
        required=(SCREENSHOT,),
    ),
    Option(
        "wait-for", "wait_for", (SCREENSHOT,), SELECTOR,
        "The shot is taken once an element matches this selector (the data has loaded).",
        'wait-for="table tbody tr"',
    ),
    Option(
        "mask", "mask", (SCREENSHOT,), SELECTOR,
        "Regions that change on every shot (clocks, live counters): `meshdemo diff` leaves "
        "out the elements matching this selector.",
        'mask=".timestamp"',
    ),
    Option(
        "width", "width", (SCREENSHOT,), PIXELS,
        "The browser window's width.",
        'width="1440"',
    ),
    Option(
        "height", "height", (SCREENSHOT,), PIXELS,
        "The browser window's height.",
        'height="900"',
    ),
    Option(
        "match", "match", (EXPECTED,), MATCH,
        "How the output is compared: expected lines in order, or the whole output.",
        'match="exact"',
    ),
    Option(
        "title", "title", (EXPECTED,), TITLE,
        "The label of the expected output on the page; say where an example comes from.",
        'title="Expected output (linkerd.io docs)"',
    ),
)  # fmt: skip


class Rule(NamedTuple):
    """A check across options: ``broken(values)`` says what is wrong, or None."""

    description: str
    kinds: tuple[str, ...]
    broken: Callable[[Mapping[str, Any]], str | None]


def _exclusive(first: str, second: str, why: str) -> Callable[[Mapping[str, Any]], str | None]:
    field_a, field_b = _BY_NAME[first].field, _BY_NAME[second].field

    def broken(values: Mapping[str, Any]) -> str | None:
        if values.get(field_a) not in (None, False) and values.get(field_b) not in (None, False):
            return f"{first} and {second} cannot go together: {why}"
        return None

    return broken


def _retry_delay_needs_retry(values: Mapping[str, Any]) -> str | None:
    if "retry_delay" in values and values.get("retry", 1) < 2:
        return 'retry-delay is the pause between attempts: it needs retry="2" or more'
    return None


_BY_NAME = {option.name: option for option in OPTIONS}

RULES: tuple[Rule, ...] = (
    Rule(
        "`background` and `stream` exclude each other",
        (BASH,),
        _exclusive("background", "stream", "a stream is stopped when its time is up"),
    ),
    Rule(
        "`background` and `retry` exclude each other",
        (BASH,),
        _exclusive("background", "retry", "a background step is started once"),
    ),
    Rule(
        "`stream` and `timeout` exclude each other",
        (BASH,),
        _exclusive("stream", "timeout", "the stream's seconds are its time limit"),
    ),
    Rule(
        "`skip` and `skip-if` exclude each other",
        STEP_KINDS,
        _exclusive("skip", "skip-if", "skip already says the step never runs"),
    ),
    Rule(
        "`provision` and `teardown` exclude each other",
        (BASH,),
        _exclusive("provision", "teardown", "a step creates the cluster or destroys it"),
    ),
    Rule("`retry-delay` needs `retry` of 2 or more", (BASH,), _retry_delay_needs_retry),
)


def options_for(kind: str) -> dict[str, Option]:
    """The options a fence of ``kind`` takes, by name."""
    return {option.name: option for option in OPTIONS if kind in option.kinds}


# -- reading a fence -------------------------------------------------------------------------


@dataclass
class Where:
    page: str
    path: Path
    line: int

    def error(self, message: str) -> ParseError:
        return ParseError(message, display_path(self.path), self.line)


def _read(where: Where, kind: str, info: fences.FenceInfo, what: str) -> dict[str, Any]:
    allowed = options_for(kind)
    values: dict[str, Any] = {}
    for name, text in info.attrs.items():
        option = allowed.get(name)
        if option is None:
            if name in DISPLAY_ATTRS:
                continue
            known = ", ".join(sorted(allowed)) or "none"
            raise where.error(f"unknown attribute {name!r} on a {what} (known: {known})")
        try:
            values[option.field] = option.value.parse(text)
        except BadValue as error:
            raise where.error(f'{name}="{text}": {error}') from None
    for option in allowed.values():
        if kind in option.required and option.name not in info.attrs:
            raise where.error(f'a {what} needs {option.name}="..."')
    for rule in RULES:
        if kind in rule.kinds and (message := rule.broken(values)):
            raise where.error(message)
    return values


def parse_step_options(where: Where, kind: Kind, info: fences.FenceInfo) -> StepOptions:
    return StepOptions(**_read(where, kind.value, info, f"{kind} step"))


def parse_expected_options(where: Where, info: fences.FenceInfo) -> dict[str, Any]:
    """The fields of an ``ExpectedOutput`` its fence gives (``match``, ``title``)."""
    return _read(where, EXPECTED, info, "expected output")


def check_plain_fence(where: Where, info: fences.FenceInfo) -> None:
    """Fences that are not steps are shown, not run: still reject step options on them."""
    step_options = {o.name for o in OPTIONS if set(o.kinds) & set(STEP_KINDS)}
    misplaced = sorted((set(info.attrs) & step_options) - DISPLAY_ATTRS)
    if misplaced:
        raise where.error(
            f"step option {misplaced[0]!r} on a {info.lang or 'plain'} fence, which is not a "
            "step (steps are bash, python and .screenshot fences)"
        )


# -- showing options -------------------------------------------------------------------------


def given(options: StepOptions, kind: Kind) -> list[tuple[Option, Any]]:
    """The options of a step that differ from their defaults, in table order."""
    found = []
    for option in options_for(kind.value).values():
        value = getattr(options, option.field)
        if value != option.default:
            found.append((option, value))
    return found


def describe(options: StepOptions, kind: Kind) -> str:
    """A step's options as a page would write them (defaults left out): for ``--dry-run``."""
    shown = given(options, kind)
    return " ".join(_attribute(option.name, option.value.show(value)) for option, value in shown)


def _attribute(name: str, text: str) -> str:
    quote = "'" if '"' in text else '"'
    return f"{name}={quote}{text}{quote}"


def _default_text(option: Option) -> str:
    if option.required:
        return "required"
    default = option.default
    if default is None:
        return "no default"
    return f"default `{option.value.show(default)}`"


def reference_table(kinds: Iterable[str] = (*STEP_KINDS, EXPECTED)) -> str:
    """The options of the reference page, as Markdown (generated from ``OPTIONS``).

    One list item an option rather than a wide table: it reads as well on a phone as on a
    projector, and Python-Markdown, MkDocs and Zensical render it alike.
    """
    wanted = set(kinds)
    items = []
    for option in OPTIONS:
        if not wanted & set(option.kinds):
            continue
        limits = f"{option.value.limits}; " if option.value.limits else ""
        items.append(
            f"- **`{option.name}`** `{option.value.metavar}` ({limits}{_default_text(option)}) "
            f"on {', '.join(option.kinds)}  \n"
            f"  {option.description} Example: `{option.example}`"
        )
    rules = [f"- {rule.description}." for rule in RULES if wanted & set(rule.kinds)]
    together = "\n\nThese options exclude or need each other:\n\n" + "\n".join(rules)
    return "\n".join(items) + (together if rules else "") + "\n"
