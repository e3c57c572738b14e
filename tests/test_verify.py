"""meshdemo.cluster.verify against a small fake Kubernetes API server (an http.server on 127.0.0.1
serving canned JSON for the few endpoints the helpers use, watch streams included), with a
real kubeconfig pointing at it and the real kubernetes client; metrics through the linkerd
test double (tests/doubles)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meshdemo.cluster import verify

sys.path.insert(0, str(Path(__file__).parent / "doubles"))
from fake_kube import FakeKube, deployment, kubeconfig_for, meshed_books_cluster, pod, serve

ROOT = Path(__file__).resolve().parents[1]
DOUBLES = ROOT / "tests" / "doubles"


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    state = FakeKube()
    with serve(state) as url:
        config = tmp_path / "kubeconfig"
        config.write_text(json.dumps(kubeconfig_for(url)))
        monkeypatch.setenv("KUBECONFIG", str(config))
        yield state


# -- deployments --------------------------------------------------------------------------------


def test_rolled_out_deployments_return_at_once(kube: FakeKube):
    kube.deployments["linkerd"] = [
        deployment("linkerd-destination", 1, 1),
        deployment("linkerd-identity", 1, 1),
    ]
    assert verify.wait_for_deployments("linkerd", timeout=10) == [
        "linkerd-destination",
        "linkerd-identity",
    ]
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
def fake_books() -> FakeKube:
    return meshed_books_cluster()


@pytest.fixture
def meshed_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_books: FakeKube):
    """A simulated cluster with Linkerd and viz, made by running the guide's own commands
    against the doubles (linkerd installed in ~/.linkerd2/bin only, not on PATH); its API
    server is the fake one, serving what the guide promises once Books is meshed."""
    home = tmp_path / "home"
    home.mkdir()
    with serve(fake_books) as url:
        yield from _meshed(tmp_path, monkeypatch, home, url)


def _meshed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path, url: str):
    env = {
        "MESHDEMO_DOUBLES_API_SERVER": url,
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
    yield home


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
    code = "import sys, meshdemo.cluster.verify; print('kubernetes' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}
    )
    assert out.stdout.strip() == "False"


def guide_python_blocks() -> list:
    from meshdemo.guide.pages import load_project
    from meshdemo.model import Kind

    return [s for s in load_project(ROOT / "mkdocs.yml").steps if s.kind == Kind.PYTHON]


def run_block(code: str) -> subprocess.CompletedProcess[str]:
    # as the engine runs a python step: the run's Python, a file of its own, the run's env
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )


def test_the_guide_has_verification_blocks_in_the_right_chapters():
    pages = [step.page for step in guide_python_blocks()]
    assert {"control-plane.md", "viz.md", "mesh.md", "debug.md", "fix.md"} <= set(pages)


def test_the_guides_python_blocks_pass_on_a_meshed_cluster(meshed_cluster: Path):
    # the state after the whole guide: retries annotated on books-create
    subprocess.run(
        [
            "kubectl",
            "-n",
            "booksapp",
            "annotate",
            "--overwrite",
            "httproutes.gateway.networking.k8s.io/books-create",
            "retry.linkerd.io/http=5xx",
        ],
        check=True,
        capture_output=True,
    )
    for step in guide_python_blocks():
        answer = run_block(step.command)
        assert answer.returncode == 0, f"{step.location}: {answer.stderr}"


def test_the_mesh_block_fails_when_a_pod_has_no_proxy(meshed_cluster: Path, fake_books):
    fake_books.pods["booksapp"].append(pod("webapp-5d8f7c9b4-unmeshed"))
    [block] = [s for s in guide_python_blocks() if s.page == "mesh.md"]
    answer = run_block(block.command)
    assert answer.returncode == 1
    assert "pods without a proxy: ['webapp-5d8f7c9b4-unmeshed']" in answer.stderr


def test_the_debug_block_fails_when_nothing_fails(meshed_cluster: Path, monkeypatch):
    [block] = [s for s in guide_python_blocks() if s.page == "debug.md"]
    monkeypatch.setenv("MESHDEMO_DOUBLE_SUCCESS", "1.0")
    answer = run_block(block.command)
    assert answer.returncode == 1 and "authors: 100% success" in answer.stderr


def test_the_fix_block_fails_when_retries_change_nothing(meshed_cluster: Path):
    [block] = [s for s in guide_python_blocks() if s.page == "fix.md"]
    answer = run_block(block.command)  # no retry annotation: the same rate over 1 and 10 min
    assert answer.returncode == 1 and "webapp: 74% in the last minute" in answer.stderr


def test_markdown_docs_collects_the_blocks_and_skips_them_without_a_cluster(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "MESHDEMO_REQUIRE_CLUSTER", "PYTEST_CURRENT_TEST")
    }
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--markdown-docs",
            "--markdown-docs-syntax=superfences",
            "docs/",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            f"--junit-xml={tmp_path / 'junit.xml'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    count = len(guide_python_blocks())
    assert f"{count} skipped" in answer.stdout
    assert "KUBECONFIG is not set" in answer.stdout
