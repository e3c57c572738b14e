"""The prerequisite checks of ``meshdemo demo``, run for real against the test doubles of
docker/kind/kubectl/curl (tests/doubles), the real Docker CLI where one is installed, real
sockets and inotify-like files."""

from __future__ import annotations

import io
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
from rich.console import Console

from meshdemo.cluster import prerequisites as prereq
from meshdemo.cluster.prerequisites import Requirements
from meshdemo.status import Verdict

ROOT = Path(__file__).resolve().parents[1]
DOUBLES = ROOT / "tests" / "doubles" / "bin"
PINNED = Requirements.from_versions(ROOT / "versions.yml")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tool_dir(tmp_path: Path, *tools: str) -> Path:
    """A PATH folder holding only the named doubles (so the others are missing)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for tool in tools:
        wrapper = folder / tool
        module = DOUBLES.parent / "cluster_tools.py"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{module}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    return folder


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{DOUBLES}:/usr/bin:/bin",
        "MESHDEMO_DOUBLES_PYTHON": sys.executable,
        "MESHDEMO_DOUBLES_STATE": str(tmp_path / "state"),
        "MESHDEMO_DOUBLES_LOG": str(tmp_path / "calls.jsonl"),
    }


@pytest.fixture
def roomy_inotify(tmp_path: Path) -> Path:
    folder = tmp_path / "inotify"
    folder.mkdir()
    (folder / "max_user_watches").write_text("524288\n")
    (folder / "max_user_instances").write_text("8192\n")
    return folder


def by_name(checks: list[prereq.Check]) -> dict[str, prereq.Check]:
    return {check.name: check for check in checks}


def test_versions_file_gives_the_pinned_minimums():
    assert PINNED.kind_min is not None and PINNED.kind_release
    assert PINNED.kind_min == prereq.parse_major_minor(PINNED.kind_release)
    assert PINNED.kubernetes_minor is not None
    assert PINNED.dashboard_port == 50750


def test_a_guide_without_versions_file_gets_presence_checks_only(tmp_path: Path):
    assert Requirements.from_versions(tmp_path / "versions.yml") == Requirements()


def test_everything_present_is_all_ok(env, roomy_inotify):
    requirements = Requirements(
        kind_min=PINNED.kind_min,
        kubernetes_minor=PINNED.kubernetes_minor,
        dashboard_port=free_port(),
    )
    checks = prereq.check_prerequisites(
        requirements, env=env, system="Linux", inotify_dir=roomy_inotify
    )
    assert [c.name for c in checks] == [
        "Docker daemon",
        "Docker resources",
        "Docker cgroup",
        "kind",
        "kubectl",
        "curl",
        "inotify limits",
        f"port {requirements.dashboard_port}",
    ]
    assert {c.name: c.status for c in checks if c.status != Verdict.OK} == {}
    assert "kind v0.33" in by_name(checks)["kind"].found


def test_missing_kind_fails_with_an_install_hint_per_os(tmp_path, env):
    env["PATH"] = str(tool_dir(tmp_path, "docker", "kubectl", "curl"))
    linux = prereq.check_kind(PINNED, env, system="Linux")
    macos = prereq.check_kind(PINNED, env, system="Darwin")
    assert linux.status == macos.status == Verdict.FAIL
    assert linux.found == "not found on PATH"
    assert f"kind.sigs.k8s.io/dl/{PINNED.kind_release}/kind-linux-" in linux.hint
    # the pinned release, downloaded with curl -f; Homebrew's newest only if it matches
    assert f"curl -fLo ./kind https://kind.sigs.k8s.io/dl/{PINNED.kind_release}/kind-darwin-" in (
        macos.hint
    )
    assert f"brew install kind only if it gives {PINNED.kind_release}" in macos.hint
    assert linux.hint.startswith("curl -fLo ./kind ")


def test_kind_older_than_the_pinned_release_fails(env):
    env["MESHDEMO_DOUBLE_KIND_VERSION"] = "v0.20.0"
    check = prereq.check_kind(PINNED, env, system="Linux")
    assert check.status == Verdict.FAIL
    assert "v0.20.0" in check.found and check.hint.startswith("upgrade")


def test_kind_newer_than_the_pinned_release_is_fine(env):
    env["MESHDEMO_DOUBLE_KIND_VERSION"] = "v1.2.0"
    assert prereq.check_kind(PINNED, env).status == Verdict.OK


@pytest.mark.parametrize(
    ("version", "status"),
    [
        ("v1.34.2", Verdict.OK),
        ("v1.36.0", Verdict.OK),
        ("v1.37.1", Verdict.WARN),
        ("v1.30.0", Verdict.WARN),
    ],
)
def test_kubectl_within_one_minor_of_the_cluster(env, version, status):
    env["MESHDEMO_DOUBLE_KUBECTL_VERSION"] = version
    check = prereq.check_kubectl(Requirements(kubernetes_minor=(1, 35)), env, system="Linux")
    assert (check.status, check.found) == (status, version)
    if status == Verdict.WARN:
        assert "skew" in check.hint


def test_missing_kubectl_fails(tmp_path, env):
    env["PATH"] = str(tool_dir(tmp_path, "docker", "kind"))
    check = prereq.check_kubectl(PINNED, env, system="Linux")
    assert check.status == Verdict.FAIL and "dl.k8s.io" in check.hint


def test_docker_cli_missing(tmp_path, env):
    env["PATH"] = str(tool_dir(tmp_path, "kind"))
    [check] = prereq.check_docker(env, system="Darwin")
    assert check.status == Verdict.FAIL and "Docker Desktop" in check.hint


def test_docker_daemon_down_fails_and_says_how_to_start_it(env):
    env["MESHDEMO_DOUBLE_DOCKER_DOWN"] = "1"
    [check] = prereq.check_docker(env, system="Linux")
    assert check.status == Verdict.FAIL
    assert "Cannot connect to the Docker daemon" in check.found
    assert "systemctl start docker" in check.hint


@pytest.mark.skipif(shutil.which("docker") is None, reason="no Docker CLI on this machine")
def test_real_docker_cli_without_a_reachable_daemon_fails():
    # On this machine the Docker CLI is installed but no daemon runs: the real answer.
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    [check] = prereq.check_docker(env, system="Linux")
    assert check.status == Verdict.FAIL
    assert check.name == "Docker daemon" and check.found


def test_a_hanging_docker_counts_as_unreachable(tmp_path, env):
    folder = tmp_path / "hang"
    folder.mkdir()
    script = folder / "docker"
    script.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    script.chmod(0o755)
    env["PATH"] = str(folder)
    [check] = prereq.check_docker(env, system="Linux", timeout=0.5)
    assert check.status == Verdict.FAIL and "no answer within 0.5 s" in check.found


def test_small_docker_fails_on_resources(env):
    env["MESHDEMO_DOUBLE_DOCKER_CPUS"] = "1"
    env["MESHDEMO_DOUBLE_DOCKER_MEMORY"] = str(2 * 1024**3)
    checks = by_name(prereq.check_docker(env, system="Darwin"))
    assert checks["Docker daemon"].status == Verdict.OK
    resources = checks["Docker resources"]
    assert resources.status == Verdict.FAIL
    assert resources.found == "1 CPUs, 2.0 GiB" and "Resources" in resources.hint


def test_a_cgroup_v1_host_fails_for_the_pinned_kubernetes(env):
    """Kubernetes 1.35's kubelet refuses cgroup v1, while kind would only warn."""
    assert PINNED.kubernetes_minor is not None and PINNED.kubernetes_minor >= (1, 35)
    env["MESHDEMO_DOUBLE_DOCKER_CGROUP"] = "1"
    checks = by_name(prereq.check_docker(env, "Linux", kubernetes_minor=PINNED.kubernetes_minor))
    cgroup = checks["Docker cgroup"]
    assert cgroup.status == Verdict.FAIL and cgroup.found == "cgroup v1"
    assert cgroup.needed == f"cgroup v2 (Kubernetes {PINNED.kubernetes_minor[0]}.35)"
    assert "systemd.unified_cgroup_hierarchy=1" in cgroup.hint
    assert "stat -fc %T /sys/fs/cgroup" in cgroup.hint


def test_a_cgroup_v1_host_only_warns_for_a_kubernetes_before_1_35(env):
    env["MESHDEMO_DOUBLE_DOCKER_CGROUP"] = "1"
    checks = by_name(prereq.check_docker(env, "Darwin", kubernetes_minor=(1, 34)))
    assert checks["Docker cgroup"].status == Verdict.WARN
    assert "Docker Desktop" in checks["Docker cgroup"].hint


def test_a_docker_that_does_not_say_its_cgroup_version_warns(env):
    env["MESHDEMO_DOUBLE_DOCKER_CGROUP"] = ""
    checks = by_name(prereq.check_docker(env, "Linux", kubernetes_minor=(1, 35)))
    assert checks["Docker cgroup"].status == Verdict.WARN
    assert checks["Docker cgroup"].found == "not reported by Docker"


def test_a_cgroup_v1_host_is_the_only_failure_of_an_otherwise_ready_machine(env, roomy_inotify):
    env["MESHDEMO_DOUBLE_DOCKER_CGROUP"] = "1"
    requirements = Requirements(
        kind_min=PINNED.kind_min,
        kubernetes_minor=PINNED.kubernetes_minor,
        dashboard_port=free_port(),
    )
    checks = prereq.check_prerequisites(
        requirements, env=env, system="Linux", inotify_dir=roomy_inotify
    )
    assert [c.name for c in checks if c.failed] == ["Docker cgroup"]


def test_low_inotify_limits_warn_with_the_sysctl_fix(tmp_path):
    folder = tmp_path / "inotify"
    folder.mkdir()
    (folder / "max_user_watches").write_text("8192\n")
    (folder / "max_user_instances").write_text("128\n")
    check = prereq.check_inotify("Linux", folder)
    assert check.status == Verdict.WARN
    assert "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512" in (
        check.hint
    )


def test_inotify_is_not_a_macos_concern(tmp_path):
    assert prereq.check_inotify("Darwin", tmp_path / "absent").status == Verdict.OK


def test_this_machines_inotify_limits_are_read():
    check = prereq.check_inotify("Linux")
    assert check.status in (Verdict.OK, Verdict.WARN)
    assert "max_user_watches=" in check.found


def test_a_busy_dashboard_port_fails():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = prereq.check_port(port, "the Linkerd dashboard")
    assert check.status == Verdict.FAIL and f":{port}" in check.hint
    assert prereq.check_port(port, "the Linkerd dashboard").status == Verdict.OK


def test_an_existing_cluster_needs_no_docker_nor_kind(tmp_path, env):
    env["PATH"] = str(tool_dir(tmp_path, "kubectl", "curl"))
    checks = prereq.check_prerequisites(
        Requirements(kubernetes_minor=(1, 35)), existing_cluster=True, env=env, system="Linux"
    )
    assert [c.name for c in checks] == ["kubectl", "curl"]
    assert all(c.status == Verdict.OK for c in checks)


def test_print_checks_shows_a_table_and_unwrapped_fixes(tmp_path, env):
    env["PATH"] = str(tool_dir(tmp_path, "docker", "kubectl", "curl"))
    checks = prereq.check_prerequisites(
        PINNED, env=env, system="Linux", inotify_dir=tmp_path / "none"
    )
    out = io.StringIO()
    prereq.print_checks(checks, Console(file=out, width=80, color_system=None))
    text = out.getvalue()
    assert "Prerequisites" in text and "not found on PATH" in text
    kind_row = next(line for line in text.splitlines() if line.startswith("│ kind "))
    assert kind_row.split("│")[2].strip() == "FAIL"  # the word the demo's message names
    assert "Verdict" not in text
    kind_hint = by_name(checks)["kind"].hint
    assert f"kind (to fix): {kind_hint}" in text.splitlines()  # one line, copyable
