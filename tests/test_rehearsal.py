"""A rehearsal of the live demo: the REAL guide (this repository's mkdocs.yml and pages), run
end to end by ``meshdemo demo`` and ``meshdemo run`` against a temporary copy of the project,
with the test doubles of kind, kubectl, linkerd, curl and docker first on PATH (tests/doubles),
HOME in a temporary folder, and a fake Kubernetes API server for the verification blocks.

What it proves: the engine and the guide fit together (every step passes with tools that
behave like the real ones in the shapes the guide uses), the order of the tool calls is right,
the dashboard is backgrounded and stopped, tap is bounded, the PATH change to ~/.linkerd2/bin
persists across steps, a failure inside a pipe fails its step (pipefail), the private
kubeconfig is the only one used, a kept cluster is reached again, nothing is left running and
nothing is written into the repository's docs/. What it cannot prove: that the real tools and
images behave so; only a real cluster (make demo, CI's live job) can.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "doubles"))
from fake_kube import meshed_books_cluster, serve

ROOT = Path(__file__).resolve().parents[1]
DOUBLES = ROOT / "tests" / "doubles"
RUN_TIMEOUT = 600


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder``, with the hash of the content of the files a run writes
    (captures and images). The pages' own text is left out: it may be edited while the
    rehearsal runs, and a run never writes pages."""
    written = ("captures/", "images/")
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name.startswith(written):
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[name] = "dir" if path.is_dir() else "file"
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium() -> str | None:
    """The Chromium the screenshots use, when it and Playwright are here."""
    candidate = os.environ.get("MESHDEMO_CHROMIUM") or "/usr/bin/chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    return candidate if os.access(candidate, os.X_OK) else None


def skip_screenshots(docs: Path) -> int:
    """Mark every screenshot fence of the copy `skip`, said in the run's own report."""
    count = 0
    for page in docs.rglob("*.md"):
        text = page.read_text()
        changed = text.replace(
            "{ .screenshot ", '{ .screenshot skip="no Chromium here (rehearsal)" '
        )
        if changed != text:
            count += text.count("{ .screenshot ")
            page.write_text(changed)
    return count


def copy_project(target: Path, dashboard_port: int) -> Path:
    target.mkdir(parents=True)
    for name in ("mkdocs.yml", "versions.yml"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(
        ROOT / "docs", target / "docs", ignore=shutil.ignore_patterns("captures", "images")
    )
    (target / "docs" / "images").mkdir(exist_ok=True)
    if (ROOT / "hooks").is_dir():
        shutil.copytree(
            ROOT / "hooks", target / "hooks", ignore=shutil.ignore_patterns("__pycache__")
        )
    # a free port for the dashboard, so the rehearsal never collides with a real one
    versions = target / "versions.yml"
    data = yaml.safe_load(versions.read_text())
    data["versions"]["dashboard"]["port"] = dashboard_port
    versions.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


@dataclass
class Run:
    status: int
    output: str


class Rehearsal:
    # set by the `rehearsal` fixture, from its two runs
    demo: Run
    demo_calls: list[dict]
    demo_record: dict[str, Any]  # run.json, parsed
    rerun: Run
    rerun_calls: list[dict]
    rerun_record: dict[str, Any]  # run.json, parsed
    docs_changed: bool
    real_kubeconfig_changed: bool

    def __init__(self, root: Path, chromium: str | None, api_server: str):
        self.root = root
        self.project = copy_project(root / "project", free_port())
        self.screenshots = chromium is not None
        if not self.screenshots:
            assert skip_screenshots(self.project / "docs") > 0
        self.home = root / "home"
        self.home.mkdir()
        self.log = root / "calls.jsonl"
        self.env = {
            "PATH": f"{DOUBLES / 'bin'}:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "COLUMNS": "160",
            "NO_MKDOCS_2_WARNING": "1",
            "MESHDEMO_CHROMIUM": chromium or "/nonexistent/chromium",
            "MESHDEMO_DOUBLES_LOG": str(self.log),
            "MESHDEMO_DOUBLES_STATE": str(root / "state"),
            "MESHDEMO_DOUBLES_PYTHON": sys.executable,
            "MESHDEMO_DOUBLES_API_SERVER": api_server,
        }

    @property
    def kubeconfig(self) -> Path:
        return self.project / ".meshdemo" / "kubeconfig"

    def meshdemo(self, *args: str, **extra_env: str) -> Run:
        answer = subprocess.run(
            [sys.executable, "-m", "meshdemo", *args],
            cwd=self.project,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return Run(answer.returncode, answer.stdout + answer.stderr)

    def calls(self, since: int = 0) -> list[dict]:
        lines = self.log.read_text().splitlines()[since:] if self.log.exists() else []
        return [json.loads(line) for line in lines]

    def log_length(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


def starts(calls: list[dict]) -> list[dict]:
    return [c for c in calls if c["event"] == "start"]


def words(call: dict) -> str:
    return " ".join([call["tool"], *call["argv"]])


def first_index(calls: list[dict], prefix: str) -> int:
    """Index of the first call whose words start with ``prefix`` (exactly ``prefix`` when it
    ends with ``$``)."""
    exact = prefix.endswith("$")
    wanted = prefix.rstrip("$")
    for n, call in enumerate(starts(calls)):
        text = words(call)
        if text == wanted or (not exact and text.startswith(wanted)):
            return n
    raise AssertionError(f"no call {'equal to' if exact else 'starting with'} {wanted!r}")


def live_doubles(log: Path) -> list[str]:
    """Processes of the doubles of this rehearsal still alive (found through /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"MESHDEMO_DOUBLES_LOG={log}".encode() in environ and "cluster_tools.py" in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Rehearsal:
    """Two runs of the whole guide: `meshdemo demo` (keeps the cluster), then, as after a fresh
    checkout (the private kubeconfig removed), `meshdemo run`, which reuses the kept cluster and
    tears it down at the end."""
    docs_before = snapshot(ROOT / "docs")
    real_kubeconfig = Path.home() / ".kube" / "config"
    real_before = real_kubeconfig.read_bytes() if real_kubeconfig.exists() else None
    with serve(meshed_books_cluster()) as api_server:
        browser = chromium()
        if browser is None and (
            os.environ.get("CI", "").lower() == "true"
            or os.environ.get("MESHDEMO_REQUIRE_BROWSER") == "1"
        ):
            pytest.fail("no Chromium/Playwright for the rehearsal's screenshots (required here)")
        state = Rehearsal(tmp_path_factory.mktemp("rehearsal"), browser, api_server)
        state.demo = state.meshdemo("demo")
        state.demo_calls = state.calls()
        state.demo_record = json.loads(
            (state.project / "docs" / "captures" / "run.json").read_text()
        )
        state.kubeconfig.unlink()
        mark = state.log_length()
        state.rerun = state.meshdemo("run")
        state.rerun_calls = state.calls(mark)
        state.rerun_record = json.loads(
            (state.project / "docs" / "captures" / "run.json").read_text()
        )
    state.docs_changed = snapshot(ROOT / "docs") != docs_before
    state.real_kubeconfig_changed = (
        real_kubeconfig.read_bytes() if real_kubeconfig.exists() else None
    ) != real_before
    return state


def test_the_demo_runs_the_whole_guide(rehearsal: Rehearsal):
    assert rehearsal.demo.status == 0, rehearsal.demo.output[-4000:]
    output = rehearsal.demo.output
    assert "Prerequisites" in output and "passed in" in output
    assert "Site built in" in output
    assert (rehearsal.project / "site" / "index.html").is_file()
    # a presenter keeps the cluster, and is told how to use it and tear it down
    assert "The cluster is still running" in output
    assert "kind delete cluster --name meshdemo" in output
    assert not any(words(c).startswith("kind delete") for c in starts(rehearsal.demo_calls))


def test_every_step_left_a_capture_in_the_copy(rehearsal: Rehearsal):
    run = rehearsal.demo_record
    statuses = {step["id"]: step["status"] for step in run["steps"]}
    assert set(statuses.values()) <= {"passed", "skipped"}, statuses
    passed = [step for step, status in statuses.items() if status == "passed"]
    assert len(passed) > 50
    for step in passed:
        assert (rehearsal.project / "docs" / "captures" / f"{step}.json").is_file()


def test_the_verification_blocks_ran_against_the_api_server(rehearsal: Rehearsal):
    run = rehearsal.demo_record
    python_steps = [s for s in run["steps"] if s["id"].startswith("verify-")]  # the guide's ids
    assert len(python_steps) == 5 and all(s["status"] == "passed" for s in python_steps)


def test_tools_are_called_in_the_right_order(rehearsal: Rehearsal):
    calls = rehearsal.demo_calls
    order = [
        "kind create cluster",
        "kubectl wait --for=condition=Ready node",
        "curl --proto =https --tlsv1.2 -sSfL https://run.linkerd.io/install-edge",
        "kubectl apply --server-side",  # Gateway API CRDs
        "linkerd check --pre",
        "linkerd install --crds",
        "linkerd install$",
        "linkerd check$",
        "linkerd viz install",
        "linkerd viz dashboard",
        "linkerd inject",
        "linkerd viz -n booksapp stat",
        "linkerd viz -n booksapp tap",
        "kubectl apply -f docs/manifests/books-routes.yaml",
        "kubectl -n booksapp annotate --overwrite",
    ]
    indexes = [first_index(calls, prefix) for prefix in order]
    assert indexes == sorted(indexes), list(zip(order, indexes, strict=True))


def test_the_backgrounded_dashboard_was_stopped(rehearsal: Rehearsal):
    calls = rehearsal.demo_calls
    [dashboard] = [c for c in starts(calls) if c["argv"][:2] == ["viz", "dashboard"]]
    stopped = [c for c in calls if c["pid"] == dashboard["pid"] and c["event"] == "signal"]
    assert stopped, "the dashboard was never signalled"
    served = [c for c in calls if c["event"] == "dashboard-request"]
    # the readiness probe reached it, and each screenshot when Chromium is here
    assert len(served) >= (6 if rehearsal.screenshots else 1)


def test_tap_was_bounded(rehearsal: Rehearsal):
    calls = rehearsal.demo_calls
    [tap] = [c for c in starts(calls) if "tap" in c["argv"]]
    assert [c["signal"] for c in calls if c["pid"] == tap["pid"] and c["event"] == "signal"]
    later = [c for c in starts(calls) if c["time"] > tap["time"]]
    assert later, "the run went on after tap"


def test_the_path_change_persisted_across_steps(rehearsal: Rehearsal):
    linkerd_bin = str(rehearsal.home / ".linkerd2" / "bin")
    linkerd_calls = [c for c in starts(rehearsal.demo_calls) if c["tool"] == "linkerd"]
    assert len(linkerd_calls) > 10
    # linkerd is nowhere else: every call found it through the PATH a step set
    assert all(linkerd_bin in c["path"].split(":") for c in linkerd_calls)
    assert all(c["home"] == str(rehearsal.home) for c in linkerd_calls)


def test_only_the_private_kubeconfig_was_used(rehearsal: Rehearsal):
    expected = str(rehearsal.kubeconfig)
    probes = {"kind version", "kubectl version --client -o json"}  # prerequisites, before the run
    for call in starts(rehearsal.demo_calls + rehearsal.rerun_calls):
        if call["tool"] in ("kind", "kubectl", "linkerd") and words(call) not in probes:
            assert call["kubeconfig"] == expected, words(call)
    used = {
        c["path"]
        for c in rehearsal.demo_calls + rehearsal.rerun_calls
        if c["event"] in ("kubeconfig", "kubeconfig-written")
    }
    assert used == {expected}
    assert not (rehearsal.home / ".kube").exists()
    assert not rehearsal.real_kubeconfig_changed


def test_a_kept_cluster_is_reused_and_reached_again(rehearsal: Rehearsal):
    failed = [
        (s["id"], s["note"])
        for s in rehearsal.rerun_record["steps"]
        if s["status"] not in ("passed", "skipped")
    ]
    assert rehearsal.rerun.status == 0, failed
    calls = starts(rehearsal.rerun_calls)
    assert not any(words(c).startswith("kind create cluster") for c in calls)
    assert any(words(c).startswith("kind export kubeconfig --name meshdemo") for c in calls)
    # `meshdemo run` tears the cluster down at the end (--cleanup on-success)
    assert words(calls[-1]).startswith("kind delete cluster --name meshdemo") or any(
        words(c).startswith("kind delete cluster") for c in calls[-5:]
    )


def test_nothing_is_left_running(rehearsal: Rehearsal):
    assert live_doubles(rehearsal.log) == []


def test_nothing_was_written_into_the_repository_docs(rehearsal: Rehearsal):
    assert not rehearsal.docs_changed


def test_screenshots_went_into_the_copy(rehearsal: Rehearsal):
    if not rehearsal.screenshots:
        pytest.skip("no Chromium here: the rehearsal marked its screenshot steps skip")
    images = sorted(p.name for p in (rehearsal.project / "docs" / "images").glob("*.png"))
    assert "dashboard-namespaces.png" in images and len(images) >= 5


def test_prerequisites_missing_start_nothing(rehearsal: Rehearsal):
    mark = rehearsal.log_length()
    result = rehearsal.meshdemo("demo", MESHDEMO_DOUBLE_DOCKER_DOWN="1")
    assert result.status == 3, result.output
    assert "Cannot connect to the Docker daemon" in result.output
    assert "Nothing was started" in result.output
    cluster_calls = [
        words(c)
        for c in starts(rehearsal.calls(mark))
        if not words(c).startswith(("docker info", "kind version", "kubectl version --client"))
    ]
    assert cluster_calls == []


def test_a_cgroup_v1_host_stops_the_demo_before_anything_starts(rehearsal: Rehearsal):
    """The pinned Kubernetes refuses cgroup v1: meshdemo demo says so instead of a cluster
    that never gets ready."""
    mark = rehearsal.log_length()
    result = rehearsal.meshdemo("demo", MESHDEMO_DOUBLE_DOCKER_CGROUP="1")
    assert result.status == 3, result.output
    assert "cgroup v1" in result.output and "systemd.unified_cgroup_hierarchy=1" in result.output
    assert not [
        c
        for c in starts(rehearsal.calls(mark))
        if c["tool"] in ("kind", "linkerd") and not words(c).startswith("kind version")
    ]


def test_a_failure_inside_a_pipe_fails_the_step_and_says_how_to_resume(rehearsal: Rehearsal):
    # `linkerd install --crds` prints its manifests, then fails: `kubectl apply` succeeds, so
    # only `set -o pipefail` (the guide's own step) makes the step fail
    # from the cluster's creation: the run before tore the cluster down
    result = rehearsal.meshdemo(
        "demo",
        "--from",
        "create-cluster",
        "--skip-prereq",
        MESHDEMO_DOUBLES_FAIL="late:linkerd install --crds",
    )
    assert result.status == 1, result.output[-3000:]
    assert "control-plane.md:" in result.output and "install-crds" in result.output
    assert "meshdemo demo --from install-crds" in result.output
    assert "meshdemo run --from" not in result.output  # one way to resume, the demo's own
    assert "The cluster is kept" in result.output
    assert "kind delete cluster --name meshdemo" in result.output
    assert live_doubles(rehearsal.log) == []


def test_the_existing_cluster_option_skips_provisioning(rehearsal: Rehearsal, tmp_path: Path):
    own = tmp_path / "own-kubeconfig"
    for command in (
        ["kind", "delete", "cluster", "--name", "meshdemo", "--kubeconfig", str(own)],
        ["kind", "create", "cluster", "--name", "meshdemo", "--kubeconfig", str(own)],
    ):
        subprocess.run(command, env=rehearsal.env, check=True, capture_output=True)
    existing = ["--kubeconfig", str(own), "--context", "kind-meshdemo"]
    # the prerequisites of an existing cluster: no Docker, no kind
    mark = rehearsal.log_length()
    checked = rehearsal.meshdemo("demo", *existing, "--check")
    assert checked.status == 0, checked.output
    assert "Docker" not in checked.output and "Ready for the demo" in checked.output
    assert not any(c["tool"] in ("docker", "kind") for c in starts(rehearsal.calls(mark)))
    # the cluster's steps, without its provisioning, through a private copy of the context
    mark = rehearsal.log_length()
    result = rehearsal.meshdemo("run", *existing, "--to", "check-pre", "--no-capture")
    assert result.status == 0, result.output[-3000:]
    calls = starts(rehearsal.calls(mark))
    assert not any(words(c).startswith(("kind create", "kind export")) for c in calls)
    assert any(words(c) == "linkerd check --pre" for c in calls)
    private = str(rehearsal.project / ".meshdemo" / "kubeconfig-existing")
    assert {c["kubeconfig"] for c in calls if c["tool"] in ("kubectl", "linkerd")} == {private}


def test_an_unnamed_context_is_refused(rehearsal: Rehearsal, tmp_path: Path):
    own = tmp_path / "config"
    own.write_text("apiVersion: v1\nkind: Config\ncontexts: []\nclusters: []\nusers: []\n")
    result = rehearsal.meshdemo("demo", "--kubeconfig", str(own))
    assert result.status == 2 and "--kubeconfig needs --context" in result.output
    assert "Prerequisites" not in result.output  # refused before anything was checked
