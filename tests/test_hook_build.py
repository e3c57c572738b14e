"""The whole loop on a fixture guide: a real `meshdemo run`, then a real `mkdocs build`.

The fixture (tests/fixtures/rendered) has steps at top level, in an admonition and in a tab, an
expected output, a secret in the environment, a python step, a skipped step, and a dashboard
stand-in served by a background step and shot by a screenshot step. What every engine shows is
in test_site_engines.py; here, what MkDocs' build log and its hook add.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixture_guide import HOOK, ROOT, env, make_guide, meshdemo_run, snapshot


def build(
    config: Path, *, strict: bool = True, **variables: str
) -> subprocess.CompletedProcess[str]:
    site = config.parent / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "-d", str(site)]
    return subprocess.run(
        [*command, "--strict"] if strict else command,
        cwd=config.parent,
        env=env(**variables),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def page(config: Path, name: str) -> str:
    html = (config.parent / "site" / name / "index.html").read_text()
    return html[html.index("<article") : html.index("</article>")]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Path:
    """The fixture guide after one real, successful run."""
    config = make_guide(tmp_path_factory.mktemp("ran"))
    result = meshdemo_run(config, MESHDEMO_CHROMIUM=chromium_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return config


def copy_of(ran: Path, tmp_path: Path) -> Path:
    shutil.copytree(ran.parent, tmp_path / "guide", ignore=shutil.ignore_patterns("site"))
    return tmp_path / "guide" / "mkdocs.yml"


def test_a_fresh_clone_builds_strict_and_says_once_that_nothing_ran(tmp_path: Path) -> None:
    config = make_guide(tmp_path)
    docs_before = snapshot(config.parent / "docs")
    result = build(config)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert "steps.md: 6 steps not captured yet" in result.stderr  # said, as info
    steps = page(config, "steps")
    assert steps.count("No run of this page has been recorded yet.") == 1
    assert 'class="meshdemo-run' not in steps and "it would delete everything" not in steps
    assert "Example output (from the fixture)" in steps  # as the page declares it
    dashboard = page(config, "dashboard")
    assert dashboard.count("No run of this page has been recorded yet.") == 1
    assert "<img" not in dashboard and "The stand-in dashboard" not in dashboard
    assert "No run has been recorded on this copy of the guide yet" in page(config, ".")
    assert snapshot(config.parent / "docs") == docs_before  # the build wrote nothing into docs/


def test_the_run_record_reaches_the_macros(ran: Path, tmp_path: Path) -> None:
    config = copy_of(ran, tmp_path)
    result = build(config)
    assert result.returncode == 0, result.stderr
    home = page(config, ".")
    run_id = (config.parent / "docs" / "captures" / "run.json").read_text()
    run_id = run_id.split('"run_id": "')[1].split('"')[0]
    assert f"Last run: {run_id}." in home
    assert "<td>Steps</td>" in home and "<td>Dashboard</td>" in home
    bash = subprocess.run(["bash", "-c", "echo $BASH_VERSION"], capture_output=True, text=True)
    steps = page(config, "steps")
    assert f"with bash {bash.stdout.strip()}, Python {sys.version.split()[0]}" in steps


def test_a_failed_step_shows_red_with_its_last_lines(
    ran: Path, tmp_path: Path, chromium_path: str
) -> None:
    config = copy_of(ran, tmp_path)
    result = meshdemo_run(config, FAIL_HERE="1", MESHDEMO_CHROMIUM=chromium_path)
    assert result.returncode == 1, result.stdout + result.stderr
    built = build(config, strict=False)
    assert built.returncode == 0, built.stderr
    assert "step 'maybe-fail' failed" in built.stderr
    steps = page(config, "steps")
    failure = steps[steps.index('<div class="meshdemo-run meshdemo-run--failed"') :]
    failure = failure[: failure.index("</div>")]
    assert '<span class="meshdemo-verdict">✘ failed</span> · exit 1, expected 0' in failure
    assert "Partly verified on" in steps and "1 failed" in steps


def test_a_project_needs_only_the_extension(tmp_path: Path) -> None:
    """Any MkDocs guide shows its captures by listing the extension: it brings what it needs."""
    guide = tmp_path / "runnable"
    shutil.copytree(ROOT / "tests" / "fixtures" / "runnable", guide)
    config = guide / "mkdocs.yml"
    text = config.read_text()
    assert "admonition" not in text and "pymdownx.details" not in text
    config.write_text(text.replace("  - attr_list\n", "  - meshdemo.site.markdown\n"))
    result = meshdemo_run(config)
    assert result.returncode == 0, result.stdout + result.stderr
    built = build(config)
    assert built.returncode == 0, built.stderr
    setup = page(config, "setup")
    assert '<div class="meshdemo-run meshdemo-run--passed"' in setup
    assert "<code>hello books</code>" in setup
    assert "<style>" in setup  # the blocks' look comes with them


def test_the_hook_refuses_a_project_without_the_extension(tmp_path: Path) -> None:
    guide = tmp_path / "runnable"
    shutil.copytree(ROOT / "tests" / "fixtures" / "runnable", guide)
    config = guide / "mkdocs.yml"
    config.write_text(config.read_text() + f"hooks:\n  - {HOOK}\n")
    result = build(config)
    assert result.returncode != 0
    assert "add `- meshdemo.site.markdown` to markdown_extensions" in result.stderr


def test_a_bad_fence_stops_the_build_naming_its_file_and_line(tmp_path: Path) -> None:
    config = make_guide(tmp_path)
    steps_md = config.parent / "docs" / "steps.md"
    text = "---\ntitle: Steps\n---\n" + steps_md.read_text()  # front matter shifts the lines
    steps_md.write_text(text.replace("{ .bash #token }", '{ .bash #token timeout="soon" }'))
    line = 1 + text.splitlines().index("``` { .bash #token }")
    result = build(config, strict=False)
    assert result.returncode != 0
    assert f'docs/steps.md:{line}: timeout="soon": not a number of seconds' in result.stderr


def test_a_renamed_step_leaves_its_old_capture_named(ran: Path, tmp_path: Path) -> None:
    config = copy_of(ran, tmp_path)
    steps_md = config.parent / "docs" / "steps.md"
    steps_md.write_text(
        steps_md.read_text().replace("#token", "#show-token").replace("#tabbed", "#counted")
    )
    result = build(config)
    assert result.returncode == 0, result.stderr  # said as info: it breaks nothing
    assert "captures/token.json: no step has the id 'token' any more" in result.stderr
    # the long output's text too (seq 1 300 printed more than a page embeds)
    assert "captures/tabbed.txt: no step has the id 'tabbed' any more" in result.stderr
    assert "show-token" in result.stderr  # ...and the new id is not captured yet


def test_the_hook_keeps_capture_records_out_of_a_site_that_does_not_exclude_them(
    ran: Path, tmp_path: Path
) -> None:
    config = copy_of(ran, tmp_path)
    text = config.read_text()
    assert "exclude_docs: |\n  /captures/*.json\n" in text
    config.write_text(text.replace("exclude_docs: |\n  /captures/*.json\n", ""))
    result = build(config)
    assert result.returncode == 0, result.stderr
    published = sorted(p.name for p in (config.parent / "site" / "captures").iterdir())
    assert published == ["tabbed.txt"]  # no run.json, no step's record: only the long output


def test_a_rebuild_takes_unchanged_pages_from_the_cache_and_rereads_an_edited_one(
    ran: Path, tmp_path: Path
) -> None:
    config = copy_of(ran, tmp_path)
    kept = config.parent / ".meshdemo" / "pages"
    shutil.rmtree(kept, ignore_errors=True)
    first = build(config, MESHDEMO_NO_CACHE="0")
    assert first.returncode == 0, first.stderr
    html = page(config, "steps")
    assert len(list(kept.glob("*.pickle"))) == 3  # the pages with steps
    second = build(config, MESHDEMO_NO_CACHE="0")
    assert second.returncode == 0, second.stderr
    assert page(config, "steps") == html
    steps = config.parent / "docs" / "steps.md"
    steps.write_text(steps.read_text().replace('echo "hello $DEMO_NAME"', 'echo "hi $DEMO_NAME"'))
    edited = build(config, strict=False, MESHDEMO_NO_CACHE="0")
    assert edited.returncode == 0, edited.stderr
    assert "the captured output of step 'greet' is stale" in edited.stderr
    assert "Stale" in page(config, "steps")
