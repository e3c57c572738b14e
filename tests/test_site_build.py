"""The guide builds with ``mkdocs build --strict``: with the captures in the repository, and
with none at all (a fresh checkout before any run), and the build writes nothing into docs/."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

Build = Callable[[Path, Path], subprocess.CompletedProcess[str]]

# What a copy of the project leaves out: tools' state, outputs, and the run's private state.
COPY_IGNORE = {".git", ".venv", "site", "build", ".meshdemo", ".pytest_cache", ".ruff_cache"}


def _load_config(config_file: Path) -> dict:
    # mkdocs.yml may carry !!python/name tags (pymdownx emoji, superfences formats); they are
    # irrelevant here, so every tag is read as plain data.
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    return yaml.load(config_file.read_text(encoding="utf-8"), Loader=Loader) or {}


def _docs_dir(config_file: Path) -> Path:
    return config_file.parent / _load_config(config_file).get("docs_dir", "docs")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _assert_built(result: subprocess.CompletedProcess[str], site: Path) -> None:
    assert result.returncode == 0, (
        f"mkdocs build --strict failed ({result.returncode}):\n{result.stderr}\n{result.stdout}"
    )
    assert (site / "index.html").is_file(), f"no index.html in {site}"
    assert (site / "search" / "search_index.json").is_file(), "the search index was not built"


def _nav_pages(nav: object) -> list[str]:
    """Markdown files named by a mkdocs ``nav:`` (nested sections, titled or bare entries)."""
    if isinstance(nav, str):
        return [nav] if nav.endswith(".md") else []
    if isinstance(nav, list):
        return [page for entry in nav for page in _nav_pages(entry)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _html_for(page: str) -> str:
    """Where mkdocs (use_directory_urls: true) writes a page."""
    stem = page.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return f"{stem}.html"
    return f"{stem}/index.html"


def test_strict_build_of_the_guide(project_root: Path, tmp_path: Path, mkdocs_build: Build) -> None:
    config_file = project_root / "mkdocs.yml"
    docs = _docs_dir(config_file)
    before = _snapshot(docs)

    site = tmp_path / "site"
    result = mkdocs_build(config_file, site)

    _assert_built(result, site)
    after = _snapshot(docs)
    assert after == before, (
        f"the build changed files under docs/: {sorted(set(after.items()) ^ set(before.items()))}"
    )
    config = _load_config(config_file)
    pages = _nav_pages(config.get("nav", []))
    assert pages, "mkdocs.yml has no nav: the run order of the guide must be explicit"
    missing = [page for page in pages if not (site / _html_for(page)).is_file()]
    assert not missing, f"pages in nav that were not built: {missing}"


def test_strict_build_without_any_capture(
    project_root: Path, tmp_path: Path, mkdocs_build: Build
) -> None:
    """A fresh checkout (or a guide never run) must build: the pages say what was not captured."""
    config_file = project_root / "mkdocs.yml"
    relative_docs = _docs_dir(config_file).relative_to(project_root)
    copy = tmp_path / "project"

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name in COPY_IGNORE or name.endswith(".egg-info")}
        if Path(folder).resolve() == (project_root / relative_docs).resolve():
            skipped |= {"captures"} & set(names)
        return skipped

    shutil.copytree(project_root, copy, ignore=ignore, symlinks=True)
    assert not (copy / relative_docs / "captures").exists()

    site = tmp_path / "site"
    result = mkdocs_build(copy / "mkdocs.yml", site)

    _assert_built(result, site)
    assert not (copy / relative_docs / "captures").exists(), "the build wrote captures into docs/"
