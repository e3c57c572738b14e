"""Load an MkDocs project into pages and steps, in the order a reader meets them.

MkDocs itself decides what the pages are and in which order (``load_config``, ``get_files``,
``get_navigation``); mkdocs-macros, when the project uses it, renders each page exactly as
the site shows it (only that plugin runs: not the others, not the hooks). markdown-it-py then
finds the fences (see ``meshdemo.guide.fences``).

Every problem is raised before anything runs or is written: a ``ConfigError`` for mkdocs.yml,
a ``ParseError`` naming the page and line for a page.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from meshdemo.errors import ConfigError, ParseError
from meshdemo.guide import fences
from meshdemo.model import (
    ExpectedOutput,
    Kind,
    Page,
    Project,
    Step,
    StepOptions,
)

ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
LOCAL_URL_RE = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?(/\S*)?")
PYTHON_LANGS = ("python", "py", "python3")
BASH_LANGS = ("bash",)

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


def display_path(path: Path | str) -> str:
    """A path relative to the current folder when it is inside it: short and clickable."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


# -- logging -----------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def quiet_mkdocs() -> Iterator[list[logging.LogRecord]]:
    """Keep MkDocs' and its plugins' log lines (meant for a site build) off the terminal.

    The warnings and errors are collected instead, for error messages that need them.
    """
    logger = logging.getLogger("mkdocs")
    collect = _Collect()
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(collect)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield collect.records
    finally:
        logger.removeHandler(collect)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


# -- mkdocs.yml ----------------------------------------------------------------------------------


def _nav_lines(config_file: Path, depth: int = 0) -> tuple[Path, dict[str, int]]:
    """The file that holds ``nav:`` and the 1-based line of each page reference in it.

    Follows ``INHERIT:`` when the file itself has no nav. yaml.compose builds nodes without
    constructing them, so MkDocs' own tags (!ENV, !!python/name:...) need no constructor.
    """
    try:
        root = yaml.compose(config_file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return config_file, {}
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return config_file, lines

    def visit(node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            lines.setdefault(str(node.value), node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                visit(item)
        elif isinstance(node, yaml.MappingNode):
            for _key, value in node.value:
                visit(value)

    keys = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    if "nav" in keys:
        visit(keys["nav"])
        return config_file, lines
    parent = keys.get("INHERIT")
    if isinstance(parent, yaml.ScalarNode) and depth < 10:
        return _nav_lines(config_file.parent / str(parent.value), depth + 1)
    return config_file, lines


def _load_config(config_file: Path) -> Any:
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    if not config_file.is_file():
        raise ConfigError("no such MkDocs configuration file", display_path(config_file))
    with quiet_mkdocs() as logged:
        try:
            return load_config(str(config_file))
        except MkDocsException as error:
            # load_config logs what is wrong, then raises a bare "Aborted ..."
            details = [r.getMessage() for r in logged if r.levelno >= logging.ERROR]
            message = "; ".join(details) or str(error)
            cause = error.__cause__ or error.__context__
            mark = getattr(cause, "problem_mark", None)  # a YAML syntax error knows its line
            raise ConfigError(
                f"invalid MkDocs configuration: {message}",
                display_path(config_file),
                mark.line + 1 if mark is not None else None,
            ) from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read: {error}", display_path(config_file)) from error


def _missing_nav_pages(nav: Any, config_file: Path) -> None:
    """MkDocs only warns about a nav entry with no page; for a runbook it is an error."""
    from urllib.parse import urlsplit

    from mkdocs.structure.nav import Link, _get_by_type

    for link in _get_by_type(nav.items, Link):
        scheme, netloc, *_ = urlsplit(link.url)
        if scheme or netloc or link.url.startswith("/"):
            continue
        nav_file, lines = _nav_lines(config_file)
        raise ConfigError(
            f"nav entry {link.url!r} names no page in docs_dir",
            display_path(nav_file),
            lines.get(link.url),
        )


# -- macros --------------------------------------------------------------------------------------


class _Macros:
    """The project's mkdocs-macros plugin, driven alone through its own events."""

    def __init__(self, plugin: Any, config: Any, config_file: Path):
        self.plugin = plugin
        self.config_file = config_file
        # fail instead of rendering an error message into the page; an undefined variable in a
        # command is a bug, not something to run with the braces left in
        plugin.config["on_error_fail"] = True
        plugin.config["on_undefined"] = "strict"
        try:
            plugin.on_config(config)
        except SystemExit as error:  # mkdocs-macros exits on errors when on_error_fail
            cause = error.__context__ or error
            raise ConfigError(f"mkdocs-macros: {cause}", display_path(config_file)) from None
        except Exception as error:
            raise ConfigError(f"mkdocs-macros: {error}", display_path(config_file)) from error

    def nav(self, nav: Any, config: Any, files: Any) -> None:
        self.plugin.on_nav(nav, config=config, files=files)

    def render(self, markdown: str, page: Any, config: Any, files: Any) -> str:
        try:
            return self.plugin.on_page_markdown(markdown, page=page, config=config, files=files)
        except SystemExit as error:
            cause = error.__context__
            if cause is None:
                raise
            raise _TemplateError(cause) from None
        except Exception as error:  # a render that raised before the plugin's own handler
            raise _TemplateError(error) from error


class _TemplateError(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause

    @property
    def line(self) -> int | None:
        """Line in the template (the page without front matter) the error points at."""
        lineno = getattr(self.cause, "lineno", None)
        if isinstance(lineno, int) and lineno > 0:
            return lineno
        tb = self.cause.__traceback__
        found = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<template>":
                found = tb.tb_lineno
            tb = tb.tb_next
        return found

    @property
    def message(self) -> str:
        kind = type(self.cause).__name__
        text = getattr(self.cause, "message", None) or str(self.cause)
        return f"macro error ({kind}): {text}"


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


# -- options -------------------------------------------------------------------------------------


@dataclass
class _Where:
    page: str
    path: Path
    line: int

    def error(self, message: str) -> ParseError:
        return ParseError(message, display_path(self.path), self.line)


def _number(where: _Where, key: str, value: str, *, positive: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        raise where.error(f'{key}="{value}": not a number of seconds') from None
    if number != number or number in (float("inf"), float("-inf")):
        raise where.error(f'{key}="{value}": not a number of seconds')
    if number < 0 or (positive and number == 0):
        raise where.error(f'{key}="{value}": must be {"above" if positive else "at least"} 0')
    return number


def _integer(where: _Where, key: str, value: str, *, minimum: int) -> int:
    if not re.fullmatch(r"[0-9]+", value):
        raise where.error(f'{key}="{value}": not a whole number')
    number = int(value)
    if number < minimum:
        raise where.error(f'{key}="{value}": must be at least {minimum}')
    return number


def _boolean(where: _Where, key: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise where.error(f'{key}="{value}": must be "true" or "false"')
    return value == "true"


def _text(where: _Where, key: str, value: str) -> str:
    if not value.strip():
        raise where.error(f'{key}="": must not be empty')
    return value


def _check_keys(where: _Where, info: fences.FenceInfo, allowed: frozenset[str], what: str) -> None:
    for key in info.attrs:
        if key not in allowed and key not in DISPLAY_ATTRS:
            known = ", ".join(sorted(allowed)) or "none"
            raise where.error(f"unknown attribute {key!r} on a {what} (known: {known})")


def _step_options(where: _Where, kind: Kind, info: fences.FenceInfo) -> StepOptions:
    allowed = {Kind.BASH: BASH_ATTRS, Kind.PYTHON: PYTHON_ATTRS, Kind.SCREENSHOT: SCREENSHOT_ATTRS}
    _check_keys(where, info, allowed[kind], f"{kind} step")
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

    def read(self) -> list[Step]:
        from markdown.extensions.toc import unique

        tokens = fences.parse(self.rendered)
        lines = self.rendered.splitlines()
        line_of = LineMap(self.source, self.rendered)
        stem = page_stem(self.page)
        heading: str | None = None
        heading_slug = ""
        heading_slugs: set[str] = set()
        derived_counts: dict[str, int] = {}
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
            where = _Where(self.page, self.path, line_of(token.map[0]))
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
                content_since_fence = True
                continue

            if info.words and (info.lang in BASH_LANGS + PYTHON_LANGS):
                raise where.error(
                    f"fence info {token.info.strip()!r}: python-markdown does not render a fence "
                    "with bare words after the language; use the brace form "
                    f'{{ .{info.lang} ... }} or key="value" options'
                )
            kind = self._kind(info, classes)
            content_since_fence = False
            if kind is None:
                _check_plain_fence(where, info)
                previous_fence_is_step = False
                continue
            options = _step_options(where, kind, info)
            if options.image is not None:
                image = (self.path.parent / options.image).resolve()
                if not image.is_relative_to(self.docs_dir.resolve()):
                    raise where.error(f'image="{options.image}": outside docs_dir')
            if info.id is not None:
                if not ID_RE.fullmatch(info.id):
                    raise where.error(
                        f"id #{info.id}: ids are lowercase letters, digits and dashes "
                        "([a-z0-9][a-z0-9-]*)"
                    )
                step_id = info.id
            else:
                base = f"{stem}-{heading_slug}" if heading_slug else stem
                count = derived_counts.get(base, 0) + 1
                derived_counts[base] = count
                step_id = base if count == 1 else f"{base}-{count}"
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

    def _expected(self, where: _Where, info: fences.FenceInfo, token: Any) -> ExpectedOutput:
        _check_keys(where, info, EXPECTED_ATTRS, "expected output")
        if info.id is not None:
            raise where.error("an .expected fence takes no id; the step before it has one")
        match = info.attrs.get("match", "contains")
        if match not in MATCH_MODES:
            raise where.error(f'match="{match}": must be "contains" or "exact"')
        text = token.content[:-1] if token.content.endswith("\n") else token.content
        return ExpectedOutput(
            text=text, line=where.line, match=match, title=info.attrs.get("title")
        )


# tokens that separate a step from an .expected fence (container markup does not)
_CONTENT_TOKENS = frozenset(
    {"paragraph_open", "html_block", "code_block", "hr", "table_open", "heading_open"}
)


def _check_plain_fence(where: _Where, info: fences.FenceInfo) -> None:
    """Fences that are not steps are shown, not run: still reject step options on them."""
    misplaced = sorted((set(info.attrs) & (BASH_ATTRS | SCREENSHOT_ATTRS)) - DISPLAY_ATTRS)
    if misplaced:
        raise where.error(
            f"step option {misplaced[0]!r} on a {info.lang or 'plain'} fence, which is not a "
            "step (steps are bash, python and .screenshot fences)"
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


def _macros_plugin(config: Any) -> Any | None:
    """The project's mkdocs-macros plugin, under whatever name mkdocs.yml gives it."""
    for plugin in (config.plugins or {}).values():
        if type(plugin).__module__.split(".")[0] == "mkdocs_macros":
            return plugin
    return None


def load_project(config_file: str | Path) -> Project:
    """Read an MkDocs project: its pages in nav order and their steps, validated.

    Raises ConfigError (mkdocs.yml) or ParseError (a page) before anything is run or written.
    """
    from mkdocs.structure.files import get_files
    from mkdocs.structure.nav import get_navigation
    from mkdocs.utils import meta

    config_path = Path(config_file).absolute()
    config = _load_config(config_path)
    with quiet_mkdocs():
        files = get_files(config)
        nav = get_navigation(files, config)
        _missing_nav_pages(nav, config_path)

        macros = None
        plugin = _macros_plugin(config)
        if plugin is not None:
            macros = _Macros(plugin, config, config_path)
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
                except _TemplateError as error:
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
