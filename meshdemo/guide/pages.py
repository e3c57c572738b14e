"""The page reader: the fences of one page, rendered by macros, become steps.

markdown-it-py finds the fences (``meshdemo.guide.fences``), each fence's options are read
through the table of options (``meshdemo.guide.options``), and ``meshdemo.guide.linemap``
takes every line back to the page file. A page is read once: ``read_rendered_page`` gives its
steps with their lines in the page file and, for whoever puts captures back into the page,
where each step's fences sit in the rendered text.

Every problem is a ``ParseError`` naming the page and line, raised before anything runs or is
written. Reading a whole MkDocs project (nav, macros, the project cache) is
``meshdemo.guide.project``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from meshdemo.captures import RESERVED_IDS
from meshdemo.errors import ParseError, display_path
from meshdemo.guide.linemap import LineMap
from meshdemo.guide.options import (
    Where,
    check_plain_fence,
    options_for,
    parse_expected_options,
    parse_step_options,
)
from meshdemo.guide.project import load_project
from meshdemo.model import ExpectedOutput, Kind, Step

if TYPE_CHECKING:
    from markdown_it.token import Token

    from meshdemo.guide.fences import FenceInfo

__all__ = [
    "FenceSpan",
    "LineMap",
    "RenderedPage",
    "load_project",
    "read_page_steps",
    "read_rendered_page",
]

ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
# An id names files (docs/captures/<id>.json and the run's scratch files): short enough for any
# file system with room to spare, and long enough for any name a reader would type.
MAX_ID_LENGTH = 64
# the flag of a python block shown and never run (pytest-markdown-docs reads it too)
NOTEST = "notest"
PYTHON_LANGS = ("python", "py", "python3")
BASH_LANGS = ("bash",)


# -- ids ----------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    """MkDocs' toc slug, reduced to the id alphabet ``[a-z0-9-]``."""
    from markdown.extensions.toc import slugify

    slug = slugify(text, "-")
    return re.sub(r"[^a-z0-9]+", "-", slug.lower()).strip("-")


def page_stem(page_path: str) -> str:
    """``install/cli.md`` → ``install-cli``."""
    stem = page_path.rsplit(".", 1)[0] if page_path.endswith(".md") else page_path
    return _slug(stem.replace("/", " ")) or "page"


def check_id(where: Where, step_id: str) -> None:
    """An id the capture store, the CLI and every file system can take."""
    if not ID_RE.fullmatch(step_id):
        raise where.error(
            f"id #{step_id}: ids are lowercase letters, digits and dashes ([a-z0-9][a-z0-9-]*)"
        )
    if len(step_id) > MAX_ID_LENGTH:
        raise where.error(
            f"id #{step_id[:20]}…: {len(step_id)} characters; an id has at most {MAX_ID_LENGTH}"
        )
    if step_id in RESERVED_IDS:
        raise where.error(
            f"id #{step_id} is reserved: docs/captures/{step_id}.json is the capture store's own "
            f"(reserved: {', '.join(sorted(RESERVED_IDS))})"
        )


def _with_id(info: FenceInfo, step_id: str) -> str:
    """The fence's info string in brace form with ``step_id`` added, for error messages."""
    parts = [f".{info.lang}", f"#{step_id}", *(f".{c}" for c in info.classes)]
    for key, value in info.attrs.items():
        quote = "'" if '"' in value else '"'
        parts.append(f"{key}={quote}{value}{quote}")
    return "{ " + " ".join([*parts, *info.words]) + " }"


# -- pages ---------------------------------------------------------------------------------------


@dataclass
class FenceSpan:
    """A step's fence in the rendered text: 0-based lines, ``end`` excluded."""

    start: int
    end: int
    markup: str  # the opening fence, e.g. ``` or ~~~~
    expected: tuple[int, int] | None = None  # the .expected fence that follows, if any


class RenderedPage(NamedTuple):
    """One page read once: its steps, and where their fences sit in the rendered text.

    ``Step.line`` is the line in the page file (the rendered text's own line when the file's
    text is not known, as in a Markdown extension); ``spans`` and ``title_end`` count lines
    of the rendered text, where a renderer puts blocks.
    """

    steps: list[Step]
    spans: dict[str, FenceSpan]
    title_end: int | None  # the rendered line after the page's leading h1, if it has one


@dataclass
class _PageReader:
    """Turns the fences of one rendered page into steps."""

    page: str
    path: Path
    source: str
    rendered: str
    docs_dir: Path
    steps: list[Step] = field(default_factory=list)
    spans: dict[str, FenceSpan] = field(default_factory=dict)

    def read(self) -> RenderedPage:
        from markdown.extensions.toc import unique

        from meshdemo.guide import fences

        tokens = fences.parse(self.rendered)
        lines = self.rendered.split("\n")
        line_of = LineMap(self.source, self.rendered)
        stem = page_stem(self.page)
        heading: str | None = None
        heading_slug = ""
        heading_slugs: set[str] = set()
        suggested: dict[str, int] = {}  # ids proposed for fences that have none
        seen: dict[str, Step] = {}  # the page's ids so far
        # the last step fence, while nothing but container markup follows it
        previous: tuple[int, Step] | None = None
        previous_fence_is_step = False
        content_since_fence = True

        for index, token in enumerate(tokens):
            if token.type == "heading_open":
                heading = fences.heading_text(tokens[index + 1])
                # like MkDocs' toc: a repeated heading gets _1, _2 (then made an id)
                heading_slug = unique(_slug(heading) or "section", heading_slugs).replace("_", "-")
                content_since_fence = True
                continue
            if token.type != "fence":
                if token.type in _CONTENT_TOKENS:
                    content_since_fence = True
                continue
            assert token.map is not None
            where = Where(self.page, self.path, line_of(token.map[0]))
            if not fences.fence_is_closed(token, lines):
                raise where.error(
                    f"unterminated fence: no closing {token.markup} before the end of its block"
                )
            try:
                info = fences.parse_info(token.info)
            except fences.InfoError as error:
                message = f"cannot read fence options {token.info.strip()!r}: {error}"
                raise where.error(message) from None

            classes = set(info.classes)
            if info.lang == "expected" or "expected" in classes:
                expected = self._expected(where, info, token)
                if previous is None or not previous_fence_is_step:
                    raise where.error("an .expected fence must follow a step's fence")
                if content_since_fence:
                    raise where.error(
                        "an .expected fence must come right after its step "
                        f"(the step at {self.page}:{previous[1].line} is followed by other content)"
                    )
                step_index, step = previous
                if step.kind is Kind.SCREENSHOT:
                    raise where.error("a screenshot has no expected output")
                if step.expected is not None:
                    raise where.error(f"the step at {step.location} already has an expected output")
                self.steps[step_index] = replace(step, expected=expected)
                self.spans[step.id].expected = (token.map[0], token.map[1])
                content_since_fence = True
                continue

            kind = self._kind(info, classes)
            content_since_fence = False
            if kind is not None and info.words:
                kind = self._flags(where, token.info, info, kind)
            if kind is None:
                check_plain_fence(where, info)
                previous_fence_is_step = False
                continue
            options = parse_step_options(where, kind, info)
            if options.image is not None:
                image = (self.path.parent / options.image).resolve()
                if not image.is_relative_to(self.docs_dir.resolve()):
                    raise where.error(f'image="{options.image}": outside docs_dir')
            if info.id is None:
                base = f"{stem}-{heading_slug}" if heading_slug else stem
                count = suggested.get(base, 0) + 1
                suggested[base] = count
                suggestion = base if count == 1 else f"{base}-{count}"
                raise where.error(
                    f"this {kind} step has no id: give it one, unique in the project (it names "
                    f"the step's capture and test item), e.g. ``` {_with_id(info, suggestion)} ```"
                )
            check_id(where, info.id)
            command = token.content[:-1] if token.content.endswith("\n") else token.content
            if kind is not Kind.SCREENSHOT and not command.strip():
                raise where.error(f"empty {kind} step: the fence has no command")
            step = Step(
                id=info.id,
                kind=kind,
                page=self.page,
                line=where.line,
                command=command,
                options=options,
                heading=heading,
                source=self.path,
            )
            unique_ids([step], seen)
            self.steps.append(step)
            self.spans[step.id] = FenceSpan(token.map[0], token.map[1], token.markup)
            previous = (len(self.steps) - 1, step)
            previous_fence_is_step = True
        return RenderedPage(self.steps, self.spans, _title_end(tokens))

    @staticmethod
    def _kind(info: FenceInfo, classes: set[str]) -> Kind | None:
        if info.lang == "screenshot" or "screenshot" in classes:
            return Kind.SCREENSHOT
        if info.lang in BASH_LANGS:
            return Kind.BASH
        # the blocks pytest-markdown-docs collects: python/py/python3
        if info.lang in PYTHON_LANGS:
            return Kind.PYTHON
        return None

    @staticmethod
    def _flags(where: Where, text: str, info: FenceInfo, kind: Kind) -> Kind | None:
        """Bare words on a step fence: ``notest`` makes a python block shown only."""
        if not info.brace:
            shown_only = " (a python block shown only: ``` { .python notest } ```)"
            raise where.error(
                f"fence info {text.strip()!r}: python-markdown does not render a fence with "
                f"bare words after the language; use the brace form ``` {{ .{info.lang} ... }} ```"
                + (shown_only if kind is Kind.PYTHON else "")
            )
        for word in info.words:
            if word == NOTEST and kind is Kind.PYTHON:
                continue
            if word in options_for(kind.value):
                raise where.error(f'attribute {word!r} has no value (write {word}="...")')
            raise where.error(
                f"unknown flag {word!r} on a {kind} step (the one flag is {NOTEST}, on a python "
                "block that is shown and never run)"
            )
        return None if NOTEST in info.words else kind

    def _expected(self, where: Where, info: FenceInfo, token: Any) -> ExpectedOutput:
        values = parse_expected_options(where, info)
        if info.id is not None:
            raise where.error("an .expected fence takes no id; the step before it has one")
        text = token.content[:-1] if token.content.endswith("\n") else token.content
        return ExpectedOutput(text=text, line=where.line, **values)


def _title_end(tokens: list[Token]) -> int | None:
    """The line after the page's h1 when the page starts with one."""
    for token in tokens:
        if token.type == "heading_open" and token.tag == "h1" and token.map:
            return token.map[1]
        if token.block and token.type != "html_block":
            return None
    return None


# tokens that separate a step from an .expected fence (container markup does not)
_CONTENT_TOKENS = frozenset(
    {"paragraph_open", "html_block", "code_block", "hr", "table_open", "heading_open"}
)


# -- reading a page --------------------------------------------------------------------------


def read_rendered_page(
    page: str, rendered: str, *, source: str | None = None, docs_dir: Path | str | None = None
) -> RenderedPage:
    """Read one page already rendered by macros (in a build, or by ``load_project``).

    ``page`` is the path relative to docs_dir; ``source`` the page file's text, so that lines
    are those of the file (front matter counted); without it, lines are those of ``rendered``.
    Ids are unique within the page only: ``load_project`` checks them across the project.
    Raises ParseError.
    """
    root = Path(docs_dir) if docs_dir is not None else Path.cwd()
    text = source if source is not None else rendered
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _PageReader(page, root / page, text, rendered, root).read()


def read_page_steps(
    page: str, rendered: str, *, source: str | None = None, docs_dir: Path | str | None = None
) -> list[Step]:
    """The steps of one rendered page (see ``read_rendered_page``)."""
    return read_rendered_page(page, rendered, source=source, docs_dir=docs_dir).steps


def unique_ids(steps: list[Step] | tuple[Step, ...], seen: dict[str, Step]) -> None:
    """Ids are unique across a project: the second use of one is a ParseError at its line."""
    for step in steps:
        if step.id in seen:
            first = seen[step.id]
            raise ParseError(
                f"duplicate step id {step.id!r} (first at {first.location}); "
                "give one of them another id",
                display_path(step.source) if step.source else step.page,
                step.line,
            )
        seen[step.id] = step
