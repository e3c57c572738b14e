"""Fixtures shared by the whole suite.

Browser tests need a real Chromium (Debian's ``chromium``; Playwright never downloads one).
On a laptop without it they are skipped with the reason; in CI (``CI=true``) or with
``MESHDEMO_REQUIRE_BROWSER=1`` a missing browser is a failure, so CI can never go green
by silently skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

# one list of browser flags for the shots and for the tests (meshdemo.run.screenshot loads
# playwright only inside its functions, so importing it here stays light)
from meshdemo.run.screenshot import CHROMIUM_ARGS, DEFAULT_CHROMIUM

if TYPE_CHECKING:  # playwright is a heavy import: only the fixtures that need it load it
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parent.parent

# Tests load fixture projects (and this guide) in place: the project cache would leave
# .meshdemo/ folders in the source tree. Its own tests (test_project_cache.py) turn it on.
os.environ["MESHDEMO_NO_CACHE"] = "1"  # whatever the calling shell set


def browser_required() -> bool:
    """True where a missing browser must fail the run instead of skipping its tests."""
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("MESHDEMO_REQUIRE_BROWSER") == "1"
    )


def _skip_or_fail(reason: str) -> NoReturn:
    if browser_required():
        pytest.fail(f"{reason} (a browser is required here: CI=true or MESHDEMO_REQUIRE_BROWSER=1)")
    pytest.skip(f"{reason}; set CI=true or MESHDEMO_REQUIRE_BROWSER=1 to make this a failure")


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (the folder of mkdocs.yml)."""
    return ROOT


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Chromium executable: $MESHDEMO_CHROMIUM, else /usr/bin/chromium."""
    candidate = os.environ.get("MESHDEMO_CHROMIUM") or DEFAULT_CHROMIUM
    resolved = candidate if os.path.isabs(candidate) else shutil.which(candidate)
    if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        _skip_or_fail(
            f"no Chromium executable at {candidate!r} "
            "(apt-get install chromium, or set MESHDEMO_CHROMIUM=/path/to/chromium)"
        )
    return str(resolved)


def launch_chromium(playwright: Any, executable: str) -> Browser:
    """Launch headless Chromium the one way this project does (no downloads, no phoning home)."""
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """A launched headless Chromium, shared by the tests of one module.

    Module scope, not session: Playwright's sync API cannot run two instances in one thread,
    and other modules may start their own.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright, chromium_path)
        try:
            yield launched
        finally:
            launched.close()


def run_mkdocs_build(config_file: Path, site_dir: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config_file`` into ``site_dir``, with this Python's mkdocs."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(config_file),
            "-d",
            str(site_dir),
        ],
        cwd=config_file.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="session")
def mkdocs_build() -> Callable[[Path, Path], subprocess.CompletedProcess[str]]:
    """A callable ``(config_file, site_dir) -> CompletedProcess`` running a strict build."""
    return run_mkdocs_build
