"""Write a command contract from a CLI's own source (or, for kubectl, its own binary).

    python -m meshdemo.guide.contracts.generate linkerd CHECKOUT --version edge-26.8.3
    python -m meshdemo.guide.contracts.generate kind CHECKOUT --version v0.33.0
    python -m meshdemo.guide.contracts.generate kubectl .venv/bin/kubectl

CHECKOUT is a copy of the CLI's repository at that version (a git checkout, or the files of
``git archive TAG``, then give ``--commit``). The contract is written into this package as
``CLI-VERSION.json``, with the version and the commit it came from. Nothing of the checkout
is copied: only command names, flag names and column names.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshdemo.guide.contracts import CONTRACTS_DIR, contract_file
from meshdemo.guide.contracts.gosource import UNKNOWN, Evaluator, GoSourceError, SourceTree
from meshdemo.guide.contracts.model import Contract, JsonOutput, Outputs, TableOutput


@dataclass(frozen=True)
class ColumnsFrom:
    """Where a table's columns are written: a function that appends header strings to a
    local slice (run with some parameters bound: which variant of the table), or one that
    lists ``table.NewColumn("NAME")`` calls. Row shapes: the ``[]string{...}`` literals of
    ``rows_function``, whose ``""`` elements are columns the row leaves empty."""

    package: str
    function: str
    local: str | None = None  # the slice of headers, when the function builds one
    bindings: dict[str, Any] = field(default_factory=dict)
    pinned: tuple[str, ...] = ()  # locals that keep their bound value through the run
    view: str = ""
    resources: tuple[str, ...] = ()  # the resource types (as the guide types them) it is for
    column_call: str | None = None  # "table.NewColumn"
    rows_function: str | None = None


@dataclass(frozen=True)
class JsonFrom:
    package: str
    struct: str


@dataclass(frozen=True)
class Preset:
    repository: str
    packages: tuple[str, ...]  # the directories to read
    root: tuple[str, str]  # package, function that returns the root command
    root_args: tuple[Any, ...] = ()
    declared_version: tuple[str, ...] = ()  # (file, const for the core, const for pre-release)
    tables: dict[str, ColumnsFrom] = field(default_factory=dict)
    json: dict[str, JsonFrom] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "linkerd": Preset(
        repository="linkerd/linkerd2",
        packages=("cli", "viz", "multicluster", "pkg"),
        root=("cli/cmd", "NewRootCmd"),
        tables={
            "linkerd viz stat": ColumnsFrom(
                package="viz/cmd",
                function="printSingleStatTable",
                local="headers",
                bindings={
                    "resourceType": "deployment",
                    "resourceTypeLabel": "",
                    "options": {"allNamespaces": False, "outputFormat": "table"},
                    "hasDstStats": False,
                    "hasTsStats": False,
                },
                pinned=("hasDstStats", "hasTsStats"),
                view="a table of deployments (stat deploy), default output",
                resources=("deploy", "deployment", "deployments"),
            ),
            "linkerd viz stat-inbound": ColumnsFrom(
                package="viz/cmd",
                function="renderStatInboundTable",
                column_call="table.NewColumn",
                rows_function="renderStatInboundTable",
            ),
            "linkerd viz stat-outbound": ColumnsFrom(
                package="viz/cmd",
                function="renderStatOutboundTable",
                column_call="table.NewColumn",
                rows_function="renderStatOutboundTable",
            ),
        },
        json={
            "linkerd viz stat": JsonFrom("viz/cmd", "jsonStats"),
            "linkerd viz stat-inbound": JsonFrom("viz/cmd", "inboundJsonRow"),
            "linkerd viz stat-outbound": JsonFrom("viz/cmd", "outboundJsonRow"),
        },
    ),
    "kind": Preset(
        repository="kubernetes-sigs/kind",
        packages=("pkg",),
        root=("pkg/cmd/kind", "NewCommand"),
        declared_version=("pkg/cmd/kind/version", "versionCore", "versionPreRelease"),
    ),
}


class GenerateError(Exception):
    pass


def git(checkout: Path, *args: str) -> str | None:
    try:
        answer = subprocess.run(
            ["git", "-C", str(checkout), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except OSError:
        return None
    return answer.stdout.strip() if answer.returncode == 0 else None


def read_source(
    cli: str,
    checkout: Path,
    version: str,
    commit: str | None,
    accept_version: str | None = None,
    preset: Preset | None = None,
) -> Contract:
    preset = preset or PRESETS[cli]
    try:
        tree = SourceTree(checkout, preset.packages)
    except GoSourceError as error:
        raise GenerateError(str(error)) from None
    source = {"repository": preset.repository}
    head = git(checkout, "rev-parse", "HEAD") if (checkout / ".git").exists() else None
    if head is not None:
        if commit and commit != head:
            raise GenerateError(f"--commit {commit}, but {checkout} is at {head}")
        commit = head
        source["describe"] = git(checkout, "describe", "--tags", "--always") or head
    if not commit or not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise GenerateError("give the full commit the checkout was made from (--commit SHA)")
    source["commit"] = commit
    notes: list[str] = []
    declared = _declared_version(tree, preset)
    if declared is not None:
        source["declares"] = declared
        if declared != version:
            if accept_version != declared:
                raise GenerateError(
                    f"the source declares version {declared}, not {version}: generate from "
                    f"the {version} release, or pass --accept-source-version {declared} to "
                    "record a contract read from that source instead"
                )
            notes.append(
                f"read from source that declares {declared}, not the {version} release "
                "itself: regenerate from the release when its source is at hand"
            )
    elif source.get("describe") not in (None, version):
        raise GenerateError(f"{checkout} is at {source['describe']}, not {version}")
    source["from"] = "cobra definitions in the Go source"

    from meshdemo.guide.contracts.cobra import read_command_tree

    commands, tree_notes = read_command_tree(tree, *preset.root, list(preset.root_args))
    outputs = read_outputs(tree, preset)
    return Contract(
        cli=cli,
        version=version,
        source=source,
        commands=commands,
        outputs=outputs,
        notes=tuple(notes + tree_notes),
    )


def _declared_version(tree: SourceTree, preset: Preset) -> str | None:
    if not preset.declared_version:
        return None
    package, core_name, pre_name = preset.declared_version
    evaluator = Evaluator(tree)
    core = evaluator._package_value(package, core_name)
    pre = evaluator._package_value(package, pre_name)
    if not isinstance(core, str):
        raise GenerateError(f"cannot read {package}.{core_name}")
    return f"v{core}" + (f"-{pre}" if isinstance(pre, str) and pre else "")


def read_outputs(tree: SourceTree, preset: Preset) -> dict[str, Outputs]:
    outputs: dict[str, Outputs] = {}
    for command, table in preset.tables.items():
        outputs.setdefault(command, Outputs()).table = _table(tree, table)
    for command, json_from in preset.json.items():
        evaluator = Evaluator(tree)
        outputs.setdefault(command, Outputs()).json = JsonOutput(
            fields=tuple(evaluator.struct_tags(json_from.package, json_from.struct, "json")),
            source=f"{json_from.package}: type {json_from.struct}",
        )
    return outputs


def _table(tree: SourceTree, spec: ColumnsFrom) -> TableOutput:
    evaluator = Evaluator(tree)
    evaluator.unknown_format_argument = ""  # "%-*s" paddings: the width is not needed
    where = f"{spec.package}: func {spec.function}"
    if spec.local is not None:
        final = evaluator.run_function(
            spec.package, spec.function, spec.bindings, pinned=spec.pinned
        )
        headers = final.get(spec.local, UNKNOWN)
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise GenerateError(f"{where}: cannot evaluate {spec.local}")
        columns = tuple(h.strip() for h in headers)
    else:
        assert spec.column_call is not None
        calls = evaluator.function_calls(spec.package, spec.function, spec.column_call)
        if not calls or not all(c and isinstance(c[0], str) for c in calls):
            raise GenerateError(f'{where}: no {spec.column_call}("NAME") calls')
        columns = tuple(c[0] for c in calls)
    shapes: list[tuple[str, ...]] = []
    if spec.rows_function is not None:
        evaluator.unknown_format_argument = None  # a cell is empty only when written ""
        for row in evaluator.slice_literals(spec.package, spec.rows_function, "string"):
            if len(row) != len(columns):
                raise GenerateError(
                    f"{where}: a row of {len(row)} cells for {len(columns)} columns"
                )
            shapes.append(tuple(c for c, cell in zip(columns, row, strict=True) if cell == ""))
    return TableOutput(
        columns=columns,
        view=spec.view,
        resources=spec.resources,
        empty_in_rows=tuple(shapes) or ((),),
        source=where,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m meshdemo.guide.contracts.generate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "cli", help=f"{', '.join(PRESETS)}, kubectl, or another cobra CLI (give --root)"
    )
    parser.add_argument(
        "source", type=Path, help="the checkout of the CLI's repository (kubectl: the binary)"
    )
    parser.add_argument("--version", help="the release the checkout is")
    parser.add_argument(
        "--commit", help="the commit the checkout was made from, when it is not a git checkout"
    )
    parser.add_argument(
        "--accept-source-version",
        metavar="VERSION",
        help="record a contract read from source that declares VERSION "
        "(a pre-release of --version); the contract says so in its notes",
    )
    parser.add_argument(
        "--root",
        metavar="PACKAGE:FUNCTION",
        help="for a CLI without a preset: the function that returns its root command",
    )
    parser.add_argument("--repository", help="for a CLI without a preset: owner/name")
    parser.add_argument("--output-dir", type=Path, default=CONTRACTS_DIR)
    args = parser.parse_args(argv)
    preset = PRESETS.get(args.cli)
    if args.cli != "kubectl" and preset is None:
        if not args.root or ":" not in args.root:
            parser.error(f"{args.cli} has no preset: give --root PACKAGE:FUNCTION")
        package, function = args.root.split(":", 1)
        preset = Preset(
            repository=args.repository or args.cli, packages=(), root=(package, function)
        )
    try:
        if args.cli == "kubectl":
            from meshdemo.guide.contracts.kubectl import read_kubectl

            contract = read_kubectl(args.source)
        else:
            if not args.version:
                parser.error("--version is required")
            contract = read_source(
                args.cli,
                args.source,
                args.version,
                args.commit,
                args.accept_source_version,
                preset,
            )
    except (GenerateError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    target = args.output_dir / contract_file(contract.cli, contract.version).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(contract.to_json(), encoding="utf-8")
    flags = sum(len(c.flags) for c in contract.commands.values())
    print(
        f"{target}: {len(contract.commands)} commands, {flags} flags, "
        f"{len(contract.outputs)} outputs, from {contract.source['commit']}"
    )
    for note in contract.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
