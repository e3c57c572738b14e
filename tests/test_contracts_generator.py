"""The command-contract generator, on a small cobra CLI written for the test
(tests/fixtures/cobra): every cobra and pflag form it must read, read right."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from meshdemo.guide.contracts import generate
from meshdemo.guide.contracts.generate import ColumnsFrom, JsonFrom, Preset, read_outputs
from meshdemo.guide.contracts.gosource import SourceTree
from meshdemo.guide.contracts.model import Contract

FIXTURE = Path(__file__).parent / "fixtures" / "cobra"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Contract:
    out = tmp_path_factory.mktemp("contracts")
    status = generate.main(
        [
            "mytool",
            str(FIXTURE),
            "--version",
            "v1.2.3",
            "--commit",
            COMMIT,
            "--root",
            "cmd:NewRootCmd",
            "--repository",
            "example/mytool",
            "--output-dir",
            str(out),
        ]
    )
    assert status == 0
    return Contract.load(out / "mytool-v1.2.3.json")


def flags(contract: Contract, command: str) -> dict[str, tuple[str | None, str, bool]]:
    return {
        name: (flag.short, flag.value, flag.persistent)
        for name, flag in contract.commands[command].flags.items()
    }


def test_the_contract_records_version_and_commit(contract: Contract):
    assert contract.version == "v1.2.3"
    assert contract.source["commit"] == COMMIT
    assert contract.source["repository"] == "example/mytool"


def test_the_command_tree_with_aliases_and_cobra_defaults(contract: Contract):
    assert sorted(contract.commands) == [
        "mytool",
        "mytool completion",  # cobra's own, since mytool has none
        "mytool completion bash",
        "mytool completion fish",
        "mytool completion powershell",
        "mytool completion zsh",
        "mytool ext",
        "mytool ext old",
        "mytool ext stat",
        "mytool greet",
        "mytool help",
        "mytool stat",
    ]
    assert contract.commands["mytool greet"].aliases == ("hello", "hi")
    assert contract.commands["mytool ext"].aliases == ("x",)
    assert not contract.commands["mytool ext"].runnable
    assert not contract.commands["mytool greet"].takes_args  # Args: cobra.NoArgs
    assert contract.commands["mytool ext stat"].runnable


def test_persistent_flags_declared_with_vars_and_constants(contract: Contract):
    root = flags(contract, "mytool")
    assert root["context"] == (None, "required", True)
    assert root["verbose"] == (None, "none", True)
    assert root["tool-namespace"] == ("L", "required", True)  # its name is a constant
    assert root["version"] == ("v", "none", False)  # cobra's, since the root has a Version
    assert root["help"] == ("h", "none", False)


def test_non_var_forms_branches_and_helpers(contract: Contract):
    greet = flags(contract, "mytool greet")
    assert greet["greeting"] == ("g", "required", False)
    assert greet["loud"] == ("l", "none", False)  # a count takes no value
    assert greet["times"] == (None, "required", False)
    assert greet["experimental"] == (None, "none", False)  # declared in a branch
    assert greet["output"] == ("o", "required", False)  # by a helper given cmd.Flags()
    assert "never-declared" not in greet  # inside RunE: never runs at start-up


def test_flag_sets_from_methods_with_their_marks(contract: Contract):
    stat = contract.commands["mytool ext stat"].flags
    assert {n: (f.short, f.value, f.type) for n, f in stat.items()} == {
        "namespace": ("n", "required", "string"),
        "time-window": ("t", "required", "string"),
        "wait": (None, "required", "duration"),
        "label": (None, "required", "stringSlice"),
        "color": (None, "optional", "string"),  # NoOptDefVal: --color alone is fine
        "no-color": (None, "none", "bool"),
        "debug-dump": (None, "required", "string"),
        "deadline": (None, "required", "duration"),  # its name passed to a helper
        "help": ("h", "none", "bool"),
    }
    assert stat["no-color"].deprecated == "use --color=never instead"
    assert stat["debug-dump"].hidden and not stat["debug-dump"].deprecated


def test_inherited_flags(contract: Contract):
    effective = contract.effective_flags(contract.commands["mytool ext stat"])
    assert {"context", "verbose", "tool-namespace", "ext-namespace", "namespace"} <= set(effective)
    assert "greeting" not in effective


def test_deprecated_commands_name_their_replacement(contract: Contract):
    wrapped = contract.commands["mytool stat"]
    assert wrapped.deprecated == "use instead 'mytool ext stat [flags] (RESOURCE)'"
    assert wrapped.replacement == "mytool ext stat"
    old = contract.commands["mytool ext old"]
    assert old.deprecated == "please use `ext stat` instead."
    assert old.replacement == "mytool ext stat"  # read with the root's name in front


def test_outputs_table_columns_row_shapes_and_json_fields():
    preset = Preset(
        repository="example/mytool",
        packages=(),
        root=("cmd", "NewRootCmd"),
        tables={
            "mytool ext stat": ColumnsFrom(
                "ext/cmd", "render", column_call="table.NewColumn", rows_function="render"
            )
        },
        json={"mytool ext stat": JsonFrom("ext/cmd", "jsonRow")},
    )
    outputs = read_outputs(SourceTree(FIXTURE), preset)["mytool ext stat"]
    assert outputs.table is not None and outputs.json is not None
    assert outputs.table.columns == ("NAME", "SUCCESS", "NOTE")
    # the first row leaves NOTE empty, the second NAME: awk's fields shift on each
    assert outputs.table.empty_in_rows == (("NOTE",), ("NAME",))
    assert outputs.table.awk_fields(0) == ("NAME", "SUCCESS")
    assert outputs.json.fields == ("name", "success", "note", "Untagged")


def test_a_git_checkout_gives_its_own_commit_and_must_be_at_the_version(tmp_path: Path):
    if shutil.which("git") is None:
        pytest.skip("no git")
    checkout = tmp_path / "mytool"
    shutil.copytree(FIXTURE, checkout)
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(tmp_path),
    }
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"], ["tag", "v1.2.3"]):
        subprocess.run(["git", "-C", str(checkout), *command], check=True, env=env)
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    out = tmp_path / "out"
    args = ["mytool", str(checkout), "--root", "cmd:NewRootCmd", "--output-dir", str(out)]
    assert generate.main([*args, "--version", "v1.2.3"]) == 0
    written = json.loads((out / "mytool-v1.2.3.json").read_text())
    assert written["source"]["commit"] == head
    assert written["source"]["describe"] == "v1.2.3"
    # the same checkout is not v1.2.4: refused, nothing written
    assert generate.main([*args, "--version", "v1.2.4"]) == 1
    assert not (out / "mytool-v1.2.4.json").exists()


def test_without_a_commit_nothing_is_written(tmp_path: Path, capsys: pytest.CaptureFixture):
    status = generate.main(
        [
            "mytool",
            str(FIXTURE),
            "--version",
            "v1",
            "--root",
            "cmd:NewRootCmd",
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert status == 1
    assert "--commit" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_source_that_declares_another_version_is_refused_unless_accepted(tmp_path: Path):
    """kind declares its version in source: a pre-release is not the release."""
    checkout = tmp_path / "tool"
    shutil.copytree(FIXTURE, checkout)
    (checkout / "cmd" / "version.go").write_text(
        'package cmd\n\nconst versionCore = "1.2.3"\n\nvar versionPreRelease = "alpha"\n'
    )
    preset = Preset(
        repository="example/mytool",
        packages=(),
        root=("cmd", "NewRootCmd"),
        declared_version=("cmd", "versionCore", "versionPreRelease"),
    )
    with pytest.raises(generate.GenerateError, match=r"declares version v1\.2\.3-alpha"):
        generate.read_source("mytool", checkout, "v1.2.3", COMMIT, preset=preset)
    accepted = generate.read_source("mytool", checkout, "v1.2.3", COMMIT, "v1.2.3-alpha", preset)
    assert accepted.source["declares"] == "v1.2.3-alpha"
    assert any("v1.2.3-alpha" in note for note in accepted.notes)


def test_the_module_runs_as_a_script(tmp_path: Path):
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "meshdemo.guide.contracts.generate",
            "mytool",
            str(FIXTURE),
            "--version",
            "v1.2.3",
            "--commit",
            COMMIT,
            "--root",
            "cmd:NewRootCmd",
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert "12 commands" in answer.stdout
