"""Material's search plugin reads each page without the blocks its index leaves out anyway.

The MkDocs hook hands the plugin the page without them and puts them back before the page is
written (meshdemo.site.search): real MkDocs builds, in this process, of a small project with
captures; the index and the pages must come out the same, byte for byte, as without it.
(Material ships no types: its import is not type-checked.)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fixture_guide import ROOT, captured
from material.plugins.search.plugin import SearchPlugin  # type: ignore[import-untyped]
from mkdocs.commands.build import build
from mkdocs.config import load_config

from meshdemo.captures import CaptureStore
from meshdemo.guide.pages import read_page_steps
from meshdemo.model import ExpectedOutput
from meshdemo.site import blocks, mkdocs_hook, search
from meshdemo.site.blocks import PageSummary, StepView

PAGE = """# Steps

Greet.

``` { .bash #greet }
echo hello
```

``` { .text .expected }
hello
```

!!! note "Count"

    ``` { .bash #count }
    seq 1 30
    ```

The end.
"""

CONFIG = f"""site_name: Search test
theme:
  name: material
plugins:
  - search
markdown_extensions:
  - meshdemo.site.markdown
  - admonition
  - attr_list
  - pymdownx.superfences
hooks:
  - {ROOT / "hooks" / "meshdemo_hook.py"}
nav:
  - Steps: steps.md
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "steps.md").write_text(PAGE)
    store = CaptureStore(docs / "captures")
    outputs = {"greet": "hello\n", "count": "".join(f"{n}\n" for n in range(1, 31))}
    for step in read_page_steps("steps.md", PAGE, docs_dir=docs):
        store.write(captured(step, outputs[step.id]))
    (tmp_path / "mkdocs.yml").write_text(CONFIG)
    return tmp_path / "mkdocs.yml"


def built(config: Path, site: str) -> tuple[bytes, bytes]:
    """The search index and the page's HTML of an in-process MkDocs build."""
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    site_dir = config.parent / site
    build(load_config(config_file=str(config), site_dir=str(site_dir)))
    return (
        (site_dir / "search" / "search_index.json").read_bytes(),
        (site_dir / "steps" / "index.html").read_bytes(),
    )


def test_the_search_plugin_reads_the_page_without_the_blocks_and_indexes_the_same(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = SearchPlugin.on_page_context

    def spy(self: SearchPlugin, context: Any, *, page: Any, config: Any, nav: Any) -> Any:
        read.append(page.content)
        return real(self, context, page=page, config=config, nav=nav)

    monkeypatch.setattr(SearchPlugin, "on_page_context", spy)
    index, html = built(project, "site")
    [content] = read
    assert 'class="meshdemo-run' not in content and "<style>" not in content  # left out
    assert "Example output" in content  # the expected output is indexed: it stays
    assert html.count(b'class="meshdemo-run') == 2  # the page has them all
    assert b"<style>" in html

    read.clear()
    monkeypatch.setattr(mkdocs_hook, "_search_reads_alone", lambda config: False)
    index_whole, html_whole = built(project, "site-whole")
    [content] = read
    assert content.count('class="meshdemo-run') == 2  # this time it parsed them
    assert index == index_whole
    assert html == html_whole


def test_another_handler_beside_the_search_plugin_gets_the_page_whole() -> None:
    hide, show = mkdocs_hook._hide_unindexed_blocks, mkdocs_hook._show_unindexed_blocks
    index = SearchPlugin().on_page_context

    def reads_content(context: Any, page: Any, config: Any, nav: Any) -> Any:
        return context

    class Plugins:
        def __init__(self, *handlers: Any) -> None:
            self.events = {"page_context": list(handlers)}

    class Config:
        def __init__(self, *handlers: Any) -> None:
            self.plugins = Plugins(*handlers)

    assert mkdocs_hook._search_reads_alone(Config(hide, index, show))
    assert not mkdocs_hook._search_reads_alone(Config(hide, index, reads_content, show))
    assert not mkdocs_hook._search_reads_alone(Config(index))  # the hook has no handler
    assert not mkdocs_hook._search_reads_alone(Config(hide, show))  # no search plugin
    # run before ours (an earlier priority): it sees the page whole
    assert mkdocs_hook._search_reads_alone(Config(reads_content, hide, index, show))


def step_block(output: str) -> str:
    [step] = read_page_steps("p.md", "``` { .bash #s }\necho\n```\n", docs_dir=Path("docs"))
    return blocks.step_block(StepView(step, captured(step, output)))


def test_unindexed_blocks_are_those_the_index_leaves_out_whole() -> None:
    assert search.unindexed(step_block("hello\n"))
    assert search.unindexed(step_block("".join(f"{n}\n" for n in range(200))))  # folded
    notice = blocks.banner(PageSummary(steps=1), None)
    assert notice.startswith("<p ") and search.unindexed(notice)
    assert search.unindexed("<style>.x{}</style>" + notice)  # the page's style comes along
    assert not search.unindexed(blocks.expected_block(ExpectedOutput("hello\n", line=3)))
    # the index would stop leaving it out at the inner </div>: not one to hand over
    nested = f'<div class="x" {blocks.NO_SEARCH}><div>inner</div>after</div>'
    assert not search.unindexed(nested)


def test_without_cuts_each_block_where_it_stands_and_nothing_else() -> None:
    first, second, banner = "<div a>1</div>", "<div b>2</div>", "<div c>top</div>"
    own = '<div data-search-exclude="">the author\'s own</div>'
    content = f"<h1>T</h1>{banner}<p>x</p>{first}<p>y</p>{own}{second}<p>z</p>"
    assert search.without(content, [first, second, banner]) == (
        f"<h1>T</h1><p>x</p><p>y</p>{own}<p>z</p>"
    )
    assert search.without(content, ["<div gone>?</div>"]) == content
    assert search.without(content, []) == content
