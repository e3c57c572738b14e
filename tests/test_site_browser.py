"""The built site works in a real headless Chromium, offline.

The site is built once, served from 127.0.0.1 by the standard library, and opened with
Playwright driving Debian's Chromium (fixture ``browser`` in conftest.py). Every request the
pages make is recorded: all must go to that server, so the guide works with no network.
"""

from __future__ import annotations

import functools
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# The copy button Material adds to each code block: `.md-clipboard` up to 9.7, a
# `.md-code__button[data-md-type=copy]` in the block's `.md-code__nav` since 9.8.
COPY_BUTTON = ".md-clipboard, .md-code__button[data-md-type='copy']"

# Material renders Mermaid into a *closed* shadow root, which no selector can see into; the
# test opens it (and only it) so that the rendered <svg> can be found.
OPEN_SHADOW_ROOTS = """
const attachShadow = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attachShadow.call(this, Object.assign({}, init, { mode: "open" }));
};
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    root: Path  # the built site
    base: str  # http://127.0.0.1:PORT/

    def pages_with(self, marker: str) -> list[str]:
        """Site-relative URLs of the built pages whose HTML contains ``marker``."""
        urls = []
        for html in sorted(self.root.rglob("index.html")):
            if marker in html.read_text(encoding="utf-8"):
                relative = html.parent.relative_to(self.root).as_posix()
                urls.append("" if relative == "." else f"{relative}/")
        return urls


@pytest.fixture(scope="module")
def site(
    project_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
    mkdocs_build: Callable[[Path, Path], subprocess.CompletedProcess[str]],
) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser") / "site"
    result = mkdocs_build(project_root / "mkdocs.yml", root)
    assert result.returncode == 0, f"mkdocs build failed:\n{result.stderr}"
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(root, f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Visit:
    """A page opened in Chromium, with everything it asked for and complained about."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser: Browser, site: Site) -> Iterator[Callable[[str], Visit]]:
    contexts = []

    def open_page(url: str) -> Visit:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        context.add_init_script(OPEN_SHADOW_ROOTS)
        page = context.new_page()
        seen = Visit(page)
        page.on("request", lambda request: seen.requests.append(request.url))
        page.on(
            "console",
            lambda message: (
                seen.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: seen.errors.append(f"page error: {error}"))
        page.goto(site.base + url, wait_until="networkidle")
        return seen

    yield open_page
    for context in contexts:
        context.close()


def _assert_offline_and_clean(seen: Visit, site: Site) -> None:
    # data: and blob: URLs are made by the page itself; they never leave the machine
    outside = [
        url
        for url in seen.requests
        if not url.startswith(site.base) and not url.startswith(("data:", "blob:"))
    ]
    assert not outside, "requests that leave localhost:\n" + "\n".join(outside)
    assert not seen.errors, "errors in the browser console:\n" + "\n".join(seen.errors)


def _chapter_with_code(site: Site) -> str:
    pages = [url for url in site.pages_with('class="highlight"') if url]
    assert pages, "no page of the site has a code block"
    return pages[0]


# ---- tests -------------------------------------------------------------------------------------


def test_every_code_block_has_a_copy_button(visit: Callable[[str], Visit], site: Site) -> None:
    for url in site.pages_with('class="highlight"'):
        seen = visit(url)
        page = seen.page
        page.locator(f".md-content .highlight pre :is({COPY_BUTTON})").first.wait_for(
            state="attached"
        )
        counts = page.evaluate(
            """selector => {
              const blocks = [...document.querySelectorAll('.md-content .highlight pre')];
              return [blocks.length, blocks.filter(pre => pre.querySelector(selector)).length];
            }""",
            COPY_BUTTON,
        )
        blocks, with_button = counts
        assert blocks > 0
        assert with_button == blocks, f"{url}: {blocks - with_button} of {blocks} without copy"
        _assert_offline_and_clean(seen, site)


def test_content_tabs_switch(visit: Callable[[str], Visit], site: Site) -> None:
    pages = site.pages_with('class="tabbed-set')
    assert pages, "no page of the guide uses content tabs"
    seen = visit(pages[0])
    page = seen.page
    tab_set = page.locator(".md-content .tabbed-set").first
    labels = tab_set.locator(".tabbed-labels > label")
    blocks = tab_set.locator(".tabbed-content > .tabbed-block")
    assert labels.count() >= 2, "a tab set with fewer than two tabs"
    assert blocks.nth(0).is_visible() and not blocks.nth(1).is_visible()

    labels.nth(1).click()

    blocks.nth(1).wait_for(state="visible")
    assert not blocks.nth(0).is_visible(), "the first tab's panel stays visible"
    _assert_offline_and_clean(seen, site)


def test_the_mermaid_diagram_renders_offline(visit: Callable[[str], Visit], site: Site) -> None:
    pages = site.pages_with('class="mermaid"')
    assert pages, "no page of the guide has a Mermaid diagram"
    for url in pages:
        seen = visit(url)
        svg = seen.page.locator(".mermaid svg").first
        svg.wait_for(state="visible", timeout=20_000)
        box = svg.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, f"{url}: diagram is empty: {box}"
        _assert_offline_and_clean(seen, site)


def test_chapter_page_has_search_palette_toggle_and_footer_navigation(
    visit: Callable[[str], Visit], site: Site
) -> None:
    url = _chapter_with_code(site)
    seen = visit(url)
    page = seen.page

    assert page.locator("input.md-search__input").count() == 1, "no search box"
    # a chapter in the middle of the guide links to the one before and the one after it
    assert page.locator("a.md-footer__link--prev").count() == 1, "no footer link back"
    assert page.locator("a.md-footer__link--next").count() == 1, "no footer link forward"

    scheme = page.get_attribute("body", "data-md-color-scheme")
    toggle = page.locator("form[data-md-component='palette'] label.md-header__button:visible")
    assert toggle.count() == 1, "no dark/light toggle in the header"
    toggle.click()
    page.wait_for_function(
        "scheme => document.body.getAttribute('data-md-color-scheme') !== scheme", arg=scheme
    )
    assert page.get_attribute("body", "data-md-color-scheme") != scheme
    _assert_offline_and_clean(seen, site)


def test_search_finds_a_chapter(visit: Callable[[str], Visit], site: Site) -> None:
    """The search index loads from the local site and answers."""
    from playwright.sync_api import expect

    seen = visit("")
    page = seen.page
    # Typing before the search worker has loaded the index would be dropped: wait until
    # Material shows its "type to start searching" prompt, which it does once ready.
    page.wait_for_function(
        """() => {
          const config = JSON.parse(document.getElementById('__config').textContent);
          const ready = config.translations['search.result.placeholder'];
          const meta = document.querySelector('.md-search-result__meta');
          return meta !== null && meta.textContent.trim() === ready;
        }""",
        timeout=60_000,
    )
    # typed key by key: Material reads the query on keyup, which fill() does not send
    search = page.locator("input.md-search__input")
    search.click()
    search.press_sequentially("linkerd")
    # Results come and go while the query grows ("l", "li", …): wait for the whole word's
    # answer, not the first result shown. Material links each result with the query it
    # answers (?h=QUERY), which tells a partial query's results from the word's.
    first = page.locator(".md-search-result__item").first
    expect(first.locator("a.md-search-result__link").first).to_have_attribute(
        "href", re.compile(r"[?&]h=linkerd(&|#|$)"), timeout=20_000
    )
    expect(first).to_contain_text("linkerd", ignore_case=True)
    _assert_offline_and_clean(seen, site)
