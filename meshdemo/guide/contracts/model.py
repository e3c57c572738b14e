"""A command contract: what one release of a CLI accepts, as data.

The command tree (names, aliases, deprecated commands and their replacement), each command's
flags (long and short names, whether they take a value, which are persistent and so inherited
by subcommands), and the output columns the guide relies on. Written by the generator from the
CLI's own source, read by ``meshdemo check``; JSON, so a diff between two releases reads well.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA = 1
# How a flag takes its value: "none" (a bool or a count: --flag, or --flag=false), "required"
# (--flag VALUE or --flag=VALUE), "optional" (pflag's NoOptDefVal: --flag alone, or --flag=VALUE;
# never the next word)
ValueKind = Literal["none", "required", "optional"]


@dataclass(frozen=True)
class Flag:
    name: str
    short: str | None = None
    type: str = "string"
    value: ValueKind = "required"
    persistent: bool = False  # inherited by every subcommand
    hidden: bool = False
    deprecated: str | None = None

    @property
    def spelling(self) -> str:
        return f"-{self.short}/--{self.name}" if self.short else f"--{self.name}"


@dataclass
class Command:
    path: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    deprecated: str | None = None  # cobra's message, as the CLI prints it
    replacement: str | None = None  # the command the message names, when it names one
    hidden: bool = False
    runnable: bool = True  # has a Run: a non-runnable command only groups subcommands
    flag_parsing: bool = True  # False: every word after the command goes to it untouched
    takes_args: bool = True  # False: cobra.NoArgs, a positional word is an error
    flags: dict[str, Flag] = field(default_factory=dict)  # declared here, by long name
    subcommands: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return " ".join(self.path)


@dataclass
class TableOutput:
    """The columns of a table a command prints, and the shapes of its rows: which columns a
    row leaves empty (awk does not count an empty column: its fields shift left)."""

    columns: tuple[str, ...]
    view: str = ""  # which variant of the table: "resource type deployment, table output"
    resources: tuple[str, ...] = ()  # the resource types it is printed for (empty: any)
    empty_in_rows: tuple[tuple[str, ...], ...] = ((),)  # one tuple of column names per shape
    source: str = ""  # file:function the columns were read from

    def awk_fields(self, shape: int = 0) -> tuple[str, ...]:
        """The column awk's $1, $2... read on rows of one shape."""
        empty = set(self.empty_in_rows[shape]) if shape < len(self.empty_in_rows) else set()
        return tuple(c for c in self.columns if c not in empty)


@dataclass
class JsonOutput:
    fields: tuple[str, ...]
    source: str = ""


@dataclass
class Outputs:
    table: TableOutput | None = None
    json: JsonOutput | None = None


@dataclass
class Contract:
    cli: str
    version: str
    source: dict[str, str]  # repository, commit, describe, from: how it was read
    commands: dict[str, Command]
    outputs: dict[str, Outputs] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # what the generator could not read, said plainly
    schema: int = SCHEMA

    # -- the tree -----------------------------------------------------------------------------

    @property
    def root(self) -> Command:
        return self.commands[self.cli]

    def child(self, command: Command, word: str) -> Command | None:
        """The subcommand ``word`` names (by name or alias), as cobra finds it."""
        for name in command.subcommands:
            candidate = self.commands[f"{command.name} {name}"]
            if word == name or word in candidate.aliases:
                return candidate
        return None

    def lineage(self, command: Command) -> list[Command]:
        return [self.commands[" ".join(command.path[:n])] for n in range(1, len(command.path) + 1)]

    def effective_flags(self, command: Command) -> dict[str, Flag]:
        """Every flag the command accepts: its own, and the persistent flags of its ancestors
        (its own win, as in cobra)."""
        flags: dict[str, Flag] = {}
        for ancestor in self.lineage(command)[:-1]:
            flags.update({n: f for n, f in ancestor.flags.items() if f.persistent})
        flags.update(command.flags)
        return flags

    # -- JSON -----------------------------------------------------------------------------------

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "schema": self.schema,
            "cli": self.cli,
            "version": self.version,
            "source": self.source,
            "notes": list(self.notes),
            "commands": {
                name: _command_json(command) for name, command in sorted(self.commands.items())
            },
            "outputs": {name: _drop_none(asdict(o)) for name, o in sorted(self.outputs.items())},
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Contract:
        data = json.loads(text)
        if data.get("schema") != SCHEMA:
            raise ValueError(f"contract schema {data.get('schema')!r}, expected {SCHEMA}")
        commands = {}
        for name, entry in data["commands"].items():
            flags = {f["name"]: Flag(**f) for f in entry.pop("flags", [])}
            commands[name] = Command(
                path=tuple(name.split(" ")),
                aliases=tuple(entry.pop("aliases", ())),
                subcommands=tuple(entry.pop("subcommands", ())),
                flags=flags,
                **entry,
            )
        outputs = {}
        for name, entry in data.get("outputs", {}).items():
            table = entry.get("table")
            json_output = entry.get("json")
            outputs[name] = Outputs(
                table=TableOutput(
                    columns=tuple(table["columns"]),
                    view=table.get("view", ""),
                    resources=tuple(table.get("resources", ())),
                    empty_in_rows=tuple(tuple(r) for r in table.get("empty_in_rows", [[]])),
                    source=table.get("source", ""),
                )
                if table
                else None,
                json=JsonOutput(tuple(json_output["fields"]), json_output.get("source", ""))
                if json_output
                else None,
            )
        return cls(
            cli=data["cli"],
            version=data["version"],
            source=data["source"],
            commands=commands,
            outputs=outputs,
            notes=tuple(data.get("notes", ())),
        )

    @classmethod
    def load(cls, path: Path) -> Contract:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _command_json(command: Command) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if command.aliases:
        entry["aliases"] = list(command.aliases)
    if command.deprecated is not None:
        entry["deprecated"] = command.deprecated
        entry["replacement"] = command.replacement
    if command.hidden:
        entry["hidden"] = True
    if not command.runnable:
        entry["runnable"] = False
    if not command.flag_parsing:
        entry["flag_parsing"] = False
    if not command.takes_args:
        entry["takes_args"] = False
    entry["flags"] = [_drop_defaults(asdict(f)) for _, f in sorted(command.flags.items())]
    if command.subcommands:
        entry["subcommands"] = sorted(command.subcommands)
    return entry


def _drop_defaults(flag: dict[str, Any]) -> dict[str, Any]:
    defaults = {"short": None, "persistent": False, "hidden": False, "deprecated": None}
    return {k: v for k, v in flag.items() if k not in defaults or defaults[k] != v}


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value
