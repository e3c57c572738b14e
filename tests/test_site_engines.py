"""One real run of the fixture guide, built by MkDocs, ProperDocs and Zensical: every engine shows
the captured output, its status, the stale mark once a command is edited, and the screenshot.

The run is real (``meshdemo run``: real bash, a real PNG taken by headless Chromium of a page the
fixture's background step serves on 127.0.0.1). The fixture's mkdocs.yml lists the Markdown
extension and the hook, as the guide's does: Zensical ignores ``hooks:``, so what it shows
comes from the extension alone.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixture_guide import SECRET, make_guide, meshdemo_run, png_size, snapshot

# engine → its module (run with `python -m`) and its build arguments; MkDocs and ProperDocs
# write into -d site, Zensical into mkdocs.yml's site_dir, which is site/ too
ENGINES = {
    "mkdocs": ("mkdocs", ["build", "-d", "site"]),
    "properdocs": ("properdocs", ["build", "-d", "site"]),
    "zensical": ("zensical", ["build"]),
}


def engine_or_skip(name: str) -> str:
    module = ENGINES[name][0]
    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed in this Python (pip install -e '.[dev]' installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI installs every engine")
        pytest.skip(reason)
    return module


def build(
    name: str, config: Path, *, strict: bool = True, clean: bool = True
) -> subprocess.CompletedProcess[str]:
    """A build with ``name``; strict where the engine fails on warnings (not Zensical's)."""
    module, arguments = ENGINES[name]
    engine_or_skip(name)
    if strict and name != "zensical":  # Zensical's --strict does not see Python's warnings
        arguments = [*arguments, "--strict"]
    if clean and name == "zensical":
        arguments = [*arguments, "--clean"]
    return subprocess.run(
        [sys.executable, "-m", module, *arguments, "-f", str(config)],
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def article(config: Path, page: str) -> str:
    html = (config.parent / "site" / page / "index.html").read_text(encoding="utf-8")
    body = html[html.index("<article") : html.index("</article>")]
    return re.sub(r"<style>.*?</style>", "", body, flags=re.S)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Path:
    """The fixture guide after one real, successful run."""
    config = make_guide(tmp_path_factory.mktemp("engines"))
    result = meshdemo_run(config, MESHDEMO_CHROMIUM=chromium_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return config


def copy_of(ran: Path, where: Path) -> Path:
    shutil.copytree(ran.parent, where / "guide", ignore=shutil.ignore_patterns("site", ".cache"))
    return where / "guide" / "mkdocs.yml"


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_shows_what_ran(engine: str, ran: Path, tmp_path: Path) -> None:
    config = copy_of(ran, tmp_path)
    docs_before = snapshot(config.parent / "docs")
    result = build(engine, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(config.parent / "docs") == docs_before  # the build wrote nothing into docs/

    steps = article(config, "steps")
    assert "<code>hello books</code>" in steps  # the captured output, under its command
    assert steps.count('<span class="meshdemo-verdict">✔ passed</span>') == 6
    assert '<span class="ansi-fg-2">green</span> and plain' in steps  # colour, as colour
    assert "\x1b" not in steps and "[32m" not in steps.replace("\\033[32m", "")
    assert "token: [masked]" in steps and "python sees books" in steps
    # seq 1 300, in a tab: 100 lines embedded, folded after 20, the whole text one link away
    assert "Show the next 80 lines" in steps
    assert "The last 200 lines of 300 lines are not shown here" in steps
    whole = r'<a href="\.\./captures/tabbed\.txt">The whole output as text: 300 lines'
    assert re.search(whole, steps)
    assert steps.count("meshdemo-banner--ok") == 1 and steps.count("Verified on 20") == 1
    assert "6 of 6 steps passed." in steps
    assert "Stale" not in steps

    dashboard = article(config, "dashboard")
    assert re.search(r'<img [^>]*src="\.\./images/dashboard\.png"', dashboard), dashboard
    assert "The stand-in dashboard, once its data arrived." in dashboard
    assert png_size(config.parent / "site" / "images" / "dashboard.png") == (800, 600)
    assert '"GET / HTTP/1.1" 200' in dashboard  # the background server's log: the shot hit it

    site = config.parent / "site"
    # captures are build inputs, not pages; a long output's text is published for its link
    assert [p.name for p in (site / "captures").iterdir()] == ["tabbed.txt"]
    assert (site / "captures" / "tabbed.txt").read_text().split() == [str(n) for n in range(1, 301)]
    index = next(site.glob("search/search_index.json"), None) or site / "search.json"
    searchable = index.read_text(encoding="utf-8")
    assert "python sees" in searchable  # the page's own text is indexed...
    assert "python sees books" not in searchable  # ...not what ran, nor the run's status
    assert "Verified on" not in searchable and "meshdemo-" not in searchable
    for path in site.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_marks_an_edited_command_stale(engine: str, ran: Path, tmp_path: Path) -> None:
    config = copy_of(ran, tmp_path)
    steps_md = config.parent / "docs" / "steps.md"
    steps_md.write_text(steps_md.read_text().replace('echo "hello $DEMO_NAME"', "echo hi"))
    stale_warning = "steps.md:3: the captured output of step 'greet' is stale"
    if engine != "zensical":  # --strict: MkDocs and ProperDocs fail on the stale capture
        failed = build(engine, config)
        assert failed.returncode != 0
        assert stale_warning in failed.stderr
    result = build(engine, config, strict=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stale_warning in result.stdout + result.stderr
    steps = article(config, "steps")
    stale = steps[steps.index('<aside class="meshdemo-stale">') :]
    stale = stale[: stale.index("</aside>")]
    assert "the command above changed since this output was captured" in stale
    assert "hello" in stale and "DEMO_NAME" in stale  # the command as it ran
    assert steps.count('<aside class="meshdemo-stale">') == 1
    assert "Partly verified on" in steps and "1 stale" in steps


def test_zensical_shows_a_new_capture_without_a_clean_build(ran: Path, tmp_path: Path) -> None:
    """Zensical caches pages; a capture written by a later run must still reach its page.

    The guide uses mkdocs-macros, whose include folder is docs_dir: Zensical then keys its cache
    on the files of docs/ (captures included) with their modification times, in seconds.
    """
    engine_or_skip("zensical")
    config = copy_of(ran, tmp_path)
    first = build("zensical", config, clean=False)
    assert first.returncode == 0, first.stderr
    assert "token: [masked]" in article(config, "steps")
    capture = config.parent / "docs" / "captures" / "token.json"
    capture.write_text(capture.read_text().replace("token: [masked]", "token: rotated [masked]"))
    later = capture.stat().st_mtime + 2  # a run a few seconds after the last build
    os.utime(capture, (later, later))
    second = build("zensical", config, clean=False)
    assert second.returncode == 0, second.stderr
    assert "token: rotated [masked]" in article(config, "steps")


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_builds_the_guide(engine: str, project_root: Path, tmp_path: Path) -> None:
    """The real guide, as a fresh clone has it (no captures), builds with each engine."""
    copy = tmp_path / "project"

    def ignore(folder: str, names: list[str]) -> set[str]:
        left_out = {".git", ".venv", "site", "build", ".meshdemo", ".cache", ".pytest_cache"}
        return {n for n in names if n in left_out or n.endswith(".egg-info")}

    shutil.copytree(project_root, copy, ignore=ignore, symlinks=True)
    result = build(engine, copy / "mkdocs.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    cluster = article(copy / "mkdocs.yml", "cluster")
    assert cluster.count("No run of this page has been recorded yet.") <= 1
    assert "meshdemo-run" not in cluster
