"""A small fake Kubernetes API server for tests: an http.server on 127.0.0.1 serving canned
JSON for the few endpoints meshdemo.cluster.verify uses (deployments, with watch streams, and pods).

NOT Kubernetes: just enough of its HTTP API for the real kubernetes client to list, watch and
deserialize. Used by tests/test_verify.py and by the rehearsal, whose kind double writes this
server's address into the kubeconfig (MESHDEMO_DOUBLES_API_SERVER).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def deployment(
    name: str,
    wanted: int,
    available: int,
    *,
    replicas: int | None = None,
    updated: int | None = None,
    generation: int = 1,
    observed: int = 1,
) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "generation": generation,
            "resourceVersion": "10",
        },
        "spec": {
            "replicas": wanted,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "x"}]},
            },
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
        "spec": {
            "containers": [{"name": c, "image": "x"} for c in containers],
            "initContainers": init_containers,
        },
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
                return self.send_json(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DeploymentList",
                        "metadata": {"resourceVersion": "10"},
                        "items": kube.deployments.get(namespace, []),
                    }
                )
            if url.path.startswith("/api/v1/namespaces/") and parts[-1] == "pods":
                return self.send_json(
                    {
                        "apiVersion": "v1",
                        "kind": "PodList",
                        "metadata": {"resourceVersion": "10"},
                        "items": kube.pods.get(parts[3], []),
                    }
                )
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


@contextlib.contextmanager
def serve(kube: FakeKube) -> Iterator[str]:
    """Serve ``kube`` on 127.0.0.1 (a free port); yields the server's URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(kube))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig_for(url: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake", "user": {"token": "t"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
    }


def meshed_books_cluster() -> FakeKube:
    """What the guide promises once Books is meshed: the control plane, viz and Books rolled
    out, every Books pod with Linkerd's proxy as a native sidecar."""
    kube = FakeKube()
    kube.deployments["linkerd"] = [
        deployment(n, 1, 1)
        for n in ("linkerd-destination", "linkerd-identity", "linkerd-proxy-injector")
    ]
    kube.deployments["linkerd-viz"] = [
        deployment(n, 1, 1) for n in ("metrics-api", "prometheus", "tap", "tap-injector", "web")
    ]
    kube.deployments["booksapp"] = [deployment("webapp", 3, 3)] + [
        deployment(n, 1, 1) for n in ("authors", "books", "traffic")
    ]
    sidecar = [("linkerd-init", None), ("linkerd-proxy", "Always")]
    kube.pods["booksapp"] = [
        pod(f"{n}-5d8f7c9b4-{i}", init=sidecar)
        for n, count in (("webapp", 3), ("authors", 1), ("books", 1), ("traffic", 1))
        for i in range(count)
    ]
    return kube
