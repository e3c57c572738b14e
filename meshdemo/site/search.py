"""What Material's search index reads of a page: the page without the blocks it leaves out.

Material's search plugin parses the whole HTML of each page to index it, including the blocks
it then leaves out (they carry ``data-search-exclude``): on a page of large outputs, a tenth of
the build. Under MkDocs and ProperDocs the hook hands it each page without those blocks and
puts them back before the page is written (``meshdemo.site.mkdocs_hook``): the index is the
same, byte for byte, and the page too. Other engines never call this.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshdemo.site.blocks import NO_SEARCH

_STYLE_END = "</style>"


def unindexed(block: str) -> bool:
    """Does the search index leave ``block`` out whole? Its outer element (after the page's
    ``<style>``, which the index skips) says ``data-search-exclude``, and holds no element of
    its own tag: the index stops leaving an element out at the first end tag of its kind."""
    if block.startswith("<style>"):
        block = block[block.find(_STYLE_END) + len(_STYLE_END) :]
    first_end = block.find(">")
    if not block.startswith("<") or first_end < 0 or NO_SEARCH not in block[:first_end]:
        return False
    tag = block[1:first_end].split(None, 1)[0]
    return block.count(f"<{tag} ") + block.count(f"<{tag}>") == 1


def without(content: str, blocks: Iterable[str]) -> str:
    """``content`` with each of ``blocks`` cut out where it stands; one not found stays out of
    the cut (it is left in). Blocks are looked for from where the one before ended, as they
    mostly come in page order, then from the start."""
    cuts: list[tuple[int, int]] = []
    at = 0
    for block in blocks:
        found = content.find(block, at)
        if found < 0:
            found = content.find(block)
            if found < 0:
                continue
        at = found + len(block)
        cuts.append((found, at))
    if not cuts:
        return content
    cuts.sort()
    parts: list[str] = []
    kept_from = 0
    for start, end in cuts:
        if start < kept_from:  # (two blocks of the same HTML found at one place)
            continue
        parts.append(content[kept_from:start])
        kept_from = end
    parts.append(content[kept_from:])
    return "".join(parts)
