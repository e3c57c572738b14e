"""What a laptop needs before ``meshdemo demo`` starts anything: checked, then shown as a table.

Each check answers with a :class:`Check`: ``ok``, ``warn`` (the demo can go on, but say how to
make it better) or ``fail`` (nothing is started; the row says what to install or change, for
the reader's operating system). ``meshdemo demo`` exits with :data:`EXIT_PREREQUISITES` when a
row fails.

The minimum versions come from the guide's ``versions.yml`` (next to ``mkdocs.yml``) when it has
them: ``versions.kind.release`` (kind must be at least that major.minor: the pinned node image
is built for it) and ``versions.kubernetes.minor`` (kubectl should be within one minor version
of the cluster: Kubernetes' version-skew policy). ``versions.dashboard.port`` is the port that
must be free for ``linkerd viz dashboard``. A guide without that file gets presence checks only.

Docker's host must run cgroup v2 for a cluster of Kubernetes 1.35 or later: their kubelet
refuses cgroup v1 (KEP-5573, ``failCgroupV1``), while kind only warns and the node never gets
ready. The check reads what kind reads, ``docker info``'s ``CgroupVersion``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshdemo.status import Verdict

EXIT_PREREQUISITES = 3  # distinct from 1 (a step failed) and 2 (bad input in the guide)
DOCKER_TIMEOUT = 10.0  # seconds `docker info` may take before the daemon counts as unreachable
TOOL_TIMEOUT = 10.0
MIN_CPUS = 2
MIN_MEMORY = 4 * 1024**3  # bytes: kind + Linkerd + viz + Books fit in 4 GiB
# kind's known issues ("Pod errors due to too many open files", kind issue 2586)
INOTIFY_WANTED = {"max_user_watches": 524288, "max_user_instances": 512}
INOTIFY_DIR = Path("/proc/sys/fs/inotify")
# the first Kubernetes whose kubelet refuses a cgroup v1 host by default (KEP-5573)
CGROUP_V2_FROM = (1, 35)


@dataclass(frozen=True)
class Check:
    name: str
    status: Verdict
    found: str  # what this machine has
    needed: str = ""  # what the guide needs
    hint: str = ""  # how to fix it, for this operating system

    @property
    def failed(self) -> bool:
        return self.status == Verdict.FAIL


@dataclass(frozen=True)
class Requirements:
    """What the guide pins (from versions.yml), with the defaults for a guide that pins nothing."""

    kind_min: tuple[int, int] | None = None  # e.g. (0, 33) from v0.33.0
    kind_release: str | None = None
    kubernetes_minor: tuple[int, int] | None = None  # e.g. (1, 35)
    kubernetes_version: str | None = None  # e.g. v1.35.8, for the kubectl install hint
    dashboard_port: int | None = None
    cluster_name: str | None = None
    ports: tuple[int, ...] = field(default=())

    @classmethod
    def from_versions(cls, versions_file: Path) -> Requirements:
        try:
            data = yaml.safe_load(versions_file.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            return cls()
        versions = data.get("versions", data) if isinstance(data, dict) else {}
        if not isinstance(versions, dict):
            return cls()
        kind = versions.get("kind") or {}
        kubernetes = versions.get("kubernetes") or {}
        dashboard = versions.get("dashboard") or {}
        cluster = versions.get("cluster") or {}
        release = kind.get("release") if isinstance(kind, dict) else None
        minor = kubernetes.get("minor") if isinstance(kubernetes, dict) else None
        port = dashboard.get("port") if isinstance(dashboard, dict) else None
        return cls(
            kind_min=parse_major_minor(str(release)) if release else None,
            kind_release=str(release) if release else None,
            kubernetes_minor=parse_major_minor(str(minor)) if minor else None,
            kubernetes_version=str(kubernetes.get("version"))
            if isinstance(kubernetes, dict) and kubernetes.get("version")
            else None,
            dashboard_port=int(port) if port else None,
            cluster_name=str(cluster.get("name"))
            if isinstance(cluster, dict) and cluster.get("name")
            else None,
        )


def parse_major_minor(text: str) -> tuple[int, int] | None:
    match = re.search(r"v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _os_name(system: str | None) -> str:
    return {"Darwin": "macos", "Linux": "linux"}.get(system or platform.system(), "linux")


def install_hint(tool: str, system: str | None = None, release: str | None = None) -> str:
    """How to install ``tool`` (``release``: the version to install) on Linux or macOS."""
    os_name = _os_name(system)
    kind_version = release or "v0.33.0"
    kubectl_url = (
        f"https://dl.k8s.io/release/{release}/bin/linux/"
        if release
        else "https://dl.k8s.io/release/$(curl -fLs https://dl.k8s.io/release/stable.txt)/bin/linux/"
    )
    arch = "arm64" if platform.machine() in ("arm64", "aarch64") else "amd64"
    hints = {
        ("docker", "linux"): "install Docker Engine (docs.docker.com/engine/install) or your "
        "distribution's docker.io package, then `sudo usermod -aG docker $USER` and log in again",
        ("docker", "macos"): "install Docker Desktop (docs.docker.com/desktop) or "
        "`brew install colima docker && colima start --cpu 4 --memory 8`",
        # curl -f: an HTTP error fails the download instead of saving an error page as a binary
        ("kind", "linux"): f"curl -fLo ./kind https://kind.sigs.k8s.io/dl/{kind_version}/"
        f"kind-linux-{arch} && chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind",
        # Homebrew installs the newest kind and kubectl, not the pinned ones
        ("kind", "macos"): f"curl -fLo ./kind https://kind.sigs.k8s.io/dl/{kind_version}/"
        f"kind-darwin-{arch} && chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind "
        f"(brew install kind only if it gives {kind_version})",
        ("kubectl", "linux"): f'curl -fLO "{kubectl_url}{arch}/kubectl" && '
        "sudo install kubectl /usr/local/bin/kubectl",
        ("kubectl", "macos"): f'curl -fLO "{kubectl_url.replace("linux", "darwin")}{arch}'
        '/kubectl" && sudo install kubectl /usr/local/bin/kubectl (brew install kubectl only '
        "if it is within one minor version of the cluster)",
        ("curl", "linux"): "sudo apt-get install curl (Debian/Ubuntu) or sudo dnf install curl",
        ("curl", "macos"): "curl ships with macOS; brew install curl",
    }
    return hints.get((tool, os_name), f"install {tool}")


def _run(
    argv: Sequence[str], env: Mapping[str, str] | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env or os.environ),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _which(tool: str, env: Mapping[str, str] | None) -> str | None:
    return shutil.which(tool, path=(env or os.environ).get("PATH", os.defpath))


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def check_docker(
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    timeout: float = DOCKER_TIMEOUT,
    kubernetes_minor: tuple[int, int] | None = None,
) -> list[Check]:
    """The Docker CLI, its daemon (``docker info`` within ``timeout``), its CPUs and memory,
    and its host's cgroup version (``kubernetes_minor``: the cluster's Kubernetes)."""
    if not _which("docker", env):
        return [
            Check(
                "Docker",
                Verdict.FAIL,
                "docker not found on PATH",
                "Docker Engine running",
                install_hint("docker", system),
            )
        ]
    start_hint = (
        "start Docker Desktop"
        if _os_name(system) == "macos"
        else "sudo systemctl start docker (and check you are in the docker group)"
    )
    try:
        answer = _run(["docker", "info", "--format", "{{json .}}"], env, timeout)
    except subprocess.TimeoutExpired:
        return [
            Check(
                "Docker daemon",
                Verdict.FAIL,
                f"no answer within {timeout:g} s",
                "docker info answers",
                start_hint,
            )
        ]
    info: dict[str, Any] = {}
    if answer.returncode == 0:
        try:
            info = json.loads(answer.stdout)
        except json.JSONDecodeError:
            info = {}
    errors = info.get("ServerErrors") or []
    if answer.returncode != 0 or errors or not info.get("ServerVersion"):
        reason = _first_line(answer.stderr) or "; ".join(map(str, errors)) or "no server answered"
        return [Check("Docker daemon", Verdict.FAIL, reason, "docker info answers", start_hint)]
    checks = [
        Check("Docker daemon", Verdict.OK, f"Docker {info['ServerVersion']}", "docker info answers")
    ]
    cpus, memory = int(info.get("NCPU") or 0), int(info.get("MemTotal") or 0)
    resources_hint = (
        "Docker Desktop: Settings > Resources"
        if _os_name(system) == "macos"
        else "a machine (or VM) with more CPUs and memory"
    )
    needed = f">= {MIN_CPUS} CPUs, >= {MIN_MEMORY / 1024**3:g} GiB"
    found = f"{cpus} CPUs, {memory / 1024**3:.1f} GiB"
    if cpus < MIN_CPUS or memory < MIN_MEMORY:
        checks.append(Check("Docker resources", Verdict.FAIL, found, needed, resources_hint))
    else:
        checks.append(Check("Docker resources", Verdict.OK, found, needed))
    checks.append(check_cgroup(info, kubernetes_minor, system))
    return checks


def check_cgroup(
    info: Mapping[str, Any], kubernetes_minor: tuple[int, int] | None, system: str | None = None
) -> Check:
    """cgroup v2 on Docker's host (``info``: ``docker info`` as JSON), as kind reads it: a
    failure for Kubernetes 1.35 and later, whose kubelet refuses cgroup v1; a warning before
    (kind deprecates cgroup v1)."""
    version = str(info.get("CgroupVersion") or "").strip()
    refused = kubernetes_minor is None or kubernetes_minor >= CGROUP_V2_FROM
    cluster = (
        f"Kubernetes {kubernetes_minor[0]}.{kubernetes_minor[1]}" if kubernetes_minor else "kind"
    )
    needed = f"cgroup v2 ({cluster})"
    if version == "2":
        return Check("Docker cgroup", Verdict.OK, "cgroup v2", needed)
    hint = (
        "Docker Desktop and Colima run cgroup v2 in their VM: update them"
        if _os_name(system) == "macos"
        else "boot the host with cgroup v2 (kernel parameter systemd.unified_cgroup_hierarchy=1); "
        "stat -fc %T /sys/fs/cgroup says cgroup2fs once it does"
    )
    if version == "1":
        verdict = Verdict.FAIL if refused else Verdict.WARN
        return Check("Docker cgroup", verdict, "cgroup v1", needed, hint)
    # Docker before 20.10 does not say; kind then assumes v1 and so does this check
    found = f"docker info says CgroupVersion {version!r}" if version else "not reported by Docker"
    return Check("Docker cgroup", Verdict.WARN, found, needed, hint)


def check_kind(
    requirements: Requirements, env: Mapping[str, str] | None = None, system: str | None = None
) -> Check:
    needed = (
        f">= v{requirements.kind_min[0]}.{requirements.kind_min[1]}"
        if requirements.kind_min
        else "installed"
    )
    hint = install_hint("kind", system, requirements.kind_release)
    if not _which("kind", env):
        return Check("kind", Verdict.FAIL, "not found on PATH", needed, hint)
    try:
        answer = _run(["kind", "version"], env, TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Check("kind", Verdict.FAIL, "`kind version` did not answer", needed, hint)
    text = _first_line(answer.stdout) or _first_line(answer.stderr)
    version = parse_major_minor(text)
    if answer.returncode != 0 or version is None:
        return Check("kind", Verdict.FAIL, f"cannot read `kind version`: {text!r}", needed, hint)
    if requirements.kind_min and version < requirements.kind_min:
        return Check("kind", Verdict.FAIL, text, needed, f"upgrade: {hint}")
    return Check("kind", Verdict.OK, text, needed)


def check_kubectl(
    requirements: Requirements, env: Mapping[str, str] | None = None, system: str | None = None
) -> Check:
    wanted = requirements.kubernetes_minor
    needed = (
        f"{wanted[0]}.{wanted[1] - 1} to {wanted[0]}.{wanted[1] + 1}" if wanted else "installed"
    )
    hint = install_hint("kubectl", system, requirements.kubernetes_version)
    if not _which("kubectl", env):
        return Check("kubectl", Verdict.FAIL, "not found on PATH", needed, hint)
    try:
        answer = _run(["kubectl", "version", "--client", "-o", "json"], env, TOOL_TIMEOUT)
        client = json.loads(answer.stdout).get("clientVersion") or {}
    except subprocess.TimeoutExpired:
        return Check(
            "kubectl", Verdict.FAIL, "`kubectl version --client` did not answer", needed, hint
        )
    except json.JSONDecodeError:
        client = {}
    found = str(client.get("gitVersion") or "")
    version = parse_major_minor(found)
    if version is None:
        return Check(
            "kubectl", Verdict.FAIL, "cannot read `kubectl version --client -o json`", needed, hint
        )
    if wanted and (version[0] != wanted[0] or abs(version[1] - wanted[1]) > 1):
        # The skew policy is a support promise, not a hard wall: warn, let the demo go on.
        return Check(
            "kubectl",
            Verdict.WARN,
            found,
            needed,
            f"outside Kubernetes' kubectl skew policy; install kubectl "
            f"{wanted[0]}.{wanted[1]}: {hint}",
        )
    return Check("kubectl", Verdict.OK, found, needed)


def check_tool(tool: str, env: Mapping[str, str] | None = None, system: str | None = None) -> Check:
    if _which(tool, env):
        return Check(tool, Verdict.OK, _which(tool, env) or "", "installed")
    return Check(tool, Verdict.FAIL, "not found on PATH", "installed", install_hint(tool, system))


def check_inotify(system: str | None = None, directory: Path = INOTIFY_DIR) -> Check:
    """kind's nodes run many watchers: low limits make pods fail with 'too many open files'."""
    if _os_name(system) != "linux":
        return Check("inotify limits", Verdict.OK, "not applicable (Docker runs in a VM)", "")
    needed = ", ".join(f"{k} >= {v}" for k, v in INOTIFY_WANTED.items())
    low = []
    found = []
    for key, wanted in INOTIFY_WANTED.items():
        try:
            value = int((directory / key).read_text().strip())
        except (OSError, ValueError):
            return Check("inotify limits", Verdict.WARN, f"cannot read {directory / key}", needed)
        found.append(f"{key}={value}")
        if value < wanted:
            low.append(f"fs.inotify.{key}={wanted}")
    if not low:
        return Check("inotify limits", Verdict.OK, ", ".join(found), needed)
    fix = (
        f"sudo sysctl {' '.join(low)} (to keep it: write those lines to "
        "/etc/sysctl.d/99-kind.conf); see kind's known issues, 'too many open files'"
    )
    return Check("inotify limits", Verdict.WARN, ", ".join(found), needed, fix)


def check_port(port: int, purpose: str, host: str = "127.0.0.1") -> Check:
    """A port that a step will listen on must be free before the run starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as a server would bind it: connections of an earlier run left in TIME_WAIT don't
        # count, a listener does
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return Check(
                f"port {port}",
                Verdict.FAIL,
                f"in use ({error.strerror})",
                f"free for {purpose}",
                f"find what listens: `ss -ltnp 'sport = :{port}'` (Linux) or "
                f"`lsof -i :{port}` (macOS), then stop it (an old "
                "`linkerd viz dashboard`?)",
            )
    return Check(f"port {port}", Verdict.OK, "free", f"free for {purpose}")


def check_prerequisites(
    requirements: Requirements,
    *,
    existing_cluster: bool = False,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    inotify_dir: Path = INOTIFY_DIR,
) -> list[Check]:
    """Every check, in the order a reader would fix them. An existing cluster needs no Docker,
    no kind and no inotify change: only the client tools and the free port."""
    checks: list[Check] = []
    if not existing_cluster:
        checks.extend(check_docker(env, system, kubernetes_minor=requirements.kubernetes_minor))
        checks.append(check_kind(requirements, env, system))
    checks.append(check_kubectl(requirements, env, system))
    checks.append(check_tool("curl", env, system))
    if not existing_cluster:
        checks.append(check_inotify(system, inotify_dir))
    if requirements.dashboard_port:
        checks.append(check_port(requirements.dashboard_port, "the Linkerd dashboard"))
    return checks


def print_checks(checks: Sequence[Check], console: Any = None) -> None:
    """The checks as a rich table, then how to fix each row that is not ok, one per line and
    never wrapped, so a command can be copied as it is."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title="Prerequisites", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("found", overflow="fold")
    table.add_column("needed", overflow="fold")
    styles = {
        Verdict.OK: "[green]ok[/]",
        Verdict.WARN: "[yellow]warn[/]",
        Verdict.FAIL: "[bold red]FAIL[/]",
    }
    for check in checks:
        # Text(): these are tool outputs, never rich markup
        table.add_row(check.name, styles[check.status], Text(check.found), Text(check.needed))
    console.print(table)
    for check in checks:
        if check.status != Verdict.OK and check.hint:
            label = "to fix" if check.failed else "advice"
            console.print(Text(f"{check.name} ({label}): {check.hint}"), soft_wrap=True)
