"""The Runner on Steps built in the test: options, policies, captures, isolation."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshdemo.captures import Capture, CaptureStore
from meshdemo.errors import ConfigError
from meshdemo.model import ExpectedOutput, Kind, Page, Project, Step, StepOptions
from meshdemo.run.options import RunOptions
from meshdemo.run.processes import is_alive
from meshdemo.run.results import StepResult
from meshdemo.run.runner import Event, Runner
from meshdemo.status import CleanupPolicy, EventKind, RunStatus, StepStatus


def make_step(step_id: str, command: str, line: int = 1, page: str = "guide.md", **options: Any):
    expected = options.pop("expected", None)
    kind = options.pop("kind", Kind.BASH)
    return Step(
        id=step_id,
        kind=kind,
        page=page,
        line=line,
        command=command,
        options=StepOptions(**options),
        expected=expected,
    )


def make_project(root: Path, steps: list[Step], extra: dict | None = None) -> Project:
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    pages: dict[str, list[Step]] = {}
    for step in steps:
        pages.setdefault(step.page, []).append(step)
    return Project(
        config_file=root / "mkdocs.yml",
        root=root,
        docs_dir=docs,
        pages=tuple(
            Page(path=p, source=docs / p, title=None, markdown="", steps=tuple(s))
            for p, s in pages.items()
        ),
        extra=extra or {},
    )


def run(root: Path, steps: list[Step], *, extra: dict | None = None, **options: Any):
    project = make_project(root, steps, extra)
    return Runner(project, RunOptions(**options)).run(steps), CaptureStore(project.captures_dir)


def statuses(result) -> dict[str, str]:
    return {r.step.id: r.status for r in result.results}


def output_of(store: CaptureStore, step_id: str) -> str:
    """The output of a capture the test relies on being there."""
    capture = store.read(step_id)
    assert capture is not None, f"no capture of {step_id!r}"
    return capture.output


def test_state_crosses_pages_and_captures_are_written(tmp_path: Path) -> None:
    steps = [
        make_step("a", "export GREETING=hello; n=1; cd docs", page="one.md"),
        make_step("b", 'echo "$GREETING $n $(basename "$PWD")"', page="two.md", line=7),
    ]
    result, store = run(tmp_path, steps)
    assert result.passed
    capture = store.read("b")
    assert capture is not None
    assert capture.output == "hello 1 docs\n"
    assert (capture.page, capture.line, capture.status) == ("two.md", 7, StepStatus.PASSED)
    assert capture.command_hash == steps[1].command_hash
    assert capture.run_id == result.run_id
    record = store.read_run()
    assert record is not None
    assert [s["id"] for s in record.steps] == ["a", "b"]
    assert record.status == StepStatus.PASSED


def test_a_rerun_rewrites_only_the_captures_whose_output_changed(tmp_path: Path) -> None:
    (tmp_path / "counter").write_text("0")
    steps = [
        make_step("same", "echo the same every time"),
        make_step("grows", "n=$(( $(cat counter) + 1 )); echo $n > counter; echo run $n"),
    ]
    first, store = run(tmp_path, steps)
    files = {step.id: store.path_for(step.id) for step in steps}
    before = {step_id: path.stat() for step_id, path in files.items()}
    time.sleep(0.01)  # a rewritten file would show a later modification time
    second, store = run(tmp_path, steps)
    assert first.passed and second.passed
    after = {step_id: path.stat() for step_id, path in files.items()}
    assert (after["same"].st_ino, after["same"].st_mtime_ns) == (
        before["same"].st_ino,
        before["same"].st_mtime_ns,
    )
    assert after["grows"].st_ino != before["grows"].st_ino
    for step_id in files:  # whatever was rewritten, a reader sees this run's times
        capture = store.read(step_id)
        assert capture is not None and capture.run_id == second.run_id
    grows = store.read("grows")
    assert grows is not None and grows.output == "run 2\n"
    # a run of one step keeps the times of the others
    third, store = run(tmp_path, steps[1:])
    assert third.passed
    same = store.read("same")
    assert same is not None and same.run_id == second.run_id


def test_first_failure_stops_the_run_and_keeps_unreached_captures(tmp_path: Path) -> None:
    steps = [
        make_step("ok", "echo fine"),
        make_step("bad", "echo broken; false", line=5),
        make_step("later", "echo later"),
    ]
    project = make_project(tmp_path, steps)
    store = CaptureStore(project.captures_dir)
    old = Capture(
        id="later",
        kind="bash",
        page="guide.md",
        line=1,
        command="echo later",
        command_hash=steps[2].command_hash,
        status=StepStatus.PASSED,
        exit_status=0,
        started_at="2020-01-01T00:00:00+00:00",
        duration=1.0,
        output="from an older run\n",
    )
    store.write(old)
    before = store.path_for("later").read_bytes()
    result = Runner(project).run(steps)
    assert result.status == StepStatus.FAILED
    assert result.failed is not None and result.failed.step.id == "bad"
    assert result.failed.note == "exit status 1, expected 0"
    assert statuses(result) == {
        "ok": StepStatus.PASSED,
        "bad": StepStatus.FAILED,
        "later": StepStatus.NOT_RUN,
    }
    assert store.path_for("later").read_bytes() == before
    bad = store.read("bad")
    assert bad is not None and bad.output == "broken\n" and bad.exit_status == 1
    assert not list(project.captures_dir.glob("*.tmp"))


def test_expected_exit_and_any(tmp_path: Path) -> None:
    steps = [
        make_step("three", "exit_three() { return 3; }; exit_three", exit=3),
        make_step("any", "(exit 9)", exit=None),
        make_step("wrong", "true", exit=2),
    ]
    result, _ = run(tmp_path, steps)
    assert statuses(result) == {"three": "passed", "any": "passed", "wrong": "failed"}


def test_retry_until_the_third_attempt(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    command = (
        f"n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; [ $n -ge 3 ]"
    )
    result, store = run(tmp_path, [make_step("flaky", command, retry=4, retry_delay=0.05)])
    assert result.passed
    capture = store.read("flaky")
    assert capture is not None and capture.attempts == 3
    assert counter.read_text().strip() == "3"


def test_retry_gives_up(tmp_path: Path) -> None:
    result, _ = run(tmp_path, [make_step("never", "false", retry=2, retry_delay=0.01)])
    failed = result.failed
    assert failed is not None and failed.attempts == 2
    assert failed.note == "exit status 1, expected 0 (after 2 attempts)"


def test_skip_and_skip_if(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    steps = [
        make_step("never", f"touch {marker}", skip="readers only"),
        make_step("exists", f"touch {marker}-2", skip_if="true"),
        make_step("runs", f"touch {marker}-3", skip_if="test -e /nonexistent/meshdemo"),
    ]
    result, store = run(tmp_path, steps)
    assert statuses(result) == {"never": "skipped", "exists": "skipped", "runs": "passed"}
    assert not marker.exists() and not Path(f"{marker}-2").exists()
    assert Path(f"{marker}-3").exists()
    # skipped steps leave their capture files alone
    assert store.read("never") is None and store.read("exists") is None


def test_skip_if_sees_the_session_state(tmp_path: Path) -> None:
    steps = [
        make_step("set", "export CLUSTER_UP=1"),
        make_step("create", "echo creating", skip_if='[ "$CLUSTER_UP" = 1 ]'),
    ]
    result, _ = run(tmp_path, steps)
    assert statuses(result)["create"] == StepStatus.SKIPPED


def write_kubeconfig(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "other",
                "contexts": [
                    {"name": "demo", "context": {"cluster": "c1", "user": "u1"}},
                    {"name": "other", "context": {"cluster": "c2", "user": "u2"}},
                ],
                "clusters": [
                    {"name": "c1", "cluster": {"server": "https://127.0.0.1:6443"}},
                    {"name": "c2", "cluster": {"server": "https://127.0.0.1:7443"}},
                ],
                "users": [
                    {"name": "u1", "user": {"client-key": "key.pem", "token": "t1"}},
                    {"name": "u2", "user": {"token": "t2"}},
                ],
            }
        )
    )
    (path.parent / "key.pem").write_text("KEY-BYTES")
    return path


def test_provision_skipped_on_an_existing_cluster(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "existing.yaml")
    steps = [
        make_step("create-cluster", "echo creating", provision=True),
        make_step("where", 'echo "$KUBECONFIG $MESHDEMO_EXISTING_CLUSTER"'),
    ]
    result, store = run(tmp_path, steps, kubeconfig=kubeconfig, context="demo")
    assert statuses(result) == {"create-cluster": "skipped", "where": "passed"}
    capture = store.read("where")
    assert capture is not None
    private = Path(capture.output.split()[0])
    assert private.parent == tmp_path / ".meshdemo"
    assert capture.output.split()[1] == "1"
    document = yaml.safe_load(private.read_text())
    assert [c["name"] for c in document["contexts"]] == ["demo"]
    assert [c["name"] for c in document["clusters"]] == ["c1"]
    assert document["current-context"] == "demo"
    user = document["users"][0]["user"]
    assert "client-key" not in user and user["client-key-data"] == "S0VZLUJZVEVT"
    assert private.stat().st_mode & 0o777 == 0o600


def test_kubeconfig_without_context_is_refused(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "existing.yaml")
    project = make_project(tmp_path, [])
    with pytest.raises(ConfigError, match="--kubeconfig needs --context"):
        Runner(project, RunOptions(kubeconfig=str(kubeconfig)))
    with pytest.raises(ConfigError, match=r"no context 'nope'.*demo, other"):
        Runner(project, RunOptions(kubeconfig=str(kubeconfig), context="nope"))


def test_default_kubeconfig_is_private_and_home_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("untouched\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUBECONFIG", str(home / ".kube" / "config"))
    steps = [
        make_step("where", 'echo "$KUBECONFIG"'),
        make_step("write", 'echo "apiVersion: v1" > "$KUBECONFIG"'),
        make_step("python", "import os\nprint(os.environ['MESHDEMO_RUN_DIR'])", kind=Kind.PYTHON),
    ]
    result, store = run(tmp_path / "project", steps)
    assert result.passed
    where = store.read("where")
    assert where is not None
    assert where.output.strip() == str(tmp_path / "project" / ".meshdemo" / "kubeconfig")
    assert (home / ".kube" / "config").read_text() == "untouched\n"
    python = store.read("python")
    assert python is not None and python.output.strip() == str(tmp_path / "project" / ".meshdemo")
    assert python.command.startswith("import os")


def run_with_teardown(root: Path, cleanup: str, fail: bool):
    steps = [
        make_step("work", "false" if fail else "true"),
        make_step("middle", "true"),
        make_step("destroy", "echo destroyed", teardown=True),
    ]
    result, _ = run(root, steps, cleanup=cleanup)
    return statuses(result)


def test_teardown_policies(tmp_path: Path) -> None:
    assert run_with_teardown(tmp_path / "1", "on-success", fail=False)["destroy"] == "passed"
    assert run_with_teardown(tmp_path / "2", "on-success", fail=True) == {
        "work": "failed",
        "middle": StepStatus.NOT_RUN,
        "destroy": "skipped",
    }
    assert run_with_teardown(tmp_path / "3", "always", fail=True) == {
        "work": "failed",
        "middle": StepStatus.NOT_RUN,
        "destroy": "passed",
    }
    assert run_with_teardown(tmp_path / "4", "never", fail=False)["destroy"] == "skipped"


def test_expected_output_with_volatile_tokens(tmp_path: Path) -> None:
    table = (
        "printf 'NAME                     READY   STATUS    RESTARTS   AGE\\n"
        "books-7f6c9d8b5c-q2x9z   1/1     Running   0          12s\\n"
        "web-0  10.244.1.7  3ms\\n'"
    )
    expected = ExpectedOutput(
        text="NAME READY STATUS RESTARTS AGE\nbooks-5d8f9c7b6d-x2x9q   1/1   Running   0   5m12s\n",
        line=9,
    )
    exact = ExpectedOutput(text="web-0 192.168.0.1 15ms", line=20, match="exact")
    wrong = ExpectedOutput(text="books 0/1 CrashLoopBackOff", line=30)
    steps = [
        make_step("contains", table, expected=expected),
        make_step("exact", "echo 'web-0   10.0.0.3   2ms  '", expected=exact),
        make_step("mismatch", table, expected=wrong, line=28),
    ]
    result, _ = run(tmp_path, steps)
    assert statuses(result) == {"contains": "passed", "exact": "passed", "mismatch": "failed"}
    note = result.failed.note if result.failed else ""
    assert note is not None and "guide.md:30" in note and "CrashLoopBackOff" in note


PEM_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "-----END RSA PRIVATE KEY-----\n"
)
FAKE_KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=
    server: https://127.0.0.1:6443
  name: kind-demo
users:
- name: kind-demo
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnNlY3JldGNlcnQ=
    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpzZWNyZXRrZXk=
    token: abcdef0123456789abcdef
"""


def test_planted_secrets_never_reach_a_capture(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text(PEM_KEY)
    (tmp_path / "config").write_text(FAKE_KUBECONFIG)
    # the token is decoded at run time, so only the output can carry it
    steps = [
        make_step(
            "leak",
            'cat key.pem config; echo "Authorization: Bearer $(echo c2tfbGl2ZV8wMTIzNDU2Nzg5 | '
            'base64 -d)"',
        )
    ]
    result, store = run(tmp_path, steps)
    assert result.passed
    written = store.path_for("leak").read_text()
    for secret in (
        "MIIEowIBAAKCAQEA0Z3VS5JJ",
        "LS0tLS1CRUdJTiBDRVJU",
        "LS0tLS1CRUdJTiBSU0Eg",
        "abcdef0123456789abcdef",
        "sk_live_0123456789",
    ):
        assert secret not in written
        assert secret not in result.results[0].output
    assert "server: https://127.0.0.1:6443" in written
    assert "[masked]" in written


def test_timeout_is_reported_and_the_run_stops(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    steps = [
        make_step("slow", f"sleep 30 & echo $! > {pidfile}; wait", timeout=0.5),
        make_step("after", "true"),
    ]
    result, store = run(tmp_path, steps)
    assert statuses(result) == {"slow": "timed-out", "after": StepStatus.NOT_RUN}
    capture = store.read("slow")
    assert capture is not None and capture.status == StepStatus.TIMED_OUT
    assert not is_alive(int(pidfile.read_text()))


def test_shell_exit_is_a_failure_and_teardown_still_has_a_shell(tmp_path: Path) -> None:
    steps = [
        make_step("set", "export KEEP=kept"),
        make_step("leave", "exit 3"),
        make_step("destroy", 'echo "teardown with $KEEP"', teardown=True),
    ]
    result, store = run(tmp_path, steps, cleanup=CleanupPolicy.ALWAYS)
    assert statuses(result) == {"set": "passed", "leave": "shell-exited", "destroy": "passed"}
    assert result.failed is not None and result.failed.exit_status == 3
    destroy = store.read("destroy")
    assert destroy is not None and destroy.output == "teardown with kept\n"


def test_background_and_stream_steps(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    steps = [
        make_step("serve", f"echo $$ > {pidfile}; echo serving; exec sleep 60", background=True),
        make_step("tap", "echo line; sleep 30", stream=0.5),
        make_step("next", "echo next"),
    ]
    result, store = run(tmp_path, steps)
    assert result.passed, result.results
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(pid)
    serve = store.read("serve")
    assert serve is not None and serve.output == "serving\n"
    tap = store.read("tap")
    assert tap is not None and tap.note == "stopped after 0.5 s, as asked"
    assert tap.output.startswith("line\n")


def test_no_capture_writes_nothing_under_docs(tmp_path: Path) -> None:
    steps = [make_step("a", "echo a"), make_step("b", "false")]
    project = make_project(tmp_path, steps)
    result = Runner(project, RunOptions(capture=False)).run(steps)
    assert result.status == StepStatus.FAILED
    assert list(project.docs_dir.rglob("*")) == []


def test_tool_versions_in_run_json(tmp_path: Path) -> None:
    extra = {"meshdemo": {"tool_versions": {"bash": "echo 5.2", "missing": "no-such-tool-xyz"}}}
    result, store = run(tmp_path, [make_step("a", "true")], extra=extra)
    record = json.loads((store.directory / "run.json").read_text())
    assert record["tool_versions"] == {"bash": "5.2", "missing": "unavailable"}
    assert record["run_id"] == result.run_id


def test_screenshot_failure_is_a_clear_step_failure(tmp_path: Path) -> None:
    shot = make_step(
        "shot",
        "a caption",
        kind=Kind.SCREENSHOT,
        url="http://example.com/",
        image="images/x.png",
        timeout=5,
    )
    result, _ = run(tmp_path, [shot])
    failed = result.failed
    assert failed is not None and failed.step.id == "shot"
    assert failed.note is not None and "screenshot" in failed.note
    assert not (tmp_path / "docs" / "images" / "x.png").exists()


def test_events_in_order(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    def record(event: Event) -> None:
        if event.kind != EventKind.TICK:
            seen.append((event.kind, event.step.id if event.step else None))

    steps = [make_step("a", "true"), make_step("b", "true", skip="no")]
    project = make_project(tmp_path, steps)
    Runner(project, on_event=record).run(steps)
    assert seen == [
        ("run-start", None),
        ("step-start", "a"),
        ("step-end", "a"),
        ("step-end", "b"),
        ("run-end", None),
    ]


def test_environment_names(tmp_path: Path) -> None:
    project = make_project(tmp_path, [])
    env = Runner(project).environment()
    assert env["MESHDEMO_PYTHON"] == os.sys.executable  # type: ignore[attr-defined]
    assert "MESHDEMO_EXISTING_CLUSTER" not in env


def test_errors_name_the_page_line_not_the_scratch_file(tmp_path: Path) -> None:
    steps = [make_step("syntax", "echo fine\nif then", line=4)]
    result, _ = run(tmp_path, steps)
    syntax = result.results[0]
    assert syntax.status == StepStatus.FAILED
    assert "guide.md: line 6: syntax error" in syntax.output
    steps = [make_step("py", "x = 0\n\n1 / x", kind=Kind.PYTHON, line=10)]
    result, _ = run(tmp_path / "2", steps)
    assert 'File "guide.md", line 13' in result.results[0].output
    assert "ZeroDivisionError" in result.results[0].output


def test_screenshot_step_takes_a_real_shot(tmp_path: Path, chromium_path: str) -> None:
    import functools
    import http.server
    import threading

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<html><body><table><tbody><tr><td>books</td><td>85%</td></tr></tbody></table>"
        "</body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        shot = make_step(
            "shot",
            "The books deployment",
            kind=Kind.SCREENSHOT,
            page="viz/dashboard.md",
            url=f"http://127.0.0.1:{server.server_address[1]}/",
            image="images/books.png",
            wait_for="table tbody tr",
            width=640,
            height=400,
            timeout=60,
        )
        result, store = run(tmp_path / "project", [shot])
    finally:
        server.shutdown()
    assert result.passed, result.results[0].note
    image = tmp_path / "project" / "docs" / "viz" / "images" / "books.png"
    assert image.read_bytes().startswith(b"\x89PNG")
    capture = store.read("shot")
    assert capture is not None and capture.artifact == "viz/images/books.png"


def test_resume_starts_from_the_last_runs_shell_state(tmp_path: Path) -> None:
    first = [make_step("setup", "export LINKERD_HOME=/opt/l5d; PATH=/opt/l5d/bin:$PATH; cd docs")]
    result, _ = run(tmp_path, first)
    assert result.passed
    second = [make_step("use", 'echo "$LINKERD_HOME ${PATH%%:*} $(basename "$PWD") $KUBECONFIG"')]
    project = make_project(tmp_path, second)
    runner = Runner(project, RunOptions(resume=True))
    resumed = runner.run(second)
    assert runner.session_restored
    assert resumed.results[0].output.split() == [
        "/opt/l5d",
        "/opt/l5d/bin",
        "docs",
        str(tmp_path / ".meshdemo" / "kubeconfig"),
    ]
    fresh = Runner(project).run(second)
    assert fresh.results[0].output.split()[0] != "/opt/l5d"


def test_a_failed_run_keeps_its_session_for_diagnostics(tmp_path: Path) -> None:
    """The session lives in memory and goes at the end; after a failure its files are copied
    to .meshdemo/failed-run/ (where CI uploads them from), secrets masked, environment left out.
    """
    steps = [
        make_step("setup", "export API_TOKEN=s3cr3t-value; echo ready", line=3),
        make_step(
            "tick",
            "while :; do echo 'token: hunter2-secret'; sleep 0.2; done",
            line=7,
            background=True,
        ),
        make_step("boom", "echo broken >&2; exit 3", line=11),
    ]
    result, _ = run(tmp_path, steps)
    assert result.status == RunStatus.FAILED
    kept = tmp_path / ".meshdemo" / "failed-run"
    files = {p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()}
    assert "session.log" in files
    assert {f for f in files if f.startswith("steps/")} and any(
        f.startswith("logs/") for f in files
    ), files
    assert not any(f.endswith("state.sh") for f in files), "the shell's environment was kept"
    text = "\n".join((kept / f).read_text() for f in files)
    assert "exit 3" in text  # the failed step's file
    assert "hunter2-secret" not in text and "[masked]" in text
    assert "s3cr3t-value" not in "".join(
        (kept / f).read_text() for f in files if not f.startswith("steps/")
    )

    # the next run starts by removing it; a passing run keeps nothing
    result, _ = run(tmp_path, steps[:1])
    assert result.passed
    assert not kept.exists()


def test_a_passed_steps_capture_is_recorded_while_the_next_step_runs(tmp_path: Path) -> None:
    first_capture = "docs/captures/first.json"
    steps = [
        make_step("first", "echo one"),
        # waits for the first step's capture, which is written while this step runs
        make_step(
            "second",
            f"for _ in $(seq 200); do [ -e {first_capture} ] && break; sleep 0.01; done; "
            f'grep -c \'"output": "one\' {first_capture}',
        ),
        make_step("third", "echo three"),
    ]
    project = make_project(tmp_path, steps)
    store = CaptureStore(project.captures_dir)
    runner = Runner(project, RunOptions())
    first = runner.execute(steps[0])
    assert first.ok and not store.path_for("first").exists()
    second = runner.execute(steps[1])
    assert second.ok, second.output
    assert second.output == "1\n"
    runner.execute(steps[2])
    assert not store.path_for("third").exists()  # no step after it: the run's end writes it
    result = runner.finish(steps)
    assert result.passed
    captures = {step_id: store.read(step_id) for step_id in ("first", "second", "third")}
    assert {k: c.output for k, c in captures.items() if c} == {
        "first": "one\n",
        "second": "1\n",
        "third": "three\n",
    }
    record = store.read_run()
    assert record is not None and all("output_digest" in s for s in record.steps)


def test_record_later_false_records_each_capture_before_execute_returns(tmp_path: Path) -> None:
    steps = [make_step("only", "echo one")]
    project = make_project(tmp_path, steps)
    runner = Runner(project, RunOptions(), record_later=False)
    runner.execute(steps[0])
    assert output_of(CaptureStore(project.captures_dir), "only") == "one\n"
    runner.finish(steps)


def test_a_capture_waiting_when_the_run_is_interrupted_is_still_recorded(tmp_path: Path) -> None:
    steps = [make_step("done", "echo API_TOKEN=hunter2secret"), make_step("never", "echo no")]
    project = make_project(tmp_path, steps)
    runner = Runner(project, RunOptions())
    runner.execute(steps[0])
    result = runner.finish(steps, interrupted=True)
    assert result.status == RunStatus.INTERRUPTED
    store = CaptureStore(project.captures_dir)
    assert output_of(store, "done") == "API_TOKEN=[masked]\n"
    assert store.read("never") is None
    record = store.read_run()
    assert record is not None
    assert [(s["id"], s["status"]) for s in record.steps] == [
        ("done", "passed"),
        ("never", "interrupted"),
    ]


def test_a_waiting_output_is_masked_whenever_it_is_read(tmp_path: Path) -> None:
    """A passed step's output is made later, but nobody sees it unmasked: reading it makes it."""
    # the secret is put together by the shell: only the output holds it
    steps = [make_step("leak", "s=hunter2; echo password=${s}secret"), make_step("next", "true")]
    project = make_project(tmp_path, steps)
    runner = Runner(project, RunOptions())
    events: list[Event] = []
    runner.on_event = events.append
    leak = runner.execute(steps[0])
    assert leak.output_pending
    ended = [e.result for e in events if e.kind == EventKind.STEP_END]
    assert ended == [leak]
    assert leak.output == "password=[masked]\n"
    assert "hunter2secret" not in repr(leak)
    runner.finish(steps[:1])
    assert output_of(CaptureStore(project.captures_dir), "leak") == "password=[masked]\n"


def test_a_step_result_makes_a_later_output_once_when_first_read() -> None:
    made: list[str] = []

    def make() -> str:
        made.append("made")
        return "masked text\n"

    result = StepResult(make_step("s", "true"), StepStatus.PASSED)
    result.output_later(make)
    assert result.output_pending and made == []
    assert result.output == "masked text\n" and result.tail() == "masked text"
    assert made == ["made"] and not result.output_pending
    result.output_later(make)
    result.output = "set by hand\n"  # setting it forgets what was to be made
    assert result.output == "set by hand\n" and made == ["made"]
    assert StepResult(make_step("t", "true"), StepStatus.PASSED, output="x").output == "x"


def test_a_waiting_capture_is_recorded_before_a_step_that_runs_nothing_in_the_session(
    tmp_path: Path,
) -> None:
    """A skipped step (or a screenshot, a background step) gives it no session step to be
    recorded during, so it is recorded first, and a page served meanwhile shows it at once; a
    skip-if test records it while the test runs."""
    steps = [
        make_step("first", "echo one"),
        make_step("skipped", "echo never", skip="not today"),
        make_step("second", "echo two"),
        make_step("probed", "echo three", skip_if="false"),
    ]
    project = make_project(tmp_path, steps)
    store = CaptureStore(project.captures_dir)
    runner = Runner(project, RunOptions())
    runner.execute(steps[0])
    assert store.read("first") is None
    assert runner.execute(steps[1]).status == StepStatus.SKIPPED
    assert output_of(store, "first") == "one\n"
    runner.execute(steps[2])
    assert store.read("second") is None
    runner.execute(steps[3])  # recorded while its skip-if test runs
    assert output_of(store, "second") == "two\n"
    assert runner.finish(steps).passed
    assert output_of(store, "probed") == "three\n"


def _spy_on_batches(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of the steps of every batch the run sends (the real queue still runs)."""
    from meshdemo.run.session import BashSession

    batches: list[list[str]] = []
    queue = BashSession.queue

    def spy(self: BashSession, steps: Any) -> None:
        batches.append([name for _, name, _ in steps])
        queue(self, steps)

    monkeypatch.setattr(BashSession, "queue", spy)
    return batches


def test_quick_steps_go_in_batches_and_a_failure_stops_them_in_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = _spy_on_batches(monkeypatch)
    trail = tmp_path / "trail"
    steps = [make_step(f"s{i:02d}", f"echo {i} >>{trail}; echo out {i}") for i in range(12)]
    steps[9] = make_step("s09", f"echo 9 >>{trail}; echo broken; false")
    result, store = run(tmp_path, steps)
    assert len(batches) >= 2 and max(len(b) for b in batches) >= 4  # sent ahead, growing
    assert statuses(result) == {
        **{f"s{i:02d}": StepStatus.PASSED for i in range(9)},
        "s09": StepStatus.FAILED,
        "s10": StepStatus.NOT_RUN,
        "s11": StepStatus.NOT_RUN,
    }
    # the shell ran nothing after the failed step, although it had been sent the rest
    assert any("s10" in batch for batch in batches)
    assert trail.read_text().split() == [str(i) for i in range(10)]
    for i in range(9):
        capture = store.read(f"s{i:02d}")
        assert capture is not None and capture.output == f"out {i}\n"
    failed = store.read("s09")
    assert failed is not None and (failed.output, failed.exit_status) == ("broken\n", 1)
    assert store.read("s10") is None


def test_a_step_judged_by_its_output_ends_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = _spy_on_batches(monkeypatch)
    trail = tmp_path / "trail"
    steps = [make_step(f"s{i}", f"echo {i} >>{trail}") for i in range(4)]
    steps.append(make_step("judged", "echo actual", expected=ExpectedOutput(text="wanted", line=9)))
    steps += [make_step(f"t{i}", f"echo t{i} >>{trail}") for i in range(3)]
    result, _ = run(tmp_path, steps)
    assert statuses(result)["judged"] == StepStatus.FAILED
    assert all(batch[-1] == "judged" for batch in batches if "judged" in batch)
    assert trail.read_text().split() == ["0", "1", "2", "3"]


def test_ctrl_c_in_a_batch_reports_the_steps_bash_ended_past_the_awaited_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = _spy_on_batches(monkeypatch)
    trail = tmp_path / "trail"
    steps = [make_step(f"s{i:02d}", f"echo {i} >>{trail}; echo out {i}") for i in range(16)]
    steps[13] = make_step("s13", f"echo 13 >>{trail}; sleep 5; echo never >>{trail}")
    project = make_project(tmp_path, steps)

    def interrupt(event: Event) -> None:
        if event.kind == EventKind.STEP_END and event.step and event.step.id == "s08":
            time.sleep(0.3)  # bash goes on with the batch meanwhile, into s13's sleep
            raise KeyboardInterrupt

    began = time.monotonic()
    result = Runner(project, on_event=interrupt).run(steps)
    assert time.monotonic() - began < 4  # s13 was stopped, not waited for
    assert any({"s09", "s13"} <= set(batch) for batch in batches)
    assert result.status == RunStatus.INTERRUPTED
    assert statuses(result) == {
        **{f"s{i:02d}": StepStatus.PASSED for i in range(13)},
        "s13": StepStatus.INTERRUPTED,
        "s14": StepStatus.NOT_RUN,
        "s15": StepStatus.NOT_RUN,
    }
    assert trail.read_text().split() == [str(i) for i in range(14)]  # no "never", no 14
    store = CaptureStore(project.captures_dir)
    for i in range(13):  # what ran past the awaited step is recorded too
        capture = store.read(f"s{i:02d}")
        assert capture is not None and capture.output == f"out {i}\n"
    assert store.read("s13") is None and store.read("s14") is None


def test_an_error_of_ours_in_a_batch_reports_what_bash_ran_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture that cannot be written breaks the run off; the steps bash had already ended
    ran, and say so, and the step it was in is stopped."""
    batches = _spy_on_batches(monkeypatch)
    write = CaptureStore.write

    def failing_write(self: CaptureStore, capture: Capture, encoded: Any = None) -> Any:
        if capture.id == "s08":
            raise OSError(28, "No space left on device")
        return write(self, capture, encoded)

    monkeypatch.setattr(CaptureStore, "write", failing_write)
    trail = tmp_path / "trail"
    steps = [make_step(f"s{i:02d}", f"echo {i} >>{trail}; echo out {i}") for i in range(16)]
    steps[13] = make_step("s13", f"echo 13 >>{trail}; sleep 5; echo never >>{trail}")
    project = make_project(tmp_path, steps)
    began = time.monotonic()
    result = Runner(project).run(steps)
    assert time.monotonic() - began < 4  # the step bash was in was stopped
    assert any("s08" in batch for batch in batches)
    assert result.status == RunStatus.ERROR and "s08" in (result.error or "")
    passed = [r.step.id for r in result.results if r.status == StepStatus.PASSED]
    ran = [f"s{int(n):02d}" for n in trail.read_text().split()]
    # every step reported as passed ran; of those that ran, at most the one stopped midway
    # is not reported as passed
    assert set(passed) <= set(ran) and len(set(ran) - set(passed)) <= 1
    assert "never" not in trail.read_text()
    store = CaptureStore(project.captures_dir)
    assert all(store.read(step) is not None for step in passed if step != "s08")
