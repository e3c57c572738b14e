"""Read a cobra command tree out of Go source: commands, aliases, deprecations and pflag flags.

It evaluates the function that builds the root command (``NewRootCmd``, ``NewCommand``) with
``gosource.Evaluator`` and gives cobra's and pflag's types their meaning:
``&cobra.Command{Use:, Aliases:, Deprecated:}``, ``AddCommand``, ``Flags()`` and
``PersistentFlags()``, every pflag declaration (``StringVarP``, ``BoolVar``, ``DurationVar``,
``StringSliceVar``..., and their non-Var forms), flag sets made apart (``pflag.NewFlagSet``)
and added with ``AddFlagSet``, ``Lookup(name).NoOptDefVal``, ``MarkHidden``/``MarkDeprecated``,
and the flags cobra adds itself (``-h/--help``, ``--version``, the ``help`` command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from meshdemo.guide.contracts.gosource import UNKNOWN, Evaluator, SourceTree, known
from meshdemo.guide.contracts.model import Command, Flag, ValueKind

COBRA = "github.com/spf13/cobra"
PFLAG = "github.com/spf13/pflag"

# pflag's value types; Bool and Count set NoOptDefVal, so they never take the next word
PFLAG_TYPES = [
    "BoolSlice",
    "BoolFunc",
    "Bool",
    "BytesBase64",
    "BytesHex",
    "Count",
    "DurationSlice",
    "Duration",
    "Float32Slice",
    "Float32",
    "Float64Slice",
    "Float64",
    "Func",
    "IPMask",
    "IPNet",
    "IPSlice",
    "IP",
    "Int16",
    "Int32Slice",
    "Int32",
    "Int64Slice",
    "Int64",
    "Int8",
    "IntSlice",
    "Int",
    "StringArray",
    "StringSlice",
    "StringToInt64",
    "StringToInt",
    "StringToString",
    "String",
    "TextVar",
    "Time",
    "Uint16",
    "Uint32",
    "Uint64",
    "Uint8",
    "UintSlice",
    "Uint",
]
NO_VALUE_TYPES = {"Bool", "Count", "BoolFunc"}
_DECLARATION = re.compile(rf"^({'|'.join(PFLAG_TYPES)})?(Var)?(P)?(F)?$")


@dataclass
class FlagSet:
    name: str = ""
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> mutable fields
    owner: CobraCommand | None = None
    persistent: bool = False

    def lookup(self, name: Any) -> Any:
        if not isinstance(name, str):
            return UNKNOWN
        found = self.flags.get(name)
        if found is None and self.owner is not None:
            other = self.owner.persistent_flags if not self.persistent else self.owner.local_flags
            found = other.flags.get(name)
        return FlagRef(found) if found is not None else UNKNOWN


@dataclass
class FlagRef:
    fields: dict[str, Any]


@dataclass
class CobraCommand:
    fields: dict[str, Any]
    local_flags: FlagSet = field(default_factory=FlagSet)
    persistent_flags: FlagSet = field(default_factory=lambda: FlagSet(persistent=True))
    children: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.local_flags.owner = self
        self.persistent_flags.owner = self

    @property
    def use(self) -> Any:
        return self.fields.get("Use", UNKNOWN)

    @property
    def name(self) -> str | None:
        use = self.use
        return use.split()[0] if isinstance(use, str) and use.split() else None


class CobraReader:
    """Hooks that give cobra and pflag values their behaviour inside the evaluator."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self.notes: list[str] = []
        evaluator.literal_hooks.append(self._literal)
        evaluator.method_hooks.append(self._method)
        evaluator.field_hooks.append(self._set_field)
        evaluator.read_hooks.append(self._read_field)
        evaluator.external_hooks.append(self._external)

    # -- values -------------------------------------------------------------------------------

    def _literal(self, type_name: str, fields: dict[str, Any], node: Any) -> Any:
        if type_name == f"{COBRA}.Command":
            command = CobraCommand(dict(fields))
            args = _keyed_text(node, "Args")
            if args is not None:
                command.fields["Args"] = args
            return command
        if type_name == f"{PFLAG}.FlagSet":
            return FlagSet()
        return NotImplemented

    def _external(self, import_path: str, name: str, args: list[Any]) -> Any:
        if import_path == PFLAG and name == "NewFlagSet":
            return FlagSet(args[0] if args and isinstance(args[0], str) else "")
        return NotImplemented

    def _read_field(self, owner: Any, name: str) -> Any:
        if isinstance(owner, CobraCommand):
            return owner.fields.get(name, UNKNOWN)
        if isinstance(owner, FlagRef):
            return owner.fields.get(name, UNKNOWN)
        return NotImplemented

    def _set_field(self, owner: Any, name: str, value: Any) -> bool:
        if isinstance(owner, CobraCommand):
            owner.fields[name] = "<func>" if name in ("Run", "RunE") else value
            return True
        if isinstance(owner, FlagRef):
            if name == "NoOptDefVal":
                if value != "":
                    owner.fields["value"] = (
                        "optional" if owner.fields["value"] != "none" else "none"
                    )
            elif name == "Hidden":
                owner.fields["hidden"] = value is True
            elif name == "Deprecated":
                owner.fields["deprecated"] = value if isinstance(value, str) else "deprecated"
            elif name == "Shorthand" and isinstance(value, str):
                owner.fields["short"] = value or None
            return True
        return False

    # -- methods ------------------------------------------------------------------------------

    def _method(self, receiver: Any, method: str, args: list[Any], node: Any) -> Any:
        if isinstance(receiver, CobraCommand):
            return self._command_method(receiver, method, args)
        if isinstance(receiver, FlagSet):
            return self._flagset_method(receiver, method, args, node)
        if isinstance(receiver, FlagRef):
            return UNKNOWN
        return NotImplemented

    def _command_method(self, command: CobraCommand, method: str, args: list[Any]) -> Any:
        if method in ("Flags", "LocalFlags", "LocalNonPersistentFlags"):
            return command.local_flags
        if method == "PersistentFlags":
            return command.persistent_flags
        if method == "AddCommand":
            command.children.extend(args)
            return None
        if method == "Name":
            return command.name or UNKNOWN
        if method == "Commands":
            return list(command.children)
        if method in ("MarkFlagRequired", "MarkPersistentFlagRequired", "MarkFlagHidden"):
            return None
        return UNKNOWN

    def _flagset_method(self, flagset: FlagSet, method: str, args: list[Any], node: Any) -> Any:
        if method == "AddFlagSet":
            other = args[0] if args else UNKNOWN
            if isinstance(other, FlagSet):
                for name, fields in other.flags.items():
                    flagset.flags.setdefault(name, dict(fields))
            else:
                self._note(node, "a flag set the generator could not follow")
            return None
        if method == "AddFlag":
            ref = args[0] if args else UNKNOWN
            if isinstance(ref, FlagRef):
                flagset.flags.setdefault(ref.fields["name"], dict(ref.fields))
            return None
        if method in ("Lookup", "ShorthandLookup"):
            if method == "ShorthandLookup":
                return next(
                    (
                        FlagRef(f)
                        for f in flagset.flags.values()
                        if f["short"] == (args[0] if args else None)
                    ),
                    UNKNOWN,
                )
            return flagset.lookup(args[0] if args else UNKNOWN)
        if method in ("MarkHidden", "MarkDeprecated", "MarkShorthandDeprecated"):
            ref = flagset.lookup(args[0] if args else UNKNOWN)
            if isinstance(ref, FlagRef):
                if method == "MarkHidden":
                    ref.fields["hidden"] = True
                elif method == "MarkDeprecated":
                    message = args[1] if len(args) > 1 else UNKNOWN
                    ref.fields["deprecated"] = message if isinstance(message, str) else "deprecated"
                    ref.fields["hidden"] = True
            return None
        match = _DECLARATION.match(method)
        if match and (match.group(1) or match.group(2)):
            return self._declare(flagset, match, args, node)
        return UNKNOWN

    def _declare(self, flagset: FlagSet, match: re.Match[str], args: list[Any], node: Any) -> Any:
        type_name, is_var, has_short, _ = match.groups()
        # the generic Var(value, name, usage) and the typed XxxVar(p, name, ...) both put the
        # name second; the non-Var forms put it first
        offset = 1 if is_var else 0
        name = args[offset] if len(args) > offset else UNKNOWN
        short = args[offset + 1] if has_short and len(args) > offset + 1 else None
        if not isinstance(name, str):
            self._note(node, "a flag whose name the generator could not evaluate")
            return UNKNOWN
        value: ValueKind = "none" if type_name in NO_VALUE_TYPES else "required"
        fields = {
            "name": name,
            "short": short if isinstance(short, str) and short else None,
            "type": _type_name(type_name) if type_name else "value",
            "value": value,
            "persistent": flagset.persistent,
            "hidden": False,
            "deprecated": None,
        }
        if name not in flagset.flags:
            flagset.flags[name] = fields
        return FlagRef(flagset.flags[name])

    def _note(self, node: Any, what: str) -> None:
        source = self.evaluator.current_file
        line = node.start_point[0] + 1
        self.notes.append(f"{source}:{line}: {what}")


def _keyed_text(literal: Any, key: str) -> str | None:
    """The source text of one keyed field of a composite literal (``Args: cobra.NoArgs``)."""
    body = literal.child_by_field_name("body")
    for element in body.named_children:
        if element.type == "keyed_element" and element.named_children[0].text.decode() == key:
            return element.named_children[-1].text.decode()
    return None


def _type_name(pflag_type: str) -> str:
    acronym = re.match(r"^(IP|IPNet|IPMask|IPSlice)$", pflag_type)
    return pflag_type.lower() if acronym else pflag_type[0].lower() + pflag_type[1:]


# -- the tree ---------------------------------------------------------------------------------


def read_command_tree(
    tree: SourceTree, package_dir: str, function: str, args: list[Any] | None = None
) -> tuple[dict[str, Command], list[str]]:
    """The commands of the tree the function builds, by path ("linkerd viz stat"), and notes
    on what could not be read."""
    evaluator = Evaluator(tree)
    reader = CobraReader(evaluator)
    root = evaluator.call_function(package_dir, function, args)
    if not isinstance(root, CobraCommand) or root.name is None:
        raise ValueError(f"{package_dir}.{function} does not return a cobra command with a Use")
    commands: dict[str, Command] = {}
    notes = list(dict.fromkeys(reader.notes))
    _collect(root, (), commands, notes)
    _add_cobra_defaults(root, commands)
    _resolve_replacements(commands)
    return commands, notes


def _collect(
    command: CobraCommand, parent: tuple[str, ...], into: dict[str, Command], notes: list[str]
) -> None:
    name = command.name
    assert name is not None
    path = (*parent, name)
    fields = command.fields
    flags: dict[str, Flag] = {}
    for flagset in (command.persistent_flags, command.local_flags):
        for flag_name, spec in flagset.flags.items():
            flags.setdefault(flag_name, Flag(**spec))
    children: list[str] = []
    for child in command.children:
        if not isinstance(child, CobraCommand) or child.name is None:
            notes.append(f"{' '.join(path)}: a subcommand the generator could not evaluate")
            continue
        children.append(child.name)
        _collect(child, path, into, notes)
    aliases = fields.get("Aliases", [])
    deprecated = fields.get("Deprecated", "")
    into[" ".join(path)] = Command(
        path=path,
        aliases=tuple(a for a in aliases if isinstance(a, str))
        if isinstance(aliases, list)
        else (),
        deprecated=(deprecated.strip() or None)
        if isinstance(deprecated, str)
        else ("deprecated" if known(deprecated) and deprecated is not None else None),
        hidden=fields.get("Hidden") is True,
        runnable="Run" in fields or "RunE" in fields,
        flag_parsing=fields.get("DisableFlagParsing") is not True,
        takes_args=fields.get("Args") != "cobra.NoArgs",
        flags=flags,
        subcommands=tuple(children),
    )


HELP = Flag(name="help", short="h", type="bool", value="none")


def _add_cobra_defaults(root: CobraCommand, commands: dict[str, Command]) -> None:
    """What cobra adds to every tree when it runs: -h/--help on each command, --version on
    the root when it has a Version, and the help command (cobra's InitDefault* functions)."""
    root_name = root.name
    assert root_name is not None
    root_command = commands[root_name]
    for command in commands.values():
        if "help" not in command.flags:
            short = "h" if not any(f.short == "h" for f in command.flags.values()) else None
            command.flags["help"] = Flag(name="help", short=short, type="bool", value="none")
    if "Version" in root.fields and "version" not in root_command.flags:
        short = None if "v" in {f.short for f in root_command.flags.values()} else "v"
        root_command.flags["version"] = Flag(name="version", short=short, type="bool", value="none")
    if root_command.subcommands and "help" not in root_command.subcommands:
        root_command.subcommands = (*root_command.subcommands, "help")
        commands[f"{root_name} help"] = Command(path=(root_name, "help"), flags={"help": HELP})
    # cobra's own completion command, unless the CLI has one (linkerd and kind do) or
    # turned it off (CompletionOptions.DisableDefaultCmd, which cannot be read here: noted)
    if root_command.subcommands and "completion" not in root_command.subcommands:
        shells = ("bash", "fish", "powershell", "zsh")
        root_command.subcommands = (*root_command.subcommands, "completion")
        commands[f"{root_name} completion"] = Command(
            path=(root_name, "completion"),
            runnable=False,
            flags={"help": HELP},
            subcommands=shells,
        )
        for shell in shells:
            commands[f"{root_name} completion {shell}"] = Command(
                path=(root_name, "completion", shell),
                takes_args=False,
                flags={
                    "help": HELP,
                    "no-descriptions": Flag(name="no-descriptions", type="bool", value="none"),
                },
            )


def _resolve_replacements(commands: dict[str, Command]) -> None:
    """The command a deprecation message tells to use instead ("use instead 'linkerd viz
    stat [flags]'", "please use `multicluster link-gen` instead"): a quoted run of words that
    is a command of the tree, read with or without the root's name. A message that names a
    command without saying "instead" names no replacement."""
    root = next(iter(commands)).split(" ")[0] if commands else ""
    for command in commands.values():
        message = command.deprecated
        if not message or "instead" not in message:
            continue
        for quoted in re.findall(r"'([^']+)'|`([^`]+)`|\"([^\"]+)\"", message):
            words = "".join(quoted).split()
            for end in range(len(words), 0, -1):
                candidate = " ".join(words[:end])
                for name in (candidate, f"{root} {candidate}"):
                    if name in commands and name != command.name:
                        command.replacement = name
                        break
                if command.replacement:
                    break
            if command.replacement:
                break
