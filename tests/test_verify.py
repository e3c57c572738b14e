"""meshdemo.verify against a small fake Kubernetes API server (an http.server on 127.0.0.1
serving canned JSON for the few endpoints the helpers use, watch streams included), with a
real kubeconfig pointing at it and the real kubernetes client; metrics through the linkerd
test double (tests/doubles)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from meshdemo import verify

ROOT = Path(__file__).resolve().parents[1]
DOUBLES = ROOT / "tests" / "doubles"


# -- the fake API server ------------------------------------------------------------------------


def deployment(name: str, wanted: int, available: int, *, replicas: int | None = None,
               updated: int | None = None, generation: int = 1, observed: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", "generation": generation,
                     "resourceVersion": "10"},
        "spec": {
            "replicas": wanted,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": name, "image": "x"}]}},
        },
        "status": {
            "observedGeneration": observed,
            "replicas": wanted if replicas is None else replicas,
            "updatedReplicas": wanted if updated is None else updated,
            "availableReplicas": available,
        },
    }


def pod(name: str, *, containers=("app",), init=(), terminating=False, phase="Running") -> dict:
    init_containers = []
    for spec in init:
        entry = {"name": spec[0], "image": "x"}
        if spec[1]:
            entry["restartPolicy"] = spec[1]
        init_containers.append(entry)
    metadata = {"name": name, "namespace": "ns"}
    if terminating:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": c, "image": "x"} for c in containers],
                 "initContainers": init_containers},
        "status": {"phase": phase},
    }


class FakeKube:
    """The canned state: lists per namespace, and watch events to stream after a list."""

    def __init__(self) -> None:
        self.deployments: dict[str, list[dict]] = {}
        self.pods: dict[str, list[dict]] = {}
        self.watch_events: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, dict]] = []


def make_handler(kube: FakeKube):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            kube.requests.append((url.path, query))
            parts = url.path.strip("/").split("/")
            if url.path.startswith("/apis/apps/v1/namespaces/") and parts[-1] == "deployments":
                namespace = parts[4]
                if query.get("watch") in ("true", "True", "1"):
                    return self.stream(namespace, float(query.get("timeoutSeconds", "5")))
                return self.send_json({"apiVersion": "apps/v1", "kind": "DeploymentList",
                                       "metadata": {"resourceVersion": "10"},
                                       "items": kube.deployments.get(namespace, [])})
            if url.path.startswith("/api/v1/namespaces/") and parts[-1] == "pods":
                return self.send_json({"apiVersion": "v1", "kind": "PodList",
                                       "metadata": {"resourceVersion": "10"},
                                       "items": kube.pods.get(parts[3], [])})
            return self.send_json({"kind": "Status", "code": 404, "message": "not found"}, 404)

        def send_json(self, data: dict, code: int = 200) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def stream(self, namespace: str, timeout: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = kube.watch_events.pop(namespace, [])
            for event in events:
                line = (json.dumps(event) + "\n").encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            if not events:
                # like the real server: hold the watch open until its timeout (bounded here)
                time.sleep(min(timeout, 2.0))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    state = FakeKube()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake",
                      "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "fake", "user": {"token": "t"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(config))
    yield state
    server.shutdown()
    server.server_close()


# -- deployments --------------------------------------------------------------------------------


def test_rolled_out_deployments_return_at_once(kube: FakeKube):
    kube.deployments["linkerd"] = [deployment("linkerd-destination", 1, 1),
                                   deployment("linkerd-identity", 1, 1)]
    assert verify.wait_for_deployments("linkerd", timeout=10) == [
        "linkerd-destination", "linkerd-identity"]
    assert [path for path, _ in kube.requests] == ["/apis/apps/v1/namespaces/linkerd/deployments"]


def test_waits_on_a_watch_until_every_replica_is_available(kube: FakeKube):
    kube.deployments["booksapp"] = [deployment("webapp", 3, 1), deployment("books", 1, 1)]
    kube.watch_events["booksapp"] = [
        {"type": "MODIFIED", "object": deployment("webapp", 3, 2)},
        {"type": "MODIFIED", "object": deployment("webapp", 3, 3)},
    ]
    assert verify.wait_for_deployments("booksapp", timeout=30) == ["books", "webapp"]
    watch_path, watch_query = kube.requests[1]
    assert watch_path == "/apis/apps/v1/namespaces/booksapp/deployments"
    assert watch_query["watch"] in ("true", "True") and watch_query["resourceVersion"] == "10"


@pytest.mark.parametrize(
    "unfinished",
    [
        deployment("webapp", 3, 3, replicas=4),  # an old replica still there
        deployment("webapp", 3, 3, updated=2),  # not every replica updated
        deployment("webapp", 3, 3, generation=2, observed=1),  # new spec not yet observed
    ],
    ids=["old-replica", "not-updated", "not-observed"],
)
def test_a_rollout_in_progress_is_not_done(kube: FakeKube, unfinished: dict):
    kube.deployments["booksapp"] = [unfinished]
    kube.watch_events["booksapp"] = [{"type": "MODIFIED", "object": deployment("webapp", 3, 3)}]
    assert verify.wait_for_deployments("booksapp", timeout=30) == ["webapp"]
    assert len(kube.requests) == 2  # the list, then the watch that saw it finish


def test_a_deleted_laggard_no_longer_counts(kube: FakeKube):
    kube.deployments["ns"] = [deployment("ok", 1, 1), deployment("gone", 1, 0)]
    kube.watch_events["ns"] = [{"type": "DELETED", "object": deployment("gone", 1, 0)}]
    assert verify.wait_for_deployments("ns", timeout=30) == ["ok"]


def test_timeout_says_which_deployment_is_not_ready(kube: FakeKube):
    kube.deployments["booksapp"] = [deployment("webapp", 3, 1), deployment("books", 1, 1)]
    with pytest.raises(AssertionError) as failure:
        verify.wait_for_deployments("booksapp", timeout=1)
    assert "books 1/1 available, webapp 1/3 available" in str(failure.value)


def test_an_empty_namespace_is_not_a_pass(kube: FakeKube):
    with pytest.raises(AssertionError, match="no deployments"):
        verify.wait_for_deployments("empty", timeout=1)


# -- pods ---------------------------------------------------------------------------------------


def test_native_sidecars_and_regular_proxies_both_count(kube: FakeKube):
    kube.pods["booksapp"] = [
        pod("native", init=[("linkerd-init", None), ("linkerd-proxy", "Always")]),
        pod("classic", containers=("linkerd-proxy", "app"), init=[("linkerd-init", None)]),
        pod("plain"),
        pod("init-only", init=[("linkerd-proxy", None)]),  # not a sidecar: exits before the app
        pod("leaving", terminating=True),
        pod("finished", phase="Succeeded"),
    ]
    assert verify.pods_without_proxy("booksapp") == ["init-only", "plain"]


def test_no_pods_is_not_a_pass(kube: FakeKube):
    kube.pods["booksapp"] = [pod("leaving", terminating=True)]
    with pytest.raises(AssertionError, match="no running pods"):
        verify.pods_without_proxy("booksapp")


# -- no cluster ---------------------------------------------------------------------------------


def test_without_kubeconfig_a_block_is_skipped_under_pytest(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("MESHDEMO_REQUIRE_CLUSTER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="KUBECONFIG is not set"):
        verify.wait_for_deployments("linkerd")


def test_without_kubeconfig_ci_fails_instead(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("MESHDEMO_REQUIRE_CLUSTER", "1")
    with pytest.raises(verify.ClusterUnavailable):
        verify.pods_without_proxy("booksapp")


def test_outside_pytest_no_cluster_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with pytest.raises(verify.ClusterUnavailable, match="names no existing file"):
        verify.kubeconfig()


def test_the_default_kubeconfig_is_never_used(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(pytest.skip.Exception):
        verify.kubeconfig()


# -- metrics, through the linkerd double --------------------------------------------------------


@pytest.fixture
def meshed_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A simulated cluster with Linkerd and viz, made by running the guide's own commands
    against the doubles; linkerd installed in ~/.linkerd2/bin only (not on PATH)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{DOUBLES / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "MESHDEMO_DOUBLES_PYTHON": sys.executable,
        "MESHDEMO_DOUBLES_STATE": str(tmp_path / "state"),
    }
    script = """
set -euo pipefail
kind create cluster --name meshdemo 2>/dev/null
curl -sSfL https://run.linkerd.io/install-edge | sh >/dev/null
export PATH="$HOME/.linkerd2/bin:$PATH"
kubectl apply --server-side -f https://example.test/gateway-api/standard-install.yaml >/dev/null
linkerd install --crds | kubectl apply -f - >/dev/null
linkerd install | kubectl apply -f - >/dev/null
linkerd viz install | kubectl apply -f - >/dev/null
"""
    subprocess.run(["bash", "-c", script], env=env, check=True)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return home


def test_success_rate_reads_viz_stat_json(meshed_cluster: Path):
    assert verify.linkerd_cli() == str(meshed_cluster / ".linkerd2" / "bin" / "linkerd")
    assert verify.success_rate("booksapp", "authors") == pytest.approx(0.52)
    assert verify.success_rate("booksapp", "webapp") < 1.0


def test_a_deployment_without_traffic_times_out_with_the_rows(meshed_cluster: Path):
    with pytest.raises(AssertionError, match="no traffic measured for deploy/traffic"):
        verify.success_rate("booksapp", "traffic", timeout=0)


def test_viz_stat_failing_is_reported(meshed_cluster: Path, monkeypatch):
    monkeypatch.setenv("MESHDEMO_DOUBLES_FAIL", "linkerd viz stat")
    with pytest.raises(AssertionError, match="linkerd viz stat failed"):
        verify.success_rate("booksapp", "webapp")


def test_no_linkerd_cli_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AssertionError, match="linkerd CLI is not installed"):
        verify.linkerd_cli()


def test_helpers_import_no_kubernetes_until_called():
    code = "import sys, meshdemo.verify; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ})
    assert out.stdout.strip() == "False"
