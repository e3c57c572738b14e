"""The pytest plugin on a copy of a fixture guide, through a real pytest in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "runnable"
STEPS = [
    "create-cluster",
    "greet",
    "count",
    "python-sees-kubeconfig",
    "maybe-fail",
    "after",
    "delete-cluster",
]


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURE, target)
    return target


def pytest_in(cwd: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_option_the_plugin_does_nothing(guide: Path) -> None:
    (guide / "test_plain.py").write_text("def test_one():\n    pass\n")
    done = pytest_in(guide, "--collect-only", "-q")
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0] == "test_plain.py::test_one"
    assert "mkdocs.yml" not in done.stdout
    assert not (guide / ".meshdemo").exists()


def test_one_item_per_step_in_run_order_with_page_and_line(guide: Path) -> None:
    junit = guide / "junit.xml"
    done = pytest_in(guide, "--meshdemo", "-v", f"--junitxml={junit}", "-o", "junit_family=xunit1")
    assert done.returncode == 0, done.stdout
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert [c.get("name") for c in cases] == STEPS
    greet = cases[1]
    assert greet.get("file") == "docs/setup.md"
    assert greet.get("line") == "9"  # pytest's 0-based convention: the fence is on line 10
    properties = {p.get("name"): p.get("value") for p in greet.iter("property")}
    assert properties == {"location": "setup.md:10", "page": "setup.md"}
    assert (guide / "docs" / "captures" / "greet.json").exists()
    assert (guide / "docs" / "captures" / "run.json").exists()


def test_a_failing_step_names_its_fence_and_stops_the_rest(guide: Path) -> None:
    done = pytest_in(guide, "--meshdemo", "-rs", env={"FAIL_AT_MAYBE": "1"})
    assert done.returncode == 1
    out = done.stdout
    assert "use.md:13: step maybe-fail failed — exit status 1, expected 0" in out
    assert 'test -z "$FAIL_AT_MAYBE"' in out
    assert "previous step failed (use.md:13 maybe-fail)" in out
    assert "teardown skipped" in out
    assert "1 failed, 4 passed, 2 skipped" in out


def test_teardown_runs_after_a_failure_with_cleanup_always(guide: Path) -> None:
    done = pytest_in(
        guide,
        "--meshdemo",
        "--meshdemo-cleanup=always",
        "--meshdemo-no-capture",
        env={"FAIL_AT_MAYBE": "1"},
    )
    assert "1 failed, 5 passed, 1 skipped" in done.stdout
    assert not (guide / "docs" / "captures").exists()


def test_markdown_docs_blocks_sit_among_the_steps(guide: Path) -> None:
    collected = pytest_in(
        guide,
        "--meshdemo",
        "--markdown-docs",
        "--markdown-docs-syntax=superfences",
        "docs",
        "--collect-only",
        "-q",
    )
    names = [line for line in collected.stdout.splitlines() if "::" in line]
    assert names == [
        "mkdocs.yml::create-cluster",
        "mkdocs.yml::greet",
        "mkdocs.yml::count",
        "docs/use.md::[CodeFence#1][line:7]",
        "mkdocs.yml::maybe-fail",
        "mkdocs.yml::after",
        "mkdocs.yml::delete-cluster",
    ]
    done = pytest_in(
        guide, "--meshdemo", "--markdown-docs", "--markdown-docs-syntax=superfences", "docs", "-s"
    )
    assert done.returncode == 0, done.stdout
    # it ran with the run's private kubeconfig
    assert "python sees True" in done.stdout


def test_a_failing_markdown_docs_block_stops_the_later_steps(guide: Path) -> None:
    done = pytest_in(
        guide,
        "--meshdemo",
        "--markdown-docs",
        "--markdown-docs-syntax=superfences",
        "docs",
        "-rs",
        env={"FAIL_IN_PYTHON": "1"},
    )
    assert done.returncode == 1
    assert "asked to fail" in done.stdout
    assert "previous step failed (use.md:7 python-sees-kubeconfig)" in done.stdout


def test_bad_guide_is_a_collection_error_naming_the_file(guide: Path) -> None:
    (guide / "docs" / "use.md").write_text("# Use\n\n``` { .bash #BAD-ID }\ntrue\n```\n")
    done = pytest_in(guide, "--meshdemo")
    assert done.returncode == 2
    assert "use.md" in done.stdout


def test_ctrl_c_under_pytest_stops_the_run(guide: Path, tmp_path: Path) -> None:
    import json
    import signal
    import time

    from meshdemo.run.processes import is_alive

    ready, pidfile = tmp_path / "ready", tmp_path / "slow.pid"
    with (guide / "docs" / "use.md").open("a") as page:
        page.write(
            f"\n``` {{ .bash #slow }}\nsleep 60 & echo $! > {pidfile}\ntouch {ready}\nwait\n```\n"
        )
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--meshdemo", "-q"],
        cwd=guide,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, out
    assert not is_alive(int(pidfile.read_text()))
    record = json.loads((guide / "docs" / "captures" / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert not list((guide / "docs" / "captures").glob("*.tmp"))


def test_a_missing_config_is_a_usage_error(tmp_path: Path) -> None:
    done = pytest_in(tmp_path, "--meshdemo", "--meshdemo-config", "nope.yml")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "no MkDocs configuration at" in done.stderr
