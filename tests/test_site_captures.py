"""How runs read in the browser: the guide as a fresh clone builds it (no captures), and the
fixture guide built after a real run, opened in Debian's Chromium.

Without captures a page says at most once that no run is recorded, and no step shows a box;
search previews carry no such notice. After a run a step reads like a terminal: output visible
without a click, colours as colours, the run's date once per page, long outputs folded.
Screenshots of the captured page are written into ``build/screenshots/`` for review (never
into ``docs/``).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fixture_guide import env, make_guide, meshdemo_run

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

NOTICE = "No run of this page has been recorded yet."
DATE = re.compile(r"\b20\d\d-\d\d-\d\d \d\d:\d\d UTC\b")
FULL_HD = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
LEFT_OUT = {".git", ".venv", "site", "build", ".meshdemo", ".cache", ".pytest_cache", ".ruff_cache"}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _build(config: Path, site: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def fresh(
    project_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """The guide without captures or images, built and served."""
    work = tmp_path_factory.mktemp("fresh-captures")

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = {n for n in names if n in LEFT_OUT or n.endswith(".egg-info")}
        if Path(folder).resolve() == (project_root / "docs").resolve():
            left_out |= {"captures", "images"} & set(names)
        return left_out

    shutil.copytree(project_root, work / "project", ignore=ignore, symlinks=True)
    _build(work / "project" / "mkdocs.yml", work / "site")
    server, base = _serve(work / "site")
    try:
        yield work / "site", base
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def captured(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: str
) -> Iterator[tuple[Path, str]]:
    """The fixture guide after one real run, built and served."""
    config = make_guide(tmp_path_factory.mktemp("captured"))
    result = meshdemo_run(config, MESHDEMO_CHROMIUM=chromium_path)
    assert result.returncode == 0, result.stdout + result.stderr
    site = config.parent / "site"
    _build(config, site)
    server, base = _serve(site)
    try:
        yield site, base
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts = []

    def visit(url: str, viewport: dict[str, int] = FULL_HD, scheme: str = "light") -> Page:
        context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url, wait_until="networkidle")
        assert not errors, errors
        return page

    yield visit
    for context in contexts:
        context.close()


def _pages(site: Path) -> list[str]:
    urls = []
    for html in sorted(site.rglob("index.html")):
        relative = html.parent.relative_to(site).as_posix()
        if relative not in ("search", "404"):
            urls.append("" if relative == "." else f"{relative}/")
    return urls


def _rgb(colour: str) -> tuple[int, int, int]:
    red, green, blue = (int(part) for part in re.findall(r"\d+", colour)[:3])
    return red, green, blue


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


# ---- no captures -------------------------------------------------------------------------------


def test_without_captures_a_page_says_it_at_most_once_and_no_step_has_a_box(
    fresh: tuple[Path, str], open_page: Callable[..., Page]
) -> None:
    site, base = fresh
    noticed = 0
    for url in _pages(site):
        page = open_page(base + url)
        notices = page.locator(".md-content .meshdemo-notice")
        assert notices.count() <= 1, f"{url}: {notices.count()} run notices"
        if notices.count():
            noticed += 1
            assert notices.first.is_visible() and notices.first.inner_text() == NOTICE
        assert page.locator(".md-content .meshdemo-run").count() == 0, url
        assert page.locator(".md-content .meshdemo-banner").count() == 0, url
        text = page.locator(".md-content").inner_text()
        assert "Not captured" not in text and "Not run" not in text, url
    assert noticed >= 5  # the chapters that have steps say it; the others do not


def test_pages_whose_steps_are_all_skipped_show_no_run_status(
    fresh: tuple[Path, str], project_root: Path
) -> None:
    from meshdemo.guide.pages import load_project

    project = load_project(project_root / "mkdocs.yml")
    skipped = [p for p in project.pages if p.steps and all(s.options.skip for s in p.steps)]
    stepless = [p for p in project.pages if not p.steps]
    site, _ = fresh
    for page in [*skipped, *stepless]:
        stem = page.path.removesuffix(".md")
        html = site / ("index.html" if stem == "index" else f"{stem}/index.html")
        assert NOTICE not in html.read_text(encoding="utf-8"), page.path


def test_search_previews_carry_no_run_notice(fresh: tuple[Path, str]) -> None:
    site, _ = fresh
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert index["docs"], "an empty search index"
    for entry in index["docs"]:
        assert "No run of this page" not in entry["text"], entry["location"]
        assert ".meshdemo-" not in entry["text"], entry["location"]  # nor the blocks' style


# ---- after a run -------------------------------------------------------------------------------


def test_a_captured_step_reads_like_a_terminal(
    captured: tuple[Path, str], open_page: Callable[..., Page]
) -> None:
    _, base = captured
    page = open_page(base + "steps/")
    greet = page.locator(".meshdemo-run").first
    assert greet.locator("pre").first.is_visible()  # no click needed
    assert greet.locator("pre").first.inner_text() == "hello books"
    assert greet.locator(".meshdemo-status").inner_text().startswith("✔ passed · exit 0")
    # colours as colours: the green the command printed is green on the page
    green = page.locator(".meshdemo-run .ansi-fg-2").first
    assert green.inner_text() == "green"
    red, green_channel, blue = _rgb(green.evaluate("e => getComputedStyle(e).color"))
    assert green_channel > 150 and green_channel > red + 50 and green_channel > blue + 50
    outputs = "\n".join(page.locator(".meshdemo-run").all_inner_texts())
    assert "\x1b" not in outputs and "[32m" not in outputs and "[0m" not in outputs
    content = page.locator(".md-content").inner_text()
    assert len(DATE.findall(content)) == 1, DATE.findall(content)  # the date, once: the banner
    assert page.locator(".meshdemo-banner").count() == 1

    # a long output: its first lines shown, the rest one click away
    folded = page.locator(".meshdemo-run:has(details.meshdemo-fold)").first  # seq 1 300, tab one
    head = folded.locator("pre").first
    assert head.is_visible() and head.inner_text().split() == [str(n) for n in range(1, 21)]
    rest = folded.locator("details.meshdemo-fold pre")
    assert not rest.is_visible()
    folded.locator("details.meshdemo-fold > summary").click()
    rest.wait_for(state="visible")
    assert rest.inner_text().split()[-1] == "100"  # the page embeds 100 lines...
    whole = page.get_by_role("link", name="The whole output as text: 300 lines, 1 kB")
    assert whole.is_visible()
    whole.click()  # ...and the whole output is one click away
    page.wait_for_url("**/captures/tabbed.txt")
    assert page.locator("body").inner_text().split() == [str(n) for n in range(1, 301)]


def test_a_linkerd_check_report_keeps_its_ticks_and_warnings_coloured(
    captured: tuple[Path, str], open_page: Callable[..., Page]
) -> None:
    _, base = captured
    page = open_page(base + "check/")
    terminal = page.locator(".meshdemo-run pre").first
    assert terminal.is_visible()
    text = terminal.inner_text()
    assert "√ can query the Kubernetes API" in text and "‼ cli is up-to-date" in text
    ticks = terminal.locator(".ansi-fg-2")
    warnings = terminal.locator(".ansi-fg-3")
    assert ticks.count() == 3 and warnings.count() == 1
    assert warnings.first.inner_text() == "‼"
    red, green, blue = _rgb(warnings.first.evaluate("e => getComputedStyle(e).color"))
    assert red > 200 and green > 180 and blue < 120  # yellow
    content = page.locator(".md-content").inner_text()
    assert len(DATE.findall(content)) == 1


def test_screenshots_of_a_captured_page_for_review(
    captured: tuple[Path, str], open_page: Callable[..., Page], project_root: Path
) -> None:
    """Written into build/screenshots/ (never docs/): a projector in both palettes, a phone."""
    _, base = captured
    out = project_root / "build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    docs_before = sorted(p.name for p in (project_root / "docs").iterdir())
    for name in ("steps", "check"):
        for viewport, scheme in ((FULL_HD, "light"), (FULL_HD, "dark"), (PHONE, "light")):
            page = open_page(base + f"{name}/", viewport, scheme)
            expected_scheme = "slate" if scheme == "dark" else "default"
            assert page.get_attribute("body", "data-md-color-scheme") == expected_scheme
            path = out / f"captured-{name}-{viewport['width']}x{viewport['height']}-{scheme}.png"
            path.unlink(missing_ok=True)
            page.screenshot(path=str(path))
            assert png_size(path) == (viewport["width"], viewport["height"])
            if viewport is PHONE:  # the terminal scrolls inside itself, the page does not
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], width
    assert sorted(p.name for p in (project_root / "docs").iterdir()) == docs_before
