"""The project cache: read back while nothing the project was read from changed, read again
as soon as any of it did, one case per kind of input."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from meshdemo.errors import ParseError
from meshdemo.guide import cache as project_cache
from meshdemo.guide import project as project_module
from meshdemo.guide.project import load_project

FIXTURES = Path(__file__).parent / "fixtures"


class Reads:
    """Counts how often the project is read from its files (a cache miss)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        real = project_module.read_project

        def counted(config_path: Path):
            self.count += 1
            return real(config_path)

        monkeypatch.setattr(project_module, "read_project", counted)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    monkeypatch.delenv(project_cache.ENV_OFF, raising=False)
    return Reads(monkeypatch)


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target / "mkdocs.yml"


def commands(config_file: Path) -> list[str]:
    return [step.command for step in load_project(config_file).steps]


def test_a_second_load_reads_nothing_but_the_cache(tmp_path: Path, reads: Reads) -> None:
    config_file = copy("basic", tmp_path)
    first = load_project(config_file)
    assert reads.count == 1
    second = load_project(config_file)
    assert reads.count == 1
    assert second == first
    assert second.steps[0].line == first.steps[0].line
    kept = list((config_file.parent / ".meshdemo").glob("project-*.pickle"))
    assert len(kept) == 1
    assert (config_file.parent / ".meshdemo" / ".gitignore").read_text().splitlines()[-1] == "*"


# (what changes, how) on a copy of the basic fixture; each must make the next load read again
def _edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        text = path.read_text()
        assert old in text, (relative, old)
        path.write_text(text.replace(old, new, 1))

    return change


def _write(relative: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return change


def _inherit(root: Path) -> None:
    """mkdocs.yml inherits its extra from base.yml; then base.yml changes."""
    config = root / "mkdocs.yml"
    config.write_text(
        "INHERIT: base.yml\n" + config.read_text().replace("extra:\n  cluster_name: demo\n", "")
    )
    (root / "base.yml").write_text("extra:\n  cluster_name: demo\n")
    load_project(config)
    (root / "base.yml").write_text("extra:\n  cluster_name: changed\n")


def _environment(root: Path) -> None:
    config = root / "mkdocs.yml"
    config.write_text(
        config.read_text().replace("cluster_name: demo", "cluster_name: !ENV [CLUSTER, demo]")
    )
    load_project(config)
    os.environ["CLUSTER"] = "from-the-environment"


def _main_module(root: Path) -> None:
    """mkdocs-macros' main.py beside mkdocs.yml: its absence was an input too."""
    (root / "main.py").write_text(
        "def define_env(env):\n    env.variables['cluster_name'] = 'from-main'\n"
    )


def _include(root: Path) -> None:
    """A page includes a partial from docs_dir; then the partial changes."""
    (root / "docs" / "partial.md").write_text("echo partial one\n")
    _edit(
        "docs/index.md",
        "# Welcome",
        '# Welcome\n\n```{ .bash #partial }\n{% include "partial.md" %}```',
    )(root)
    load_project(root / "mkdocs.yml")
    (root / "docs" / "partial.md").write_text("echo partial two\n")


def _installed(root: Path) -> None:
    """A distribution installed or upgraded where Python looks for them."""
    folder = root.parent / "site-packages"
    (folder / "some_tool-1.0.dist-info").mkdir(parents=True)
    import sys

    sys.path.append(str(folder))


CHANGES: dict[str, Callable[[Path], None]] = {
    "mkdocs.yml": _edit("mkdocs.yml", "cluster_name: demo", "cluster_name: other"),
    "an inherited configuration": _inherit,
    "an environment variable the configuration reads": _environment,
    "an include_yaml file": _edit("versions.yml", "edge-25.4.4", "edge-26.1.1"),
    "a page": _edit("docs/verify.md", "import os", "import sys"),
    "a page's front matter": _edit("docs/index.md", "title: Welcome", "title: Hello"),
    "a new page file": _write("docs/new.md", "# New\n"),
    "a file a page includes": _include,
    "mkdocs-macros' main.py appears": _main_module,
    "the installed distributions": _installed,
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_change_to_any_input_reads_the_project_again(
    tmp_path: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch, change
) -> None:
    monkeypatch.delenv("CLUSTER", raising=False)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    config_file = copy("basic", tmp_path)
    load_project(config_file)
    change(config_file.parent)
    before = reads.count
    load_project(config_file)
    assert reads.count == before + 1
    load_project(config_file)  # and the new reading is kept
    assert reads.count == before + 1


def test_what_changed_is_what_the_next_load_shows(tmp_path: Path, reads: Reads) -> None:
    config_file = copy("basic", tmp_path)
    assert 'echo "hello from demo"' in commands(config_file)
    _edit("mkdocs.yml", "cluster_name: demo", "cluster_name: other")(config_file.parent)
    assert 'echo "hello from other"' in commands(config_file)
    _main_module(config_file.parent)
    assert 'echo "hello from from-main"' in commands(config_file)


def test_a_page_made_invalid_is_an_error_not_the_old_project(tmp_path: Path, reads) -> None:
    config_file = copy("basic", tmp_path)
    load_project(config_file)
    _edit("docs/verify.md", "#verify-pods", "#Bad_Id")(config_file.parent)
    with pytest.raises(ParseError, match="ids are lowercase"):
        load_project(config_file)


def test_an_unreadable_or_foreign_cache_is_read_past(tmp_path: Path, reads: Reads) -> None:
    config_file = copy("minimal", tmp_path)
    load_project(config_file)
    [kept] = (config_file.parent / ".meshdemo").glob("project-*.pickle")
    kept.write_bytes(b"not a pickle")
    assert load_project(config_file).steps
    assert reads.count == 2
    kept.write_bytes(kept.read_bytes()[:40])  # cut short
    assert load_project(config_file).steps
    assert reads.count == 3


def test_a_folder_that_cannot_be_written_just_means_no_cache(tmp_path: Path, reads) -> None:
    config_file = copy("minimal", tmp_path)
    (config_file.parent / ".meshdemo").write_text("a file where the folder would be")
    assert load_project(config_file).steps
    assert load_project(config_file).steps
    assert reads.count == 2


def test_the_cache_can_be_turned_off(
    tmp_path: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(project_cache.ENV_OFF, "1")
    config_file = copy("minimal", tmp_path)
    load_project(config_file)
    load_project(config_file)
    assert reads.count == 2
    assert not (config_file.parent / ".meshdemo").exists()


def test_two_configurations_of_one_folder_keep_their_own_projects(tmp_path: Path, reads) -> None:
    config_file = copy("minimal", tmp_path)
    other = config_file.with_name("other.yml")
    other.write_text(config_file.read_text().replace("greeting: hello", "greeting: bonjour"))
    assert 'echo "hello"' in commands(config_file)
    assert 'echo "bonjour"' in commands(other)
    assert 'echo "hello"' in commands(config_file)
    assert reads.count == 2


def test_what_a_run_writes_under_docs_is_not_an_input(tmp_path: Path, reads: Reads) -> None:
    # captures and screenshots are the run's outputs: recording them must not make the next
    # command (the list after a run, the next run) read the whole project again
    config_file = copy("basic", tmp_path)
    docs = config_file.parent / "docs"
    load_project(config_file)
    _write("docs/captures/run.json", '{"run_id": "x", "started_at": "y"}')(config_file.parent)
    _write("docs/captures/verify-pods.json", "{}")(config_file.parent)
    _write("docs/captures/verify-pods.txt", "long output")(config_file.parent)
    (docs / "images").mkdir(exist_ok=True)
    (docs / "images" / "dashboard.png").write_bytes(b"\x89PNG")  # the screenshot step's image
    load_project(config_file)
    assert reads.count == 1
    (docs / "images" / "drawn-by-hand.png").write_bytes(b"\x89PNG")  # not a run's output
    load_project(config_file)
    assert reads.count == 2


def test_a_capture_read_by_a_fence_is_an_input(tmp_path: Path, reads: Reads) -> None:
    config_file = copy("basic", tmp_path)
    _edit("mkdocs.yml", "  - macros:\n", "  - macros:\n      modules: [meshdemo.site.macros]\n")(
        config_file.parent
    )
    page = config_file.parent / "docs" / "verify.md"
    fence = """
``` { .bash #took }
echo "{{ meshdemo_run.run_id if meshdemo_run else 'no run' }}"
```
"""
    page.write_text(page.read_text() + fence)
    assert 'echo "no run"' in commands(config_file)
    _write("docs/captures/run.json", '{"run_id": "x", "started_at": "y"}')(config_file.parent)
    assert 'echo "x"' in commands(config_file)  # read again: the step's command changed
    assert reads.count == 2


# -- the pages a build read ------------------------------------------------------------------


class PageReads:
    """Counts how often a page's text is parsed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        from meshdemo.guide import pages

        self.count = 0
        real = pages._PageReader.read

        def counted(reader):  # type: ignore[no-untyped-def]
            self.count += 1
            return real(reader)

        monkeypatch.setattr(pages._PageReader, "read", counted)


PAGE = "# Steps\n\n``` { .bash #one }\necho one\n```\n"


def test_a_page_read_before_is_taken_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(project_cache.ENV_OFF, raising=False)
    parsed = PageReads(monkeypatch)
    run_dir, docs = tmp_path / ".meshdemo", tmp_path / "docs"
    run_dir.mkdir()
    first = project_cache.PageCache(run_dir).read("steps.md", PAGE, docs)
    again = project_cache.PageCache(run_dir).read("steps.md", PAGE, docs)
    assert parsed.count == 1 and again == first
    assert len(list((run_dir / "pages").glob("*.pickle"))) == 1  # one file a page
    edited = project_cache.PageCache(run_dir).read("steps.md", PAGE.replace("one", "two"), docs)
    assert parsed.count == 2 and [s.id for s in edited.steps] == ["two"]
    assert [s.command for s in edited.steps] == ["echo two"]
    other_docs = project_cache.PageCache(run_dir).read("steps.md", PAGE, tmp_path / "elsewhere")
    assert parsed.count == 3 and other_docs.steps[0].source == tmp_path / "elsewhere" / "steps.md"
    assert len(list((run_dir / "pages").glob("*.pickle"))) == 1


def test_a_build_never_creates_the_private_folder_and_never_keeps_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(project_cache.ENV_OFF, raising=False)
    parsed = PageReads(monkeypatch)
    absent = tmp_path / ".meshdemo"
    project_cache.PageCache(absent).read("steps.md", PAGE, tmp_path / "docs")
    assert not absent.exists()
    absent.mkdir()
    bad = "``` { .bash }\necho no id\n```\n"
    for _ in range(2):
        with pytest.raises(ParseError):
            project_cache.PageCache(absent).read("bad.md", bad, tmp_path / "docs")
    assert parsed.count == 3 and not list((absent / "pages").glob("*.pickle"))


def test_the_code_that_reads_a_project_is_known_by_its_source_files(tmp_path: Path) -> None:
    """An edit to meshdemo's own source (an editable install keeps its version) makes a new
    key; bytecode and files that are not Python source do not."""
    package = tmp_path / "meshdemo"
    (package / "guide").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    module = package / "guide" / "pages.py"
    module.write_text("STEP = 1\n")
    first = project_cache.source_stamp(package)
    assert "guide/pages.py" in first and project_cache.source_stamp(package) == first

    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.py").write_text("")
    (package / "README.txt").write_text("notes")
    assert project_cache.source_stamp(package) == first

    module.write_text("STEP = 2\n")  # the same size: the modification time tells
    os.utime(module, ns=(module.stat().st_atime_ns, module.stat().st_mtime_ns + 1_000_000))
    edited = project_cache.source_stamp(package)
    assert edited != first
    (package / "guide" / "new.py").write_text("")
    assert project_cache.source_stamp(package) not in (first, edited)
