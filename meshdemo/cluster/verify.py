"""Helpers for the guide's ```python verification blocks: check what a chapter promised.

A block reads like this::

    from meshdemo.cluster.verify import pods_without_proxy, wait_for_deployments

    wait_for_deployments("booksapp")
    assert pods_without_proxy("booksapp") == []

Rules the helpers follow:

* The cluster is the one ``$KUBECONFIG`` names, and only that: a run of the guide sets it to
  the run's private kubeconfig. Never ``~/.kube/config``: a verification block must not
  wander onto whatever cluster a reader's default context points at.
* No fixed sleeps. Deployments are waited for with a watch on the API server; metrics (which
  only exist once traffic has flowed) are polled until they exist, within a deadline.
* A broken promise is an ``AssertionError`` that says what was found.
* No cluster configured (``KUBECONFIG`` unset) under pytest, e.g. ``pytest --markdown-docs``
  without a run: the block is *skipped*, so a plain test run needs no cluster. Outside
  pytest, or with ``MESHDEMO_REQUIRE_CLUSTER=1`` (CI's live job), it is an error instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PROXY = "linkerd-proxy"
DEFAULT_TIMEOUT = 240.0  # below the 300 s a step may take by default
METRICS_TIMEOUT = 180.0
METRICS_POLL = 5.0  # seconds between two `linkerd viz stat` while no traffic is measured yet


class ClusterUnavailable(RuntimeError):
    """No cluster to verify against (and not under pytest, where the block is skipped)."""


def _unavailable(reason: str) -> None:
    under_pytest = "PYTEST_CURRENT_TEST" in os.environ
    if under_pytest and os.environ.get("MESHDEMO_REQUIRE_CLUSTER") != "1":
        import pytest

        pytest.skip(f"no cluster to verify against: {reason}")
    raise ClusterUnavailable(reason)


def kubeconfig() -> str:
    """The run's kubeconfig ($KUBECONFIG), or skip/raise when there is none."""
    value = os.environ.get("KUBECONFIG", "")
    paths = [p for p in value.split(os.pathsep) if p]
    if not paths:
        _unavailable(
            "KUBECONFIG is not set (run the guide with `meshdemo run` or `pytest --meshdemo`)"
        )
    if not any(Path(p).is_file() for p in paths):
        _unavailable(f"KUBECONFIG names no existing file ({value})")
    return value


def api_client() -> Any:
    """A kubernetes ApiClient for $KUBECONFIG's current context."""
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig())


# -- deployments --------------------------------------------------------------------------------


def _rolled_out(deployment: Any) -> bool:
    """The same test as `kubectl rollout status`: the new spec observed, every replica updated,
    no old replica left, every replica available."""
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    status = deployment.status
    if status is None:
        return False
    generation = deployment.metadata.generation or 0
    return (
        (status.observed_generation or 0) >= generation
        and (status.updated_replicas or 0) == wanted
        and (status.replicas or 0) == wanted
        and (status.available_replicas or 0) == wanted
    )


def _describe(deployments: Iterable[Any]) -> str:
    parts = []
    for d in sorted(deployments, key=lambda d: d.metadata.name):
        status = d.status
        available = (status.available_replicas or 0) if status else 0
        wanted = d.spec.replicas if d.spec.replicas is not None else 1
        parts.append(f"{d.metadata.name} {available}/{wanted} available")
    return ", ".join(parts) or "no deployments"


def wait_for_deployments(namespace: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Wait until every deployment of ``namespace`` is rolled out and available (there must
    be at least one); return their names. Watches the API server: no polling, no sleep."""
    from kubernetes import client, watch

    apps = client.AppsV1Api(api_client())
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while True:
        # (Any: the client types every field optional; a server always sets metadata)
        listing: Any = apps.list_namespaced_deployment(namespace)
        state = {d.metadata.name: d for d in listing.items}
        if state and all(_rolled_out(d) for d in state.values()):
            return sorted(state)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        stream = watch.Watch()
        for event in stream.stream(
            apps.list_namespaced_deployment,
            namespace,
            resource_version=listing.metadata.resource_version,
            timeout_seconds=max(1, int(remaining)),
        ):
            deployment = event["object"]
            if event["type"] == "DELETED":
                state.pop(deployment.metadata.name, None)
            elif event["type"] in ("ADDED", "MODIFIED"):
                state[deployment.metadata.name] = deployment
            if state and all(_rolled_out(d) for d in state.values()):
                stream.stop()
                return sorted(state)
            if time.monotonic() >= deadline:
                stream.stop()
                break
        if time.monotonic() >= deadline:
            break
        # the server ended the watch early (it does, every few minutes): list again
    raise AssertionError(
        f"deployments of namespace {namespace!r} not rolled out after {timeout:g} s: "
        f"{_describe(state.values())}"
    )


# -- pods ---------------------------------------------------------------------------------------


def has_proxy(pod: Any) -> bool:
    """Linkerd's proxy is in the pod: a native sidecar (Linkerd >= 2.20: an init container
    with restartPolicy Always) or a regular container (older releases, or native sidecars
    turned off)."""
    spec = pod.spec
    if any(c.name == PROXY for c in spec.containers or []):
        return True
    return any(c.name == PROXY and c.restart_policy == "Always" for c in spec.init_containers or [])


def pods_without_proxy(namespace: str) -> list[str]:
    """Names of the live pods of ``namespace`` that have no Linkerd proxy. Pods on their way
    out (terminating, or finished) are left out: a rollout leaves some for a few seconds.
    An empty namespace is an error, not a pass: there would be nothing checked."""
    from kubernetes import client

    core = client.CoreV1Api(api_client())
    listed: list[Any] = core.list_namespaced_pod(namespace).items  # (see wait_for_deployments)
    pods = [
        pod
        for pod in listed
        if pod.metadata.deletion_timestamp is None
        and (pod.status is None or pod.status.phase not in ("Succeeded", "Failed"))
    ]
    if not pods:
        raise AssertionError(f"no running pods in namespace {namespace!r}: nothing to check")
    return sorted(pod.metadata.name for pod in pods if not has_proxy(pod))


# -- metrics ------------------------------------------------------------------------------------


def linkerd_cli() -> str:
    """The linkerd CLI: on PATH, else where the install script puts it (~/.linkerd2/bin)."""
    found = shutil.which("linkerd")
    if found:
        return found
    default = Path.home() / ".linkerd2" / "bin" / "linkerd"
    if default.is_file() and os.access(default, os.X_OK):
        return str(default)
    raise AssertionError("the linkerd CLI is not installed (not on PATH, not in ~/.linkerd2/bin)")


def stat(namespace: str, resource: str = "deploy", window: str = "1m") -> list[dict[str, Any]]:
    """`linkerd viz stat RESOURCE -n NAMESPACE -t WINDOW -o json`, parsed: one dict a row, with
    `name`, `meshed`, `success` (a fraction, None without traffic), `rps`, latencies."""
    config = kubeconfig()
    answer = subprocess.run(
        [
            linkerd_cli(),
            "viz",
            "stat",
            resource,
            "--namespace",
            namespace,
            "--time-window",
            window,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, "KUBECONFIG": config},
    )
    if answer.returncode != 0:
        raise AssertionError(
            f"linkerd viz stat failed ({answer.returncode}): "
            f"{answer.stderr.strip() or answer.stdout.strip()}"
        )
    try:
        rows = json.loads(answer.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"linkerd viz stat printed no JSON: {error}: {answer.stdout[:200]!r}"
        ) from None
    return rows if isinstance(rows, list) else []


def success_rate(
    namespace: str, deployment: str, window: str = "1m", timeout: float = METRICS_TIMEOUT
) -> float:
    """The share (0 to 1) of requests ``deployment`` answered without a server error over the
    last ``window``, as the viz extension measures it. Metrics exist only once traffic has
    flowed: until then this asks again every few seconds, up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        rows = stat(namespace, f"deploy/{deployment}", window)
        row = next((r for r in rows if r.get("name") == deployment), None)
        if row is not None and row.get("success") is not None:
            return float(row["success"])
        if time.monotonic() + METRICS_POLL > deadline:
            raise AssertionError(
                f"no traffic measured for deploy/{deployment} in namespace {namespace!r} "
                f"after {timeout:g} s (rows: {rows})"
            )
        time.sleep(METRICS_POLL)
