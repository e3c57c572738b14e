"""``meshdemo run`` end to end, in a subprocess, on copies of fixture projects."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cli
import pytest

from meshdemo.run.processes import is_alive

FIXTURE = Path(__file__).parent / "fixtures" / "runnable"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "guide"
    shutil.copytree(FIXTURE, target)
    return target


def meshdemo(cwd: Path, *args: str, env: dict[str, str] | None = None):
    return cli.meshdemo("run", *args, cwd=cwd, env=env)


def test_a_passing_run_captures_every_step(project: Path) -> None:
    done = meshdemo(project)
    assert done.returncode == 0, done.stdout + done.stderr
    captures = project / "docs" / "captures"
    names = sorted(p.name for p in captures.glob("*.json"))
    assert names == [
        "after.json",
        "count.json",
        "create-cluster.json",
        "delete-cluster.json",
        "greet.json",
        "maybe-fail.json",
        "python-sees-kubeconfig.json",
        "run.json",
        "times.json",
    ]
    greet = json.loads((captures / "greet.json").read_text())
    assert greet["output"] == "hello books\n"
    run = json.loads((captures / "run.json").read_text())
    assert run["status"] == "passed"
    assert run["tool_versions"]["bash"].startswith("5.")
    assert "page:line" in done.stdout and "greet" in done.stdout
    assert f"tools: bash: {run['tool_versions']['bash']}" in done.stdout


def test_a_failing_run_names_the_fence_and_how_to_resume(project: Path) -> None:
    done = meshdemo(project, env={"FAIL_AT_MAYBE": "1"})
    assert done.returncode == 1
    out = done.stdout
    assert "use.md:13: step maybe-fail failed" in out
    assert 'test -z "$FAIL_AT_MAYBE"' in out
    assert "meshdemo run --from maybe-fail" in out
    assert "meshdemo run --only cleanup.md --cleanup always" in out
    assert not (project / "docs" / "captures" / "after.json").exists()


def test_no_capture_and_dry_run_write_nothing_under_docs(project: Path) -> None:
    assert meshdemo(project, "--no-capture").returncode == 0
    dry = meshdemo(project, "--dry-run", "--cleanup", "never")
    assert dry.returncode == 0
    assert "teardown skipped (--cleanup never)" in dry.stdout
    # each step's options as the page writes them, from the one table of options
    teardown = next(line for line in dry.stdout.splitlines() if "delete-cluster" in line)
    assert teardown.endswith('teardown="true"')
    assert not (project / "docs" / "captures").exists()


def test_selection_by_from_to_and_only(project: Path) -> None:
    done = meshdemo(project, "--from", "maybe-fail", "--to", "after")
    assert done.returncode == 0, done.stdout
    captures = project / "docs" / "captures"
    names = sorted(p.name for p in captures.glob("*.json"))
    assert names == ["after.json", "maybe-fail.json", "run.json", "times.json"]
    # --from resumes with the shell state of the last run: greet needs DEMO_NAME from setup
    assert meshdemo(project).returncode == 0
    resumed = meshdemo(project, "--from", "greet", "--to", "greet")
    assert resumed.returncode == 0, resumed.stdout
    assert "shell state restored" in resumed.stdout
    only = meshdemo(project, "--only", "cleanup.md")
    assert only.returncode == 0
    assert (captures / "delete-cluster.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "nope"], "--from nope: no step has this id"),
        (["--to", "nope"], "--to nope: no step has this id"),
        (["--only", "missing.md"], "--only missing.md: no such page"),
        (["--from", "after", "--to", "greet"], "comes after --to"),
        (["--kubeconfig", "k.yaml"], "--kubeconfig needs --context"),
    ],
)
def test_bad_options_exit_2_before_running(project: Path, args: list[str], message: str) -> None:
    (project / "k.yaml").write_text("apiVersion: v1\ncontexts: []\n")
    done = meshdemo(project, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (project / "docs" / "captures").exists()
    assert not (project / ".meshdemo" / "session").exists()


@pytest.mark.parametrize(
    "sig",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
    ids=["ctrl-c", "sigterm-ci-cancel", "sighup-terminal-closed"],
)
def test_interrupt_stops_everything(tmp_path: Path, sig: signal.Signals) -> None:
    guide = tmp_path / "guide"
    (guide / "docs").mkdir(parents=True)
    (guide / "mkdocs.yml").write_text(
        "site_name: Interrupt\nmarkdown_extensions:\n  - attr_list\n  - pymdownx.superfences\n"
        "nav:\n  - index.md\n"
    )
    pids = tmp_path / "pids"
    (guide / "docs" / "index.md").write_text(
        "# Long\n\n"
        "``` { .bash #first }\necho first\n```\n\n"
        '``` { .bash #serve background="true" }\n'
        f"echo $$ >> {pids}; exec sleep 120\n```\n\n"
        "``` { .bash #long }\n"
        f"setsid nohup sh -c 'echo $$ >> {pids}; exec sleep 121' >/dev/null 2>&1 &\n"
        f"sleep 122 & echo $! >> {pids}\n"
        f"echo started > {tmp_path / 'ready'}\n"
        "sleep 123\n```\n"
    )
    process = cli.start_meshdemo("run", cwd=guide)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "ready").exists()
        time.sleep(0.3)
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + sig, out + err  # the shell's convention: 130, 143, 129
    assert "Interrupted" in out and "Traceback" not in err
    started = [int(line) for line in pids.read_text().split()]
    assert len(started) == 3
    deadline = time.monotonic() + 5
    while any(is_alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in started if is_alive(p)] == []
    captures = guide / "docs" / "captures"
    assert not list(captures.rglob("*.tmp"))
    record = json.loads((captures / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert not (captures / "long.json").exists()
    # nothing left: no scratch folder in memory, no ownership record
    assert not list(Path("/dev/shm").glob(f"meshdemo-{record['run_id']}-*"))
    assert (guide / ".meshdemo" / "run.lock").read_text() == ""


DEMO_FROM_GREET = ("--skip-prereq", "--no-capture", "--from", "greet")


def test_demo_from_resumes_the_shell_state_like_run_from(project: Path) -> None:
    # a full run saves the shell state; greet needs DEMO_NAME, exported by the step before it
    assert meshdemo(project, "--cleanup", "never").returncode == 0
    resumed = cli.meshdemo("demo", *DEMO_FROM_GREET, cwd=project)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "✓ greet" in resumed.stdout


def test_a_run_loads_only_what_its_steps_need(tmp_path: Path) -> None:
    """Steps without an expected output or a secret: the output comparison, logging and the
    masking rules are never loaded (each costs milliseconds at every run's start), nor the page
    reader when the project comes from its cache; a step that has them loads them when it
    needs them, and a secret is still masked."""
    project = cli.engine_guide(
        tmp_path / "guide",
        (".bash #plain", "echo one"),
        (".bash #more", "echo two"),
    )
    code = (
        "import json, sys\n"
        "from meshdemo import cli\n"
        "from meshdemo.run.masking import RULES\n"
        "status = cli.main(['run', '-f', 'mkdocs.yml'])\n"
        "modules = ('logging', 'meshdemo.run.normalize', 'meshdemo.guide.pages')\n"
        "loaded = [m for m in modules if m in sys.modules]\n"
        "compiled = [rule.name for rule in RULES if 'pattern' in vars(rule)]\n"
        "print(json.dumps([status, loaded, compiled]), file=sys.stderr)\n"
    )

    def report() -> list:
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=project,
            env=cli.environment({"MESHDEMO_NO_CACHE": "0"}),  # the project cache, as users have it
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return json.loads(done.stderr.strip().splitlines()[-1])

    report()  # the first run reads the project; the second starts from its cache, as most do
    assert report() == [0, [], []]

    page = project / "docs" / "index.md"
    page.write_text(
        page.read_text()
        + '\n``` { .bash #secret }\necho "password=hunter2-$((6 * 7))"; echo took 3s\n```\n\n'
        + "``` { .text .expected }\ntook 5s\n```\n"
    )
    report()  # the page changed: read again
    status, loaded, compiled = report()
    assert status == 0
    assert loaded == ["meshdemo.run.normalize"]  # the durations compare as <DUR>
    assert compiled == ["secret-key-value"]
    saved = json.loads((project / "docs" / "captures" / "secret.json").read_text())
    assert "hunter2" not in saved["output"] and "password=[masked]" in saved["output"]
