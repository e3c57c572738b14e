"""The whole loop on a fixture guide: a real `meshdemo run`, then a real `mkdocs build`.

The fixture (tests/fixtures/rendered) has steps at top level, in an admonition and in a tab, an
expected output, a secret in the environment, a python step, a skipped step, and a dashboard
stand-in served by a background step and shot by a screenshot step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "rendered"
HOOK = ROOT / "hooks" / "meshdemo_hook.py"
SECRET = "s3cr3t-planted-in-the-environment-42"
DASHBOARD = """<!doctype html><html><body style="margin:0"><p>loading</p><script>
setTimeout(() => {
  document.body.style.background = "rgb(12, 200, 34)";
  document.body.innerHTML = "<div id='data'>books: 3 pods</div>";
}, 800);
</script></body></html>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_guide(where: Path) -> Path:
    """A copy of the fixture guide using this checkout's hook; returns its mkdocs.yml."""
    guide = where / "guide"
    shutil.copytree(FIXTURE, guide)
    config = guide / "mkdocs.yml"
    config.write_text(config.read_text() + f"hooks:\n  - {HOOK}\n")
    page = guide / "docs" / "dashboard.md"
    page.write_text(page.read_text().replace("DASHBOARD_PORT", str(_free_port())))
    (where / "dash").mkdir()
    (where / "dash" / "index.html").write_text(DASHBOARD)
    return config


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", **extra}


def meshdemo_run(config: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshdemo", "run", "-f", str(config)],
        cwd=config.parent,
        env=env(DASHBOARD_ROOT=str(config.parent.parent / "dash"), DEMO_TOKEN=SECRET, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def build(config: Path, *, strict: bool = True) -> subprocess.CompletedProcess[str]:
    site = config.parent / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "-d", str(site)]
    return subprocess.run(
        [*command, "--strict"] if strict else command,
        cwd=config.parent,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def page(config: Path, name: str) -> str:
    html = (config.parent / "site" / name / "index.html").read_text()
    return html[html.index("<article") : html.index("</article>")]


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


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


def test_a_fresh_clone_builds_strict_and_says_nothing_ran(tmp_path: Path) -> None:
    config = make_guide(tmp_path)
    docs_before = snapshot(config.parent / "docs")
    result = build(config)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    steps = page(config, "steps")
    assert "Not yet verified by a run" in steps
    assert steps.count("Not captured yet") == 6  # every step but the skipped one
    assert "Not run: it would delete everything" in steps
    assert "Example output (from the fixture)" in steps
    assert "Screenshot not taken yet" in page(config, "dashboard")
    assert "No run has been recorded on this copy of the guide yet" in page(config, ".")
    assert snapshot(config.parent / "docs") == docs_before  # the build wrote nothing into docs/


def test_a_real_run_shows_in_the_built_site(ran: Path, tmp_path: Path) -> None:
    config = copy_of(ran, tmp_path)
    docs = config.parent / "docs"
    docs_before = snapshot(docs)
    result = build(config)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert snapshot(docs) == docs_before

    steps = page(config, "steps")
    for output in (
        "hello books",
        "green and plain",  # printed in colour; shown without escape codes
        "token: [masked]",
        "no failure asked",
        "python sees books",
    ):
        assert output in steps, output
    assert "\x1b" not in steps and "[32m" not in steps.replace("\\033[32m", "")
    assert steps.count("<summary>Output — passed in") == 6
    bash = subprocess.run(["bash", "-c", "echo $BASH_VERSION"], capture_output=True, text=True)
    assert f"with bash {bash.stdout.strip()}, Python {sys.version.split()[0]}" in steps
    assert "6 of 7 steps passed; 1 not run." in steps
    assert "30 more lines" in steps  # seq 1 60, folded

    dashboard = page(config, "dashboard")
    assert 'src="../images/dashboard.png"' in dashboard and 'loading="lazy"' in dashboard
    assert "Taken 20" in dashboard
    assert png_size(config.parent / "site" / "images" / "dashboard.png") == (800, 600)
    assert '"GET / HTTP/1.1" 200' in dashboard  # the background server's log: the shot hit it

    home = page(config, ".")
    run_id = (docs / "captures" / "run.json").read_text().split('"run_id": "')[1].split('"')[0]
    assert f"Last run: {run_id}." in home
    assert "<td>Steps</td>" in home and "<td>Dashboard</td>" in home

    site = config.parent / "site"
    assert not (site / "captures").exists()  # build inputs, not pages
    for path in [*site.rglob("*"), *docs.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_an_edited_command_is_marked_stale_and_fails_strict(ran: Path, tmp_path: Path) -> None:
    config = copy_of(ran, tmp_path)
    steps_md = config.parent / "docs" / "steps.md"
    steps_md.write_text(steps_md.read_text().replace('echo "hello $DEMO_NAME"', "echo hi"))
    strict = build(config)
    assert strict.returncode != 0
    assert "steps.md:3: the captured output of step 'greet' is stale" in strict.stderr
    lenient = build(config, strict=False)
    assert lenient.returncode == 0, lenient.stderr
    steps = page(config, "steps")
    assert "Captured output is stale: the command changed since it ran on" in steps
    assert "Partly verified on" in steps
    assert steps.count('<p class="admonition-title">Captured output is stale</p>') == 1


def test_a_failed_step_shows_red_and_open(ran: Path, tmp_path: Path, chromium_path: str) -> None:
    config = copy_of(ran, tmp_path)
    result = meshdemo_run(config, FAIL_HERE="1", MESHDEMO_CHROMIUM=chromium_path)
    assert result.returncode == 1, result.stdout + result.stderr
    built = build(config, strict=False)
    assert built.returncode == 0, built.stderr
    assert "step 'maybe-fail' failed" in built.stderr
    steps = page(config, "steps")
    failure = steps[steps.index('<details class="failure" open="open">') :]
    assert failure.index("Output — failed: exit 1 (expected 0)") < failure.index("</details>")


def test_a_project_without_our_markdown_extensions_gets_them(tmp_path: Path) -> None:
    """Any MkDocs guide can use the hook: it enables what its output needs (details, tabs)."""
    guide = tmp_path / "runnable"
    shutil.copytree(ROOT / "tests" / "fixtures" / "runnable", guide)
    config = guide / "mkdocs.yml"
    assert "pymdownx.details" not in config.read_text()
    config.write_text(config.read_text() + f"hooks:\n  - {HOOK}\n")
    result = meshdemo_run(config)
    assert result.returncode == 0, result.stdout + result.stderr
    built = build(config)
    assert built.returncode == 0, built.stderr
    setup = page(config, "setup")
    assert '<details class="success">' in setup and "<code>hello books\n</code>" in setup
    assert (
        '<link rel="stylesheet" href="../assets/meshdemo/meshdemo.css">'
        in (config.parent / "site" / "setup" / "index.html").read_text()
    )


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
    steps_md.write_text(steps_md.read_text().replace("#token", "#show-token"))
    result = build(config)
    assert result.returncode == 0, result.stderr  # said as info: it breaks nothing
    assert "captures/token.json: no step has the id 'token' any more" in result.stderr
    assert "show-token" in result.stderr  # ...and the new id is not captured yet
