"""Reading fences the way the site renders them.

markdown-it-py parses the page; two block rules teach it the containers of the guide that are
not CommonMark: python-markdown admonitions and pymdownx.details (``!!! note``, ``??? note``,
``???+ note``) and pymdownx.tabbed content tabs (``=== "Title"``), both written on the model of
mdit_py_plugins' admonition rule but with python-markdown's notion of where the body ends.
Fences nested in lists, blockquotes, admonitions and tabs, to any depth, come out as ``fence``
tokens whose ``map`` gives their line.

Fence info strings come in two forms (pymdownx.superfences):

* plain: ``bash``, ``py title="x.py"``
* brace (attr_list grammar): ``{ .bash #id key="value" key2='v w' bare=value .class flag }``

``parse_info`` reads both with a small strict tokenizer: anything it does not understand is an
error, never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token
from mdit_py_plugins.utils import is_code_block

if TYPE_CHECKING:
    from markdown_it.ruler import RuleOptionsType


class InfoError(ValueError):
    """A fence info string that does not follow the attr_list grammar."""


@dataclass
class FenceInfo:
    lang: str | None  # first class (brace form) or first word (plain form)
    classes: list[str] = field(default_factory=list)  # classes other than the language
    id: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)  # in source order
    words: list[str] = field(default_factory=list)  # bare words: flags such as ``notest``
    brace: bool = False


# attr_list: keys are word characters, dashes and colons; values bare or quoted
_KEY = re.compile(r"[\w\-:]+")
_BARE_VALUE = re.compile(r"[^\s'\"{}]+")
_NAME = re.compile(r"[^\s'\"{}=#.]+")


def _attributes(text: str, start: int, info: FenceInfo, *, braces: bool) -> None:
    """Tokenize ``.class #id key=value key="v" key='v'`` items from ``text[start:]``."""
    pos, end = start, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            if braces:
                raise InfoError("missing closing '}'")
            return
        char = text[pos]
        if char == "}" and braces:
            if text[pos + 1 :].strip():
                raise InfoError(f"unexpected text after '}}': {text[pos + 1 :].strip()!r}")
            return
        if char in ".#":
            match = _NAME.match(text, pos + 1)
            if not match:
                raise InfoError(f"empty {'class' if char == '.' else 'id'} at column {pos + 1}")
            name = match.group()
            if char == ".":
                if info.lang is None and not info.classes and braces:
                    info.lang = name
                else:
                    info.classes.append(name)
            else:
                if info.id is not None:
                    raise InfoError(f"two ids: #{info.id} and #{name}")
                info.id = name
            pos = match.end()
            if pos < end and not text[pos].isspace() and text[pos] != "}":
                raise InfoError(f"unexpected {text[pos]!r} after {char}{name}")
            continue
        match = _KEY.match(text, pos)
        if not match:
            raise InfoError(f"unexpected {char!r} at column {pos + 1}")
        key, pos = match.group(), match.end()
        if pos >= end or text[pos] != "=":
            # a bare word: attr_list and superfences take it as a flag (``{ .python notest }``)
            info.words.append(key)
            continue
        pos += 1
        if pos < end and text[pos] in "'\"":
            quote = text[pos]
            close = text.find(quote, pos + 1)
            if close < 0:
                raise InfoError(f"unterminated quoted value of {key!r}")
            value, pos = text[pos + 1 : close], close + 1
        else:
            match = _BARE_VALUE.match(text, pos)
            if not match:
                raise InfoError(f"attribute {key!r} has no value")
            value, pos = match.group(), match.end()
        if pos < end and not text[pos].isspace() and text[pos] != "}":
            raise InfoError(f"unexpected {text[pos]!r} after the value of {key!r}")
        if key in info.attrs:
            raise InfoError(f"attribute {key!r} given twice")
        info.attrs[key] = value


def parse_info(info: str) -> FenceInfo:
    """Parse a fence info string, plain or brace form. Raises InfoError."""
    text = info.strip()
    if not text:
        return FenceInfo(lang=None)
    if text.startswith("{"):
        parsed = FenceInfo(lang=None, brace=True)
        _attributes(text, 1, parsed, braces=True)
        return parsed
    lang, _, rest = text.partition(" ")
    # superfences also accepts "lang {attrs}" / ".lang"; keep to what the site renders
    parsed = FenceInfo(lang=lang.lstrip(".") or None)
    rest = rest.strip()
    if rest.startswith("{"):
        braces = FenceInfo(lang=None, brace=True)
        _attributes(rest, 1, braces, braces=True)
        if braces.lang is not None:
            braces.classes.insert(0, braces.lang)
        braces.lang = parsed.lang
        return braces
    _attributes(rest, 0, parsed, braces=False)
    return parsed


# -- containers -------------------------------------------------------------------------------
#
# python-markdown's rule for both: the body is every following line indented four spaces more
# than the marker; blank lines do not end it, the first less indented non-blank line does.
# (mdit_py_plugins.admon ends an admonition at two blank lines in a row, which python-markdown
# does not, e.g. inside a fence with blank lines; hence one rule for both containers here.)

_TAB_RE = re.compile(r'(===[!+]?) +"(.*)" *$')
_ADMONITION_RE = re.compile(r'(!!!|\?\?\?\+?) ?([\w\-]+(?: +[\w\-]+)*)(?: +"(.*?)")? *$')


def _container(name: str, pattern: re.Pattern[str]) -> Callable[..., bool]:
    def rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        if is_code_block(state, start_line):
            return False
        start = state.bMarks[start_line] + state.tShift[start_line]
        match = pattern.match(state.src, start, state.eMarks[start_line])
        if match is None:
            return False
        if silent:
            return True

        old = state.parentType, state.lineMax, state.blkIndent
        body_indent = state.sCount[start_line] + 4
        last_content = start_line
        next_line = start_line + 1
        while next_line < end_line:
            blank = state.bMarks[next_line] + state.tShift[next_line] >= state.eMarks[next_line]
            if not blank:
                if state.sCount[next_line] < body_indent:
                    break
                last_content = next_line
            next_line += 1
        body_end = last_content + 1

        token = state.push(f"{name}_open", "div", 1)
        token.markup = match.group(1)
        token.block = True
        token.info = match.group(0)[len(match.group(1)) :].strip()
        token.meta = {"groups": match.groups()}
        token.map = [start_line, body_end]

        state.parentType = name
        state.blkIndent = body_indent
        state.lineMax = body_end
        state.md.block.tokenize(state, start_line + 1, body_end)

        token = state.push(f"{name}_close", "div", -1)
        token.markup = match.group(1)
        token.block = True

        state.parentType, state.lineMax, state.blkIndent = old
        state.line = body_end
        return True

    return rule


def containers_plugin(md: MarkdownIt) -> None:
    """Admonitions (``!!!``, ``???``, ``???+``) and content tabs (``===``) as block rules."""
    alt: RuleOptionsType = {"alt": ["paragraph", "reference", "blockquote", "list"]}
    md.block.ruler.before("fence", "admonition", _container("admonition", _ADMONITION_RE), alt)
    md.block.ruler.before("fence", "tab", _container("tab", _TAB_RE), alt)


def make_parser() -> MarkdownIt:
    """A CommonMark parser that also knows admonitions and content tabs."""
    return MarkdownIt("commonmark").use(containers_plugin)


_parser: MarkdownIt | None = None
_blocks: MarkdownIt | None = None


def _full() -> MarkdownIt:
    global _parser
    if _parser is None:
        _parser = make_parser()
    return _parser


def parse(markdown: str) -> list[Token]:
    """The block tokens of ``markdown``: fences, headings, containers, with their lines.

    Inline content (paragraphs, headings) is left unparsed: what the engine reads is fences,
    and parsing every paragraph's emphasis and links took most of the time on long pages.
    ``heading_text`` parses a heading's inline content when it is asked for.
    """
    global _blocks
    if _blocks is None:
        _blocks = make_parser()
        _blocks.core.ruler.disable(["inline", "text_join"])
    return _blocks.parse(markdown)


def fence_is_closed(token: Token, lines: list[str]) -> bool:
    """False when markdown-it ran the fence to the end of its container: no closing marker."""
    assert token.map is not None
    first, end = token.map
    if end - 1 <= first or end - 1 >= len(lines):
        return False
    closing = lines[end - 1].lstrip(" \t>")
    char, size = token.markup[0], len(token.markup)
    stripped = closing.rstrip()
    return len(stripped) >= size and set(stripped) == {char}


def heading_text(inline: Token) -> str:
    """The text of a heading as the table of contents shows it (markup dropped)."""
    children = inline.children
    if not children and inline.content:  # from ``parse``: its inline content is parsed now
        children = _full().parseInline(inline.content)[0].children or []
    parts: list[str] = []
    for child in children or ():
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()
