"""Load an MkDocs project into pages and steps, in the order a reader meets them.

MkDocs decides what the pages are and in which order, mkdocs-macros renders them
(``meshdemo.guide.mkdocs_config``); markdown-it-py then finds the fences
(``meshdemo.guide.fences``) and each fence's options are read by ``meshdemo.guide.options``.

Every problem is raised before anything runs or is written: a ``ConfigError`` for mkdocs.yml,
a ``ParseError`` naming the page and line for a page.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from meshdemo.captures import RESERVED_IDS
from meshdemo.errors import ParseError, display_path
from meshdemo.guide import fences
from meshdemo.guide.mkdocs_config import (
    Macros,
    TemplateError,
    check_nav_pages,
    load_config,
    macros_plugin,
    quiet_mkdocs,
)
from meshdemo.guide.options import (
    Where,
    check_plain_fence,
    options_for,
    parse_expected_options,
    parse_step_options,
)
from meshdemo.model import (
    ExpectedOutput,
    Kind,
    Page,
    Project,
    Step,
)

ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
# An id names files (docs/captures/<id>.json and the run's scratch files): short enough for any
# file system with room to spare, and long enough for any name a reader would type.
MAX_ID_LENGTH = 64
# the flag of a python block shown and never run (pytest-markdown-docs reads it too)
NOTEST = "notest"
PYTHON_LANGS = ("python", "py", "python3")
BASH_LANGS = ("bash",)


# -- line mapping --------------------------------------------------------------------------------


class LineMap:
    """Maps a 0-based line of the rendered page to the 1-based line of the page file.

    The rendered page lacks the front matter and may differ where macros expanded (an include
    becomes many lines): lines that differ map to the source line that produced them.
    """

    def __init__(self, source: str, rendered: str):
        self.mapping: list[int] = []
        src_lines = source.splitlines()
        out_lines = rendered.splitlines()
        matcher = difflib.SequenceMatcher(None, src_lines, out_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for j in range(j1, j2):
                if tag == "equal":
                    self.mapping.append(i1 + (j - j1))
                elif tag == "replace":
                    self.mapping.append(i1 + min(j - j1, i2 - i1 - 1))
                elif tag == "insert":
                    self.mapping.append(max(0, min(i1, len(src_lines) - 1)))
        self.last = max(0, len(src_lines) - 1)

    def __call__(self, rendered_line: int) -> int:
        if 0 <= rendered_line < len(self.mapping):
            return self.mapping[rendered_line] + 1
        return self.last + 1


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


def _with_id(info: fences.FenceInfo, step_id: str) -> str:
    """The fence's info string in brace form with ``step_id`` added, for error messages."""
    parts = [f".{info.lang}", f"#{step_id}", *(f".{c}" for c in info.classes)]
    for key, value in info.attrs.items():
        quote = "'" if '"' in value else '"'
        parts.append(f"{key}={quote}{value}{quote}")
    return "{ " + " ".join([*parts, *info.words]) + " }"


# -- pages ---------------------------------------------------------------------------------------


@dataclass
class _PageReader:
    """Turns the fences of one rendered page into steps."""

    page: str
    path: Path
    source: str
    rendered: str
    docs_dir: Path
    steps: list[Step] = field(default_factory=list)
    # where each step's fences sit in the rendered text (what the site inserts around them)
    spans: dict[str, FenceSpan] = field(default_factory=dict)
    title_end: int | None = None  # rendered line after the page's leading h1, if it has one

    def read(self) -> list[Step]:
        from markdown.extensions.toc import unique

        tokens = fences.parse(self.rendered)
        lines = self.rendered.splitlines()
        # the rendered text is the source (a Markdown extension sees no file): no mapping
        line_of = (
            LineMap(self.source, self.rendered)
            if self.source is not self.rendered
            else (lambda index: index + 1)
        )
        self.title_end = _title_end(tokens)
        stem = page_stem(self.page)
        heading: str | None = None
        heading_slug = ""
        heading_slugs: set[str] = set()
        suggested: dict[str, int] = {}  # ids proposed for fences that have none
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
            step_id = info.id
            command = token.content[:-1] if token.content.endswith("\n") else token.content
            if kind is not Kind.SCREENSHOT and not command.strip():
                raise where.error(f"empty {kind} step: the fence has no command")
            step = Step(
                id=step_id,
                kind=kind,
                page=self.page,
                line=where.line,
                command=command,
                options=options,
                heading=heading,
                source=self.path,
            )
            self.steps.append(step)
            self.spans[step_id] = FenceSpan(token.map[0], token.map[1], token.markup)
            previous = (len(self.steps) - 1, step)
            previous_fence_is_step = True
        return self.steps

    @staticmethod
    def _kind(info: fences.FenceInfo, classes: set[str]) -> Kind | None:
        if info.lang == "screenshot" or "screenshot" in classes:
            return Kind.SCREENSHOT
        if info.lang in BASH_LANGS:
            return Kind.BASH
        # the blocks pytest-markdown-docs collects: python/py/python3
        if info.lang in PYTHON_LANGS:
            return Kind.PYTHON
        return None

    @staticmethod
    def _flags(where: Where, text: str, info: fences.FenceInfo, kind: Kind) -> Kind | None:
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

    def _expected(self, where: Where, info: fences.FenceInfo, token: Any) -> ExpectedOutput:
        values = parse_expected_options(where, info)
        if info.id is not None:
            raise where.error("an .expected fence takes no id; the step before it has one")
        text = token.content[:-1] if token.content.endswith("\n") else token.content
        return ExpectedOutput(text=text, line=where.line, **values)


@dataclass
class FenceSpan:
    """A step's fence in the rendered text: 0-based lines, ``end`` excluded."""

    start: int
    end: int
    markup: str  # the opening fence, e.g. ``` or ~~~~
    expected: tuple[int, int] | None = None  # the .expected fence that follows, if any


def _title_end(tokens: list[Any]) -> int | None:
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


# -- the project ---------------------------------------------------------------------------------


def read_page_steps(
    page: str, rendered: str, *, source: str | None = None, docs_dir: Path | str | None = None
) -> list[Step]:
    """The steps of one page already rendered by macros (e.g. in an MkDocs hook).

    ``page`` is the path relative to docs_dir; ``source`` the page file's text, to give lines
    in the file (front matter counted) rather than in ``rendered``. Ids are unique within the
    page only: ``load_project`` checks them across the project. Raises ParseError.
    """
    root = Path(docs_dir) if docs_dir is not None else Path.cwd()
    text = source if source is not None else rendered
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    steps = _PageReader(page, root / page, text, rendered, root).read()
    _unique_ids(steps, {})
    return steps


@dataclass(frozen=True)
class RenderedPage:
    """One page as a Markdown extension sees it: its steps and where their fences are."""

    steps: list[Step]
    spans: dict[str, FenceSpan]
    title_end: int | None


def read_rendered_page(
    page: str, rendered: str, *, docs_dir: Path | str | None = None
) -> RenderedPage:
    """The steps of a page already rendered by macros, with the place of each fence.

    Lines (``Step.line``, spans) are those of ``rendered``: the caller maps them to the page
    file only when it has something to say about one. Raises ParseError.
    """
    root = Path(docs_dir) if docs_dir is not None else Path.cwd()
    reader = _PageReader(page, root / page, rendered, rendered, root)
    steps = reader.read()
    _unique_ids(steps, {})
    return RenderedPage(steps, reader.spans, reader.title_end)


def _unique_ids(steps: list[Step], seen: dict[str, Step]) -> None:
    for step in steps:
        if step.id in seen:
            first = seen[step.id]
            raise ParseError(
                f"duplicate step id {step.id!r} (first at {first.location}); "
                "give one of them an explicit #id",
                display_path(step.source) if step.source else step.page,
                step.line,
            )
        seen[step.id] = step


def load_project(config_file: str | Path) -> Project:
    """Read an MkDocs project: its pages in nav order and their steps, validated.

    Raises ConfigError (mkdocs.yml) or ParseError (a page) before anything is run or written.
    """
    from mkdocs.structure.files import get_files
    from mkdocs.structure.nav import get_navigation
    from mkdocs.utils import meta

    config_path = Path(config_file).absolute()
    config = load_config(config_path)
    with quiet_mkdocs():
        files = get_files(config)
        nav = get_navigation(files, config)
        check_nav_pages(nav, config_path)

        macros = None
        plugin = macros_plugin(config)
        if plugin is not None:
            macros = Macros(plugin, config, config_path)
            macros.nav(nav, config, files)

        docs_dir = Path(config["docs_dir"])
        pages: list[Page] = []
        seen_ids: dict[str, Step] = {}
        seen_pages: set[str] = set()
        for nav_page in nav.pages:
            file = nav_page.file
            if file.src_uri in seen_pages:
                continue
            seen_pages.add(file.src_uri)
            path = Path(file.abs_src_path)
            try:
                raw = file.content_string
            except (OSError, ValueError) as error:
                raise ParseError(f"cannot read page: {error}", display_path(path)) from error
            raw = raw.replace("\r\n", "\n").replace("\r", "\n")
            markdown, page_meta = meta.get_data(raw)
            rendered = markdown
            # as Page.read_source would, without running other plugins' on_page_read_source
            nav_page.markdown, nav_page.meta = markdown, page_meta
            if macros is not None:
                try:
                    rendered = macros.render(markdown, nav_page, config, files)
                except TemplateError as error:
                    line = error.line
                    front = (
                        raw[: len(raw) - len(markdown)].count("\n") if raw.endswith(markdown) else 0
                    )
                    raise ParseError(
                        error.message, display_path(path), line + front if line else None
                    ) from None
            reader = _PageReader(file.src_uri, path, raw, rendered, docs_dir)
            steps = reader.read()
            _unique_ids(steps, seen_ids)
            pages.append(
                Page(
                    path=file.src_uri,
                    source=path,
                    title=nav_page.title,
                    markdown=rendered,
                    steps=tuple(steps),
                )
            )
    return Project(
        config_file=config_path,
        root=config_path.parent,
        docs_dir=docs_dir,
        pages=tuple(pages),
        extra=dict(config.get("extra") or {}),
    )
