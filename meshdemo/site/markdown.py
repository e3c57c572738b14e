"""The Python-Markdown extension that puts captures into pages, for any engine that runs one.

List it in ``mkdocs.yml``::

    markdown_extensions:
      - meshdemo.site.markdown          # options: captures: PATH (default: <docs_dir>/captures)

MkDocs 1.6, ProperDocs and Zensical all run ``markdown_extensions`` (Zensical ignores
``hooks:``), so a reader sees the same captures, status, stale marks and screenshots whichever
engine built the site. The extension finds the page and its ``docs_dir`` from what each engine
gives a Markdown instance: MkDocs' and ProperDocs' link-rewriting treeprocessor holds the page's
file and the config; Zensical's rendering-context preprocessor holds the page and the project's
config. Plain Python-Markdown gets ``docs_dir`` (default ``docs``, relative to the current
folder) and ``captures`` from the options.

Two preprocessors: one right after macros are rendered (and before snippets, tab expansion and
superfences) reads the page's steps once, on the very text the runner read, and places marker
lines; one after Python-Markdown's whitespace normalisation swaps the markers for stashed HTML.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree.ElementTree import SubElement

from markdown import Extension, Markdown
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockProcessor
from markdown.preprocessors import Preprocessor
from markdown.util import STX, AtomicString

from meshdemo.captures import CaptureStore
from meshdemo.errors import ParseError, display_path
from meshdemo.model import RUN_DIR
from meshdemo.site.page import MARKER_PREFIX, Finding, PlacedPage, place_blocks
from meshdemo.site.search import unindexed

# MkDocs counts WARNINGs of "mkdocs.*" loggers: `mkdocs build --strict` fails on a stale capture.
log = logging.getLogger("mkdocs.plugins.meshdemo")

CAPTURES = "captures"
# After mkdocs-macros as a Zensical extension (35), before pymdownx.snippets (32), Python-
# Markdown's whitespace normalisation (30, which expands tabs: the runner saw them unexpanded)
# and superfences (25).
READ_PRIORITY = 33
# After the normalisation (it drops the stash's control characters), before superfences.
PLACE_PRIORITY = 29
# Before every block processor that could take a block's placeholder (the containers' 105,
# md_in_html's 105 that tries every block): none of them has anything to do with it.
PARAGRAPH_PRIORITY = 110

# ids of the steps rendered by this process since the last reset: the MkDocs hook names the
# capture files that no step owns any more.
rendered_ids: set[str] = set()
# Whether pages show a running replay (``meshdemo replay``): only a served site follows one,
# never a build (the MkDocs hook turns it on for `mkdocs serve`).
follow_replay = False
# page -> its blocks that the search index leaves out, while the MkDocs hook asks for them
# (``meshdemo.site.search``): it hands the search plugin each page without them.
unindexed_blocks: dict[str, list[str]] = {}
keep_unindexed_blocks = False


@cache
def stylesheet() -> str:
    """The look of the blocks, shipped with the package: one small <style> per page."""
    css = resources.files("meshdemo.site").joinpath("captures.css").read_text(encoding="utf-8")
    return f"<style>{' '.join(css.split())}</style>"


class Where(NamedTuple):
    """The page being converted and the project it belongs to, as the engine tells it."""

    page: str  # path relative to docs_dir ("" when the engine does not say)
    docs_dir: Path
    root: Path  # the folder of mkdocs.yml (or the current folder)
    page_file: Path | None
    errors_from: str | None = None  # the package whose exceptions.PluginError ends a build


def _registered(registry: Any, name: str) -> Any:
    # Python-Markdown's Registry has no .get()
    return registry[name] if name in registry else None  # noqa: SIM401


def locate(md: Markdown, options: dict[str, Any]) -> Where:
    """Where the page being converted lives, from what the engine put on the Markdown."""
    relpath = _registered(md.treeprocessors, "relpath")  # MkDocs, ProperDocs
    if relpath is not None and hasattr(relpath, "file") and hasattr(relpath, "config"):
        config, file = relpath.config, relpath.file
        config_file = config.get("config_file_path")
        return Where(
            page=file.src_uri,
            docs_dir=Path(config["docs_dir"]),
            root=Path(config_file).parent if config_file else Path.cwd(),
            page_file=Path(file.abs_src_path) if file.abs_src_path else None,
            errors_from=type(relpath).__module__.split(".")[0],
        )
    context = _registered(md.preprocessors, "rendering_context")  # Zensical
    if context is not None and isinstance(getattr(context, "config", None), dict):
        root = Path(context.config.get("root_dir") or ".")
        docs_dir = root / context.config.get("docs_dir", "docs")
        page = getattr(getattr(context, "page", None), "path", None) or ""
        return Where(page, docs_dir, root, docs_dir / page if page else None)
    root = Path.cwd()
    return Where("", root / options["docs_dir"], root, None)


def captures_dir(where: Where, options: dict[str, Any]) -> Path:
    configured = options.get("captures")
    if configured:
        return where.root / configured  # an absolute path stays itself
    return where.docs_dir / CAPTURES


class _PageState:
    def __init__(self) -> None:
        self.placed: PlacedPage | None = None
        self.placeholders: set[str] = set()  # the stash placeholders of this page's blocks


class ReadSteps(Preprocessor):
    """Reads the page's steps once and places a marker line where each block goes."""

    def __init__(self, md: Markdown, options: dict[str, Any], state: _PageState) -> None:
        super().__init__(md)
        self.options = options
        self.state = state

    def run(self, lines: list[str]) -> list[str]:
        self.state.placed = None
        self.state.placeholders.clear()
        rendered = "\n".join(lines)
        where = locate(self.md, self.options)
        store = CaptureStore(captures_dir(where, self.options))
        try:
            placed = place_blocks(
                rendered,
                where.page or "page.md",
                store,
                where.docs_dir,
                where.root / RUN_DIR,
                follow_replay=follow_replay,
            )
        except ParseError as error:
            raise _build_error(error, where, rendered) from None
        if placed is None:
            return lines
        rendered_ids.update(placed.step_ids)
        _report(placed, where, rendered)
        if self.options["stylesheet"] and placed.blocks:
            top = next(reversed(placed.blocks))  # the banner when there is one: near the top
            placed.blocks[top] = stylesheet() + placed.blocks[top]
        if keep_unindexed_blocks and where.page:
            unindexed_blocks[where.page] = [b for b in placed.blocks.values() if unindexed(b)]
        self.state.placed = placed
        return placed.lines


class PlaceBlocks(Preprocessor):
    """Swaps the marker lines for the blocks' HTML, kept aside in Python-Markdown's stash."""

    def __init__(self, md: Markdown, state: _PageState) -> None:
        super().__init__(md)
        self.state = state

    def run(self, lines: list[str]) -> list[str]:
        placed = self.state.placed
        if placed is None or not placed.blocks:
            return lines
        out = []
        for line in lines:
            if MARKER_PREFIX in line:
                name = line.rsplit(None, 1)[-1]  # after the container's prefix (spaces, ">")
                html = placed.blocks.get(name)
                if html is not None:
                    placeholder = self.md.htmlStash.store(html)
                    self.state.placeholders.add(placeholder)
                    line = line[: line.rindex(name)] + placeholder
            out.append(line)
        return out


class BlockParagraph(BlockProcessor):
    """A block's placeholder, alone between blank lines (as placed), becomes its paragraph.

    The ``<p>`` Python-Markdown's paragraph processor would make of it, which its raw-HTML
    postprocessor swaps for the block, without trying every other block processor on it
    first nor every inline pattern on its text (an ``AtomicString``): some 20 µs a block, 6 ms
    of a page of 300 steps. (The paragraph processor makes no ``<p>`` of a tight list item's
    text; a placeholder never is one, it follows a blank line: that case is left to it.)

    At the end of a block quote the placeholder's block keeps a line end (the quote's last
    line, ``>``, is empty): the paragraph processor would keep it in the ``<p>``, which the
    postprocessor then no longer recognises, leaving the block inside a ``<p>`` (invalid
    HTML, which browsers split into empty paragraphs). It is dropped here.
    """

    def __init__(self, parser: BlockParser, state: _PageState) -> None:
        super().__init__(parser)
        self.state = state

    def test(self, parent: Any, block: str) -> bool:
        return (
            block[:1] == STX
            and block.rstrip("\n") in self.state.placeholders
            and not self.parser.state.isstate("list")
        )

    def run(self, parent: Any, blocks: list[str]) -> None:
        paragraph = SubElement(parent, "p")
        paragraph.text = AtomicString(blocks.pop(0).rstrip("\n"))


class MeshdemoExtension(Extension):
    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "captures": [
                "",
                "the captures folder, relative to mkdocs.yml; default <docs_dir>/captures",
            ],
            "docs_dir": ["docs", "docs_dir when the engine does not say (plain Python-Markdown)"],
            "stylesheet": [True, "add the blocks' <style> to each page that shows one"],
        }
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        # screenshots are Markdown images with attributes (loading=lazy, the caption's class)
        if "attr_list" not in md.treeprocessors:
            md.registerExtensions(["attr_list"], {})
        options = self.getConfigs()
        state = _PageState()
        md.preprocessors.register(ReadSteps(md, options, state), "meshdemo_read", READ_PRIORITY)
        md.preprocessors.register(PlaceBlocks(md, state), "meshdemo_place", PLACE_PRIORITY)
        md.parser.blockprocessors.register(
            BlockParagraph(md.parser, state), "meshdemo_paragraph", PARAGRAPH_PRIORITY
        )


def makeExtension(**kwargs: Any) -> MeshdemoExtension:  # Python-Markdown looks for this name
    return MeshdemoExtension(**kwargs)


# -- what the build log says ---------------------------------------------------------------------


def _file_line(where: Where, rendered: str) -> Any:
    """Maps a rendered line to the page file's line (front matter, macros), once per page."""
    if where.page_file is None:
        return lambda line: line
    try:
        source = where.page_file.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return lambda line: line
    from meshdemo.guide.pages import LineMap

    line_map = LineMap(source.replace("\r\n", "\n"), rendered)
    return lambda line: line_map(line - 1)


def _report(placed: PlacedPage, where: Where, rendered: str) -> None:
    page = where.page or "page"
    findings: list[Finding] = placed.findings
    if findings:
        file_line = _file_line(where, rendered)
        for finding in findings:
            level = logging.WARNING if finding.warning else logging.INFO
            log.log(level, "%s:%d: %s", page, file_line(finding.line), finding.message)
    missing = placed.summary.missing_ids
    if missing:
        # info, not a warning: a fresh clone has no captures and must build --strict
        count = f"{len(missing)} step{'s' if len(missing) > 1 else ''}"
        log.info("%s: %s not captured yet: %s", page, count, ", ".join(missing))


def _build_error(error: ParseError, where: Where, rendered: str) -> Exception:
    """The error the engine reports best: MkDocs' PluginError ends the build with its message."""
    if where.page_file is not None:
        if error.line:
            error.line = _file_line(where, rendered)(error.line)
        error.path = Path(display_path(where.page_file))
    if where.errors_from:
        try:
            exceptions = importlib.import_module(f"{where.errors_from}.exceptions")
            return exceptions.PluginError(f"meshdemo: {error}")
        except (ImportError, AttributeError):
            pass
    return error
