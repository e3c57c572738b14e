"""meshdemo check against the command contracts, on copies of the real guide with one
mistake each: exactly that mistake is reported, at its page and line, and nothing else.

The line each mutation lands on is found in the copy (the pages change; the mistakes and
what is said about them do not)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meshdemo.guide import invocations, shell
from meshdemo.guide.contracts import CONTRACTS_DIR, PINNED_BY, available, load
from meshdemo.guide.lint import command_contracts, example_tables
from meshdemo.guide.pages import load_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    """A copy of the guide: mkdocs.yml, versions.yml, the pages and the hook."""
    copy = tmp_path / "guide"
    copy.mkdir()
    for name in ("mkdocs.yml", "versions.yml"):
        shutil.copy2(ROOT / name, copy / name)
    shutil.copytree(
        ROOT / "docs", copy / "docs", ignore=shutil.ignore_patterns("captures", "images")
    )
    shutil.copytree(ROOT / "hooks", copy / "hooks")
    return copy


def mutate(guide: Path, page: str, old: str, new: str) -> int:
    """Replace ``old`` on the one line of ``page`` that contains it (or, when several do, that
    is exactly it); return that line's number."""
    path = guide / "docs" / page
    lines = path.read_text(encoding="utf-8").split("\n")
    matches = [i for i, line in enumerate(lines) if old in line]
    if len(matches) > 1:
        matches = [i for i in matches if lines[i].strip() == old.strip()]
    assert len(matches) == 1, f"{page}: {old!r} is on lines {[i + 1 for i in matches]}"
    lines[matches[0]] = lines[matches[0]].replace(old, new)
    path.write_text("\n".join(lines), encoding="utf-8")
    return matches[0] + 1


def reported(guide: Path) -> list[tuple[str, int | None, str, str | None]]:
    project = load_project(guide / "mkdocs.yml")
    return [(Path(p.path).name, p.line, p.message, p.step_id) for p in command_contracts(project)]


def test_the_guide_passes():
    assert reported(ROOT) == []


def test_an_unknown_flag(guide: Path):
    line = mutate(
        guide,
        "debug.md",
        "linkerd viz -n {{ versions.books.namespace }} stat deploy",
        "linkerd viz -n {{ versions.books.namespace }} stat deploy --time-windw 1m",
    )
    assert reported(guide) == [
        (
            "debug.md",
            line,
            "linkerd viz stat: unknown flag --time-windw (did you mean --time-window?)",
            "stat-deployments",
        ),
    ]


def test_a_misspelt_subcommand(guide: Path):
    line = mutate(guide, "fix.md", "}} stat-inbound deploy/webapp", "}} stat-inbund deploy/webapp")
    assert reported(guide) == [
        (
            "fix.md",
            line,
            "linkerd viz: unknown command stat-inbund (did you mean stat-inbound?)",
            "stat-inbound-webapp",
        ),
    ]


def test_a_flag_missing_its_value_across_a_continuation_line(guide: Path):
    # `... -t \` then `| awk ...` on the next line: -t has no value
    first = _line("fix.md", "stat-outbound deploy/webapp -t 1m \\")
    lines = (guide / "docs" / "fix.md").read_text(encoding="utf-8").split("\n")
    lines[first - 1] = lines[first - 1].replace("-t 1m \\", "-t \\")
    (guide / "docs" / "fix.md").write_text("\n".join(lines), encoding="utf-8")
    line = first
    assert reported(guide) == [
        ("fix.md", line, "linkerd viz stat-outbound: flag -t needs a value", "wait-route-metrics"),
    ]


def test_a_flag_followed_by_another_flag_has_no_value(guide: Path):
    line = mutate(
        guide,
        "mesh.md",
        "linkerd -n {{ versions.books.namespace }} check --proxy",
        "linkerd -n {{ versions.books.namespace }} check --wait --proxy",
    )
    assert reported(guide) == [
        (
            "mesh.md",
            line,
            "linkerd check: flag --wait needs a value (got the flag --proxy)",
            "check-proxy",
        ),
    ]


def test_a_deprecated_top_level_command_names_its_replacement(guide: Path):
    # the original runbook's form
    line = mutate(
        guide,
        "debug.md",
        "linkerd viz -n {{ versions.books.namespace }} stat deploy",
        "linkerd stat deployments -n {{ versions.books.namespace }}",
    )
    assert reported(guide) == [
        (
            "debug.md",
            line,
            "linkerd stat: deprecated, use linkerd viz stat instead (linkerd edge-26.8.3: "
            "\"use instead 'linkerd viz stat [flags] (RESOURCES)'\")",
            "stat-deployments",
        ),
    ]


def test_valid_flags_the_guide_does_not_use_pass(guide: Path):
    """The check knows the CLI, not the guide: flags valid upstream pass, wherever they are
    (inherited from the root, before the subcommand, grouped, with = or a space)."""
    mutate(
        guide,
        "debug.md",
        "linkerd viz -n {{ versions.books.namespace }} stat deploy",
        "linkerd --verbose viz --context kind-x -n {{ versions.books.namespace }} stat deploy "
        "--from deploy/webapp --from-namespace=booksapp -t30s --unmeshed -l app=x",
    )
    mutate(guide, "cleanup.md", "kind delete cluster --name", "kind -q delete cluster -v 1 --name")
    mutate(
        guide,
        "control-plane.md",
        "linkerd install --crds |",
        "linkerd install --crds --ignore-cluster --set a=b -f values.yaml -o yaml |",
    )
    assert reported(guide) == []


def test_skipped_steps_are_checked(guide: Path):
    line = mutate(guide, "presenters.md", "viz dashboard --port", "viz dashboard --prot")
    project = load_project(guide / "mkdocs.yml")
    step = next(s for s in project.steps if "dashboard --prot " in s.command)
    assert step.options.skip is not None
    assert reported(guide) == [
        (
            "presenters.md",
            line,
            "linkerd viz dashboard: unknown flag --prot (did you mean --port?)",
            step.id,
        ),
    ]


def test_a_binary_named_by_a_shell_variable_is_checked(guide: Path):
    page = guide / "docs" / "debug.md"
    text = page.read_text(encoding="utf-8")
    block = (
        "``` { .bash #stat-by-path }\n"
        'LINKERD="$HOME/.linkerd2/bin/linkerd"\n'
        '"$LINKERD" viz stat deploy -n booksapp --output jsn -A \\\n'
        "  --no-such\n"
        "```\n\n"
    )
    anchor = "## Success rates per deployment"
    page.write_text(text.replace(anchor, block + anchor), encoding="utf-8")
    fence = text[: text.index(anchor)].count("\n") + 1
    assert reported(guide) == [
        ("debug.md", fence + 3, "linkerd viz stat: unknown flag --no-such", "stat-by-path"),
    ]


def test_kind_and_kubectl_are_checked_too(guide: Path):
    kind_line = mutate(
        guide, "cleanup.md", "kind delete cluster --name", "kind delete clustr --name"
    )
    kubectl_line = mutate(
        guide, "cluster.md", "kubectl get nodes -o wide", "kubectl get nodes -o wide --short"
    )
    assert reported(guide) == [
        (
            "cluster.md",
            kubectl_line,
            "kubectl get: unknown flag --short (did you mean --sort-by?)",
            "get-nodes",
        ),
        (
            "cleanup.md",
            kind_line,
            "kind delete: unknown command clustr (did you mean cluster?)",
            "delete-cluster",
        ),
    ]


def test_meshdemo_check_fails_naming_page_and_line(guide: Path):
    line = mutate(
        guide,
        "debug.md",
        "linkerd viz -n {{ versions.books.namespace }} stat deploy",
        "linkerd viz -n {{ versions.books.namespace }} stat deploy --time-windw 1m",
    )
    answer = subprocess.run(
        [sys.executable, "-m", "meshdemo", "check", "-f", str(guide / "mkdocs.yml")],
        capture_output=True,
        text=True,
        check=False,
        cwd=guide,
    )
    assert answer.returncode == 1, answer.stderr
    assert (
        f"docs/debug.md:{line}: error: linkerd viz stat: unknown flag --time-windw "
        "(did you mean --time-window?) [stat-deployments]"
    ) in answer.stdout


# -- output columns -----------------------------------------------------------------------------


def with_columns(cli_command: str, columns: tuple[str, ...]) -> dict:
    """The pinned contracts, one table's columns changed: what a new release could print."""
    contracts, missing = invocations.pinned_contracts(ROOT / "versions.yml")
    assert missing == []
    linkerd = contracts["linkerd"]
    outputs = dict(linkerd.outputs)
    table = outputs[cli_command].table
    assert table is not None
    outputs[cli_command] = dataclasses.replace(
        outputs[cli_command], table=dataclasses.replace(table, columns=columns)
    )
    contracts["linkerd"] = dataclasses.replace(linkerd, outputs=outputs)
    return contracts


def column_findings(
    contracts: dict, config: Path = ROOT / "mkdocs.yml"
) -> list[tuple[str, int | None, str]]:
    """(page, line, step id) of each output finding; an example output outside any step is
    named by its page alone."""
    project = load_project(config)
    findings, _ = invocations.check_steps(project.steps, contracts, example_tables(project))
    return [
        (f.step.page, f.line, f.step.id) if f.step else (Path(str(f.path)).name, f.line, "")
        for f in findings
    ]


def _line(page: str, text: str, after: int = 0, docs: Path = ROOT / "docs") -> int:
    lines = (docs / page).read_text(encoding="utf-8").splitlines()
    return next(i + 1 for i, line in enumerate(lines) if i + 1 > after and text in line)


def document_header(guide: Path, page: str, step_id: str, header: str) -> int:
    """Give a step of the copy an expected fence holding a table's header alone, as an author
    may write it to say which columns a filter reads (the guide shows readers complete
    examples instead); return the header's line."""
    path = guide / "docs" / page
    lines = path.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if f"#{step_id} " in line)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```")
    fence = [
        "",
        f'{indent}``` {{ .text .expected title="Columns" }}',
        indent + header,
        f"{indent}```",
    ]
    lines[end + 1 : end + 1] = fence
    path.write_text("\n".join(lines), encoding="utf-8")
    return end + 4


OUTBOUND = (
    "NAME SERVICE ROUTE TYPE BACKEND SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 "
    "TIMEOUTS RETRIES"
)
STAT = "NAME MESHED SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 TCP_CONN"


def example_lines(page: str, header: str, docs: Path = ROOT / "docs") -> list[int]:
    """The lines of the guide's example outputs whose header is ``header``."""
    lines = (docs / page).read_text(encoding="utf-8").splitlines()
    wanted = " ".join(header.split())
    return [n for n, line in enumerate(lines, 1) if " ".join(line.split()) == wanted]


def test_the_guide_s_example_outputs_say_which_column_an_awk_filter_reads():
    """The real guide: its examples (from Linkerd's test data and linkerd.io) document the
    headers, so a release that moves SUCCESS fails the example and the awk filter reading it,
    with no header-only box in the pages."""
    current = load("linkerd", "edge-26.8.3").outputs["linkerd viz stat"].table
    assert current is not None
    reordered = ("NAME", "SUCCESS", "MESHED", *current.columns[3:])
    found = column_findings(with_columns("linkerd viz stat", reordered))
    examples = [("debug.md", line, "") for line in example_lines("debug.md", STAT)]
    assert len(examples) == 1
    awk = ("debug.md", _line("debug.md", "awk 'NR == 2"), "wait-books-metrics")
    assert sorted(found) == sorted([*examples, awk])


def test_the_real_guide_s_examples_match_the_pinned_release():
    contracts, missing = invocations.pinned_contracts(ROOT / "versions.yml")
    assert missing == []
    assert column_findings(contracts) == []


def test_a_new_column_order_in_stat_outbound_fails_every_step_that_relies_on_it(guide: Path):
    current = load("linkerd", "edge-26.8.3").outputs["linkerd viz stat-outbound"].table
    assert current is not None
    headers = [
        ("fix.md", document_header(guide, "fix.md", step, OUTBOUND), step)
        for step in ("stat-outbound-webapp", "stat-outbound-routes", "stat-outbound-retries")
    ]
    swapped = list(current.columns)
    success, rps = swapped.index("SUCCESS"), swapped.index("RPS")
    swapped[success], swapped[rps] = swapped[rps], swapped[success]
    found = column_findings(
        with_columns("linkerd viz stat-outbound", tuple(swapped)), guide / "mkdocs.yml"
    )
    # the awk filter that reads $5 (SUCCESS) as the rate, reported at its `awk` line; the one
    # reading only $3 (ROUTE) is fine
    docs = guide / "docs"
    awk = ("fix.md", _line("fix.md", "rate = $5", docs=docs) - 1, "wait-recovered")
    documented = {line for _, line, _ in headers}
    examples = [
        ("fix.md", line, "")
        for line in example_lines("fix.md", OUTBOUND, docs)
        if line not in documented
    ]
    assert len(examples) >= 1
    assert sorted(found) == sorted([*headers, *examples, awk])


def test_a_new_column_order_in_stat_fails_the_awk_filter_and_the_header(guide: Path):
    header = document_header(guide, "debug.md", "stat-deployments", STAT)
    current = load("linkerd", "edge-26.8.3").outputs["linkerd viz stat"].table
    assert current is not None
    reordered = ("NAME", "SUCCESS", "MESHED", *current.columns[3:])
    found = column_findings(with_columns("linkerd viz stat", reordered), guide / "mkdocs.yml")
    docs = guide / "docs"
    assert sorted(found) == sorted(
        [
            ("debug.md", header, "stat-deployments"),
            *(
                ("debug.md", line, "")
                for line in example_lines("debug.md", STAT, docs)
                if line != header
            ),
            ("debug.md", _line("debug.md", "awk 'NR == 2", docs=docs), "wait-books-metrics"),
        ]
    )


def test_the_message_of_a_moved_column_names_both_sides(guide: Path):
    document_header(guide, "debug.md", "stat-deployments", STAT)
    current = load("linkerd", "edge-26.8.3").outputs["linkerd viz stat"].table
    assert current is not None
    project = load_project(guide / "mkdocs.yml")
    findings, _ = invocations.check_steps(
        project.steps,
        with_columns("linkerd viz stat", ("NAME", "SUCCESS", "MESHED", *current.columns[3:])),
    )
    messages = sorted(f.message for f in findings)
    assert messages[0].startswith(
        "linkerd viz stat | awk: $3 is SUCCESS by the guide's header (debug.md:"
    )
    assert messages[0].endswith("but linkerd edge-26.8.3 prints MESHED there")
    assert messages[1] == (
        "linkerd viz stat: the expected header reads NAME MESHED SUCCESS RPS LATENCY_P50 "
        "LATENCY_P95 LATENCY_P99 TCP_CONN, but linkerd edge-26.8.3 prints NAME SUCCESS MESHED "
        "RPS LATENCY_P50 LATENCY_P95 LATENCY_P99 TCP_CONN"
    )


def test_the_columns_come_from_the_generated_contract():
    outputs = load("linkerd", "edge-26.8.3").outputs
    stat, outbound = outputs["linkerd viz stat"], outputs["linkerd viz stat-outbound"]
    assert stat.table and stat.table.columns[:3] == ("NAME", "MESHED", "SUCCESS")
    assert stat.json and {"name", "success"} <= set(stat.json.fields)
    assert outbound.table and outbound.table.awk_fields(0)[2:5] == ("ROUTE", "TYPE", "SUCCESS")


# -- versions and contracts ---------------------------------------------------------------------


def test_every_version_versions_yml_pins_has_its_contract():
    contracts, missing = invocations.pinned_contracts(ROOT / "versions.yml")
    assert [f.message for f in missing] == []
    assert set(contracts) == set(PINNED_BY)
    versions = yaml.safe_load((ROOT / "versions.yml").read_text())["versions"]
    assert contracts["linkerd"].version == versions["linkerd"]["edge"]
    assert contracts["kind"].version == versions["kind"]["release"]


def test_a_bumped_version_without_a_contract_fails(guide: Path):
    versions = guide / "versions.yml"
    text = versions.read_text(encoding="utf-8")
    versions.write_text(text.replace("edge: edge-26.8.3", "edge: edge-26.9.1"), encoding="utf-8")
    line = next(
        i + 1 for i, ln in enumerate(versions.read_text().splitlines()) if "edge-26.9.1" in ln
    )
    assert reported(guide) == [
        (
            "versions.yml",
            line,
            "no command contract for linkerd edge-26.9.1 (have: edge-26.8.3); generate it with "
            "python -m meshdemo.guide.contracts.generate linkerd ...",
            None,
        ),
    ]


def test_every_contract_records_where_it_came_from():
    for path in sorted(CONTRACTS_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"{data['cli']}-{data['version']}.json"
        assert len(data["source"]["commit"]) == 40, path.name
        assert data["source"]["repository"], path.name
    assert available("linkerd") == ["edge-26.8.3"]


def test_the_contracts_are_package_data():
    from importlib.resources import files

    names = {p.name for p in files("meshdemo.guide.contracts").iterdir()}
    assert {"linkerd-edge-26.8.3.json", "kind-v0.33.0.json"} <= names
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"meshdemo.guide.contracts" = ["*.json"]' in pyproject


# -- the shell parser -----------------------------------------------------------------------------


def test_commands_are_found_through_shell_syntax():
    script = shell.parse(
        "ns=booksapp\n"
        'pods=$(kubectl -n "$ns" get pods -o name) && (cd /tmp; timeout -s INT 15s \\\n'
        '  linkerd viz tap "deploy/$x")\n'
        "if kind get clusters | grep -q x; then sudo -E kind delete cluster; fi\n"
        "cat <<'EOF' | kubectl apply -f -\nlinkerd not-a-command\nEOF\n"
    )
    found = [(c.line, [w.literal for w in c.words]) for c in script.commands]
    assert found == [
        (1, ["kubectl", "-n", None, "get", "pods", "-o", "name"]),
        (1, ["cd", "/tmp"]),
        (2, ["linkerd", "viz", "tap", None]),
        (3, ["kind", "get", "clusters"]),
        (3, ["grep", "-q", "x"]),
        (3, ["kind", "delete", "cluster"]),
        (4, ["cat"]),
        (4, ["kubectl", "apply", "-f", "-"]),
    ]
    kind_get = next(c for c in script.commands if c.words[1].literal == "get" and c.name == "kind")
    assert kind_get.feeds is not None and kind_get.feeds.name == "grep"


# -- the Python verification helpers ------------------------------------------------------------


def test_the_guide_s_helpers_are_found_and_pass():
    project = load_project(ROOT / "mkdocs.yml")
    modules = invocations.helper_modules(project.steps)
    assert [m.name for m in modules] == ["verify.py"]
    contracts, _ = invocations.pinned_contracts(ROOT / "versions.yml")
    assert invocations.check_helpers(modules[0], contracts) == []


def test_a_helper_s_flags_and_json_fields_are_checked(tmp_path: Path):
    project = load_project(ROOT / "mkdocs.yml")
    source = invocations.helper_modules(project.steps)[0].read_text(encoding="utf-8")
    assert source.count('"--time-window",') == 1
    assert source.count('row["success"]') == 1
    broken = tmp_path / "verify.py"
    broken.write_text(
        source.replace('"--time-window",', '"--time-windw",').replace(
            'row["success"]', 'row["sucess"]'
        ),
        encoding="utf-8",
    )
    lines = broken.read_text(encoding="utf-8").splitlines()
    flag_line = next(i + 1 for i, ln in enumerate(lines) if '"--time-windw"' in ln)
    field_line = next(i + 1 for i, ln in enumerate(lines) if 'row["sucess"]' in ln)
    contracts, _ = invocations.pinned_contracts(ROOT / "versions.yml")
    found = [(f.line, f.message) for f in invocations.check_helpers(broken, contracts)]
    assert found == [
        (flag_line, "linkerd viz stat: unknown flag --time-windw (did you mean --time-window?)"),
        (
            field_line,
            "linkerd viz stat -o json: success_rate() reads the field 'sucess', which linkerd "
            "edge-26.8.3 does not print (did you mean success?)",
        ),
    ]
