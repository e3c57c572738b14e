"""Judge the guide's commands against the command contracts of the CLIs they call.

Every bash step (skipped ones too: a reader copies them) is parsed by ``shell``; each
invocation of a contracted CLI is resolved the way cobra resolves it (subcommands by name or
alias, flags before or after them, persistent flags inherited from ancestors) and its flags
are read the way pflag reads them (``--name=value``, ``--name value``, ``-n value``,
``-nvalue``, grouped booleans ``-Aq``, ``--`` ending the flags). Reported: an unknown
subcommand or flag, a flag given without its value, a deprecated command or flag (with what
replaces it). Then the output columns: a step's expected header must be the header the CLI
prints, and an awk filter on a table must read, in each ``$N``, the column the guide's header
puts there.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from meshdemo.guide import shell
from meshdemo.guide.contracts import PINNED_BY, MissingContract, available, load
from meshdemo.guide.contracts.model import Command, Contract, Flag, TableOutput
from meshdemo.model import Kind, Step


@dataclass(frozen=True)
class Finding:
    step: Step | None
    line: int | None  # 1-based line of the page (or of versions.yml)
    message: str
    path: Path | None = None  # set when the finding is not in a page (versions.yml)


# -- which contracts --------------------------------------------------------------------------


def pinned_contracts(versions_file: Path) -> tuple[dict[str, Contract], list[Finding]]:
    """The contract of each CLI at the version versions.yml pins; a finding for each pinned
    version that has none (a version was bumped and its contract not regenerated)."""
    data = yaml.safe_load(versions_file.read_text(encoding="utf-8")) or {}
    versions = data.get("versions", data) if isinstance(data, dict) else {}
    contracts: dict[str, Contract] = {}
    findings: list[Finding] = []
    for cli, where in PINNED_BY.items():
        if where is None:
            kubernetes = versions.get("kubernetes")
            if not isinstance(kubernetes, dict) or not kubernetes.get("minor"):
                continue  # no Kubernetes pinned: no kubectl to hold to it
            version = _kubectl_within_skew(versions)
            if version is None:
                findings.append(
                    Finding(
                        None,
                        None,
                        (
                            f"no command contract for a kubectl within one minor version of "
                            f"Kubernetes {versions['kubernetes']['minor']} (have: "
                            f"{', '.join(available(cli)) or 'none'})"
                        ),
                        path=versions_file,
                    )
                )
                continue
        else:
            section, key = where
            pinned = versions.get(section)
            version = pinned.get(key) if isinstance(pinned, dict) else None
            if not version:
                continue  # the guide does not pin this CLI
            version = str(version)
        try:
            contracts[cli] = load(cli, version)
        except MissingContract as error:
            findings.append(
                Finding(None, _line_of(versions_file, version), str(error), path=versions_file)
            )
    return contracts, findings


def _kubectl_within_skew(versions: dict) -> str | None:
    major, minor = (int(p) for p in str(versions["kubernetes"]["minor"]).split("."))
    candidates = []
    for version in available("kubectl"):
        match = re.match(r"v(\d+)\.(\d+)\.(\d+)", version)
        if match and int(match.group(1)) == major and abs(int(match.group(2)) - minor) <= 1:
            candidates.append((tuple(int(g) for g in match.groups()), version))
    return max(candidates)[1] if candidates else None


def _line_of(path: Path, text: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    return None


# -- one invocation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    command: Command
    positionals: tuple[shell.Word, ...]  # the words that are neither path nor flags
    flags: tuple[tuple[str, shell.Word], ...]  # (long name, word) of each flag given
    certain: bool  # False: the path could not be followed (an expansion where a name was)


def _suggest(word: str, choices: Iterable[str], prefix: str = "") -> str:
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        close = [c for c in options if len(word) > 2 and c.startswith(word)][:1]
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


class Judge:
    """Reads one CLI's invocations against its contract."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def resolve(self, words: tuple[shell.Word, ...]) -> tuple[Resolved, list[tuple[int, str]]]:
        contract = self.contract
        command = contract.root
        problems: list[tuple[int, str]] = []
        args = list(words[1:])
        path_open = True
        certain = True
        positionals: list[shell.Word] = []
        index = 0
        # cobra's Find: the first word that is not a flag (nor a flag's value, as far as the
        # command found so far knows its flags) names the next subcommand
        while index < len(args):
            word = args[index]
            value = word.value
            if value == "--":
                positionals.extend(args[index + 1 :])
                break
            if value.startswith("-") and value != "-":
                index += 1 + self._consumes_next(command, value)
                continue
            if path_open:
                literal = word.literal
                child = contract.child(command, literal) if literal is not None else None
                if child is not None:
                    command = child
                    index += 1
                    continue
                path_open = False
                if literal is None:
                    certain = not command.subcommands
                elif command.subcommands and (
                    not command.runnable
                    or not command.takes_args
                    # a group that also runs (kind delete: help, then an error): a word
                    # close to one of its subcommands is that subcommand misspelt
                    or _suggest(literal, command.subcommands)
                ):
                    problems.append(
                        (
                            word.line,
                            f"{command.name}: unknown command {literal}"
                            f"{_suggest(literal, command.subcommands)}",
                        )
                    )
                    certain = False
            positionals.append(word)
            index += 1
        flags = self._flags(command, args, problems) if certain and command.flag_parsing else []
        return Resolved(command, tuple(positionals), tuple(flags), certain), problems

    def _consumes_next(self, command: Command, value: str) -> int:
        """Whether cobra, looking for subcommands, takes the next word as this flag's value
        (cobra's stripFlags: a flag it does not know yet is assumed to take one)."""
        if "=" in value:
            return 0
        flags = self.contract.effective_flags(command)
        if value.startswith("--"):
            flag = flags.get(value[2:])
        elif len(value) == 2:
            flag = next((f for f in flags.values() if f.short == value[1]), None)
        else:
            return 0
        return 0 if flag is not None and flag.value != "required" else 1

    def _flags(
        self, command: Command, args: list[shell.Word], problems: list[tuple[int, str]]
    ) -> list[tuple[str, shell.Word]]:
        """pflag's parse of every word, against the flags of the command found."""
        flags = self.contract.effective_flags(command)
        by_short = {f.short: f for f in flags.values() if f.short}
        visible = [n for n, f in flags.items() if not f.hidden]
        given: list[tuple[str, shell.Word]] = []
        label = command.name
        index = 0
        while index < len(args):
            word = args[index]
            value = word.value
            index += 1
            if value == "--":
                break
            if not value.startswith("-") or value == "-":
                continue
            name_part = value.split("=", 1)[0]
            if shell.EXPANSION in name_part:
                continue  # --$FLAG: nothing to judge
            next_word = args[index] if index < len(args) else None
            if value.startswith("--"):
                name = name_part[2:]
                flag = flags.get(name)
                if flag is None:
                    problems.append(
                        (
                            word.line,
                            f"{label}: unknown flag --{name}{_suggest(name, visible, '--')}",
                        )
                    )
                    continue
                given.append((flag.name, word))
                self._deprecated_flag(label, flag, word, problems)
                if flag.value == "required" and "=" not in value:
                    index += self._value(label, f"--{name}", next_word, word, problems)
                continue
            # shorthands: -n ns, -nns, -n=ns, -Aq (booleans grouped)
            letters = value[1:]
            position = 0
            while position < len(letters):
                letter = letters[position]
                flag = by_short.get(letter)
                if flag is None:
                    suggestion = ""
                    if position == 0 and len(letters) > 1 and letters[1] != "=":
                        suggestion = _suggest(letters, visible, "--")
                    problems.append(
                        (
                            word.line,
                            f"{label}: unknown shorthand flag -{letter} in {value}{suggestion}",
                        )
                    )
                    break
                given.append((flag.name, word))
                self._deprecated_flag(label, flag, word, problems)
                rest = letters[position + 1 :]
                if flag.value == "required":
                    if not rest:
                        index += self._value(label, f"-{letter}", next_word, word, problems)
                    break
                if rest.startswith("="):
                    break
                position += 1
        return given

    @staticmethod
    def _value(
        label: str,
        spelled: str,
        next_word: shell.Word | None,
        word: shell.Word,
        problems: list[tuple[int, str]],
    ) -> int:
        """The next word is the flag's value; say so when there is none, or when it reads as
        another flag (pflag would take it as the value, silently)."""
        if next_word is None:
            problems.append((word.line, f"{label}: flag {spelled} needs a value"))
            return 0
        following = next_word.value
        if (
            following.startswith("-")
            and len(following) > 1
            and not re.fullmatch(r"-\d+(\.\d+)?[a-z]*", following)
        ):
            problems.append(
                (word.line, f"{label}: flag {spelled} needs a value (got the flag {next_word.raw})")
            )
            return 0
        return 1

    @staticmethod
    def _deprecated_flag(
        label: str, flag: Flag, word: shell.Word, problems: list[tuple[int, str]]
    ) -> None:
        if flag.deprecated:
            problems.append(
                (word.line, f"{label}: flag --{flag.name} is deprecated: {flag.deprecated}")
            )

    def deprecations(self, resolved: Resolved) -> list[str]:
        """Each deprecated command on the path, with what the contract says replaces it."""
        found = []
        for command in self.contract.lineage(resolved.command)[1:]:
            if command.deprecated:
                if command.replacement:
                    found.append(
                        f"{command.name}: deprecated, use {command.replacement} "
                        f"instead ({self.contract.cli} {self.contract.version}: "
                        f"{command.deprecated!r})"
                    )
                else:
                    found.append(f"{command.name}: deprecated: {command.deprecated}")
        return found


# -- the guide ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    step: Step
    line: int  # page line of the command's name
    cli: str
    resolved: Resolved
    words: tuple[shell.Word, ...]
    feeds: shell.SimpleCommand | None  # what its output is piped into


def _scripts(step: Step) -> list[tuple[str, int]]:
    """(script, page line of its line 0): the step's command, and its skip-if test, which
    sits on the fence line."""
    scripts = [(step.command, step.line + 1)]
    if step.options.skip_if:
        scripts.insert(0, (step.options.skip_if, step.line))
    return scripts


def check_steps(
    steps: Iterable[Step],
    contracts: dict[str, Contract],
    examples: Iterable[ExampleTable] = (),
) -> tuple[list[Finding], list[Invocation]]:
    judges = {cli: Judge(contract) for cli, contract in contracts.items()}
    findings: list[Finding] = []
    invocations: list[Invocation] = []
    assignments: dict[str, shell.Word] = {}  # one session: a variable set earlier is still set
    for step in steps:
        if step.kind is not Kind.BASH:
            continue
        for script_text, first_line in _scripts(step):
            script = shell.parse(script_text)
            assignments.update(script.assignments)
            for command in script.commands:
                cli = shell.program_name(command.words[0], assignments)
                judge = judges.get(cli or "")
                if judge is None:
                    continue
                resolved, problems = judge.resolve(command.words)
                line = first_line + command.line
                for offset, message in problems:
                    findings.append(Finding(step, first_line + offset, message))
                for message in judge.deprecations(resolved):
                    findings.append(Finding(step, line, message))
                invocations.append(
                    Invocation(
                        step, line, judge.contract.cli, resolved, command.words, command.feeds
                    )
                )
    findings.extend(check_outputs(invocations, contracts, examples))
    return findings, invocations


# -- output columns -----------------------------------------------------------------------------

_HEADER = re.compile(r"^[A-Z][A-Z0-9_/]*(?:\s+[A-Z][A-Z0-9_/]*)+$")
_OUTPUT_FLAGS = {"output"}


def _table_of(invocation: Invocation, contracts: dict[str, Contract]) -> TableOutput | None:
    """The table the invocation prints, when it prints the contract's table: default output
    (no -o, or -o table) and, for a table read for one resource type, that type."""
    contract = contracts[invocation.cli]
    outputs = contract.outputs.get(invocation.resolved.command.name)
    if outputs is None or outputs.table is None or not invocation.resolved.certain:
        return None
    words = [w.value for w in invocation.words]
    for index, word in enumerate(words):
        for spelled in ("-o", "--output"):
            if word == spelled and index + 1 < len(words) and words[index + 1] != "table":
                return None
            if word.startswith(spelled + "=") and word != f"{spelled}=table":
                return None
        if word.startswith("-o") and len(word) > 2 and word != "-otable" and word[2] != "=":
            return None
    table = outputs.table
    if table.resources:
        first = invocation.resolved.positionals[0].value if invocation.resolved.positionals else ""
        if first.split("/", 1)[0] not in table.resources:
            return None
    return table


@dataclass(frozen=True)
class ExampleTable:
    """The header line of an example output a page shows outside any step (e.g. a collapsed
    "from linkerd.io's tutorial" block): it records which column the guide means by each
    awk ``$N``, as an ``.expected`` header does."""

    header: tuple[str, ...]
    path: Path
    line: int | None


def example_tables(text: str, path: Path, source: str | None = None) -> list[ExampleTable]:
    """The example outputs of one rendered page whose first line is a table header.

    ``source`` is the page file's text, to give the header its line there."""
    from meshdemo.guide import fences

    found: list[ExampleTable] = []
    seen: dict[str, int] = {}  # a header shown twice: the second example is the second line
    source_lines = [ln.strip() for ln in source.splitlines()] if source is not None else []
    for token in fences.parse(text):
        if token.type != "fence":
            continue
        try:
            info = fences.parse_info(token.info)
        except fences.InfoError:
            continue
        if info.lang not in (None, "text", "console") or "expected" in info.classes:
            continue
        first = next((ln.strip() for ln in token.content.splitlines() if ln.strip()), "")
        if not _HEADER.match(first):
            continue
        seen[first] = seen.get(first, 0) + 1
        lines = [n for n, ln in enumerate(source_lines, 1) if ln == first]
        line = lines[seen[first] - 1] if len(lines) >= seen[first] else None
        found.append(ExampleTable(tuple(first.split()), path, line))
    return found


def _same_table(header: tuple[str, ...], columns: tuple[str, ...]) -> bool:
    """Is ``header`` this table's header, maybe from another release (columns moved, one
    added or dropped)? The first column and most of the names must agree."""
    if not header or not columns or header[0] != columns[0]:
        return False
    shared = len(set(header) & set(columns))
    return shared >= 0.75 * max(len(header), len(columns))


def check_outputs(
    invocations: list[Invocation],
    contracts: dict[str, Contract],
    examples: Iterable[ExampleTable] = (),
) -> list[Finding]:
    """A documented header must be the header the pinned CLI prints; it then tells what each
    awk ``$N`` on that table is meant to read. Headers are documented by a step's
    ``.expected`` output, or by an example output elsewhere in the guide."""
    findings: list[Finding] = []
    documented: dict[str, tuple[tuple[str, ...], str]] = {}
    for invocation in invocations:
        table = _table_of(invocation, contracts)
        expected = invocation.step.expected
        if table is None or invocation.feeds is not None or expected is None:
            continue
        first = next((ln.strip() for ln in expected.text.splitlines() if ln.strip()), "")
        if not _HEADER.match(first):
            continue
        header = tuple(first.split())
        name = invocation.resolved.command.name
        step = invocation.step
        documented.setdefault(name, (header, f"{step.page}:{expected.line}"))
        if header != table.columns:
            contract = contracts[invocation.cli]
            findings.append(
                Finding(
                    invocation.step,
                    expected.line + 1,
                    (
                        f"{name}: the expected header reads {' '.join(header)}, but "
                        f"{contract.cli} {contract.version} prints {' '.join(table.columns)}"
                    ),
                )
            )
    tables = {
        invocation.resolved.command.name: (table, contracts[invocation.cli])
        for invocation in invocations
        if (table := _table_of(invocation, contracts)) is not None
    }
    for example in examples:
        for name, (table, contract) in tables.items():
            if not _same_table(example.header, table.columns):
                continue
            where = f"{example.path}:{example.line}" if example.line else str(example.path)
            documented.setdefault(name, (example.header, where))
            if example.header != table.columns:
                findings.append(
                    Finding(
                        None,
                        example.line,
                        (
                            f"{name}: the example output's header reads "
                            f"{' '.join(example.header)}, but {contract.cli} "
                            f"{contract.version} prints {' '.join(table.columns)}"
                        ),
                        path=example.path,
                    )
                )
    for invocation in invocations:
        findings.extend(_awk_fields(invocation, contracts, documented))
    return findings


def _awk_fields(
    invocation: Invocation,
    contracts: dict[str, Contract],
    documented: dict[str, tuple[tuple[str, ...], str]],
) -> list[Finding]:
    """An awk filter on a table: each ``$N`` must read the column the guide's header puts
    there (columns a row leaves empty are not fields for awk)."""
    table = _table_of(invocation, contracts)
    consumer = invocation.feeds
    if table is None or consumer is None or consumer.name != "awk":
        return []
    program = next(
        (w.literal for w in consumer.words[1:] if w.literal and not w.literal.startswith("-")),
        None,
    )
    if program is None:
        return []
    name = invocation.resolved.command.name
    contract = contracts[invocation.cli]
    release = f"{contract.cli} {contract.version}"
    printed = table.awk_fields(0)
    line = invocation.line + (consumer.line - invocation.words[0].line)
    findings: list[Finding] = []
    for number in sorted({int(n) for n in re.findall(r"\$(\d+)", program)} - {0}):
        if number > len(printed):
            message = (
                f"{name} | awk: ${number}, but {release} prints {len(printed)} fields on a "
                f"row ({' '.join(printed)})"
            )
            findings.append(Finding(invocation.step, line, message))
            continue
        if name not in documented:
            continue
        header, at = documented[name]
        empty = set(table.empty_in_rows[0]) if table.empty_in_rows else set()
        meant = [c for c in header if c not in empty]
        if number > len(meant) or meant[number - 1] != printed[number - 1]:
            reads = meant[number - 1] if number <= len(meant) else "nothing"
            message = (
                f"{name} | awk: ${number} is {reads} by the guide's header ({at}), but "
                f"{release} prints {printed[number - 1]} there"
            )
            findings.append(Finding(invocation.step, line, message))
    return findings


# -- the Python verification helpers --------------------------------------------------------------


def helper_modules(steps: Iterable[Step]) -> list[Path]:
    """The source files of the ``meshdemo`` modules the guide's python blocks import: the
    verification helpers, which run the CLIs too and read their JSON."""
    import ast
    import importlib.util

    names: set[str] = set()
    for step in steps:
        if step.kind is not Kind.PYTHON:
            continue
        try:
            tree = ast.parse(step.command)
        except SyntaxError:
            continue  # reported by the python syntax check
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    files = []
    for name in sorted(n for n in names if n == "meshdemo" or n.startswith("meshdemo.")):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            files.append(Path(spec.origin))
    return files


def check_helpers(module: Path, contracts: dict[str, Contract]) -> list[Finding]:
    """A helper module's argv lists that run a contracted CLI (``[linkerd_cli(), "viz",
    "stat", resource, "--output", "json"]``) are judged like the guide's commands; and where
    such a function prints JSON, the fields its callers read (``row["success"]``,
    ``row.get("name")``) must be fields that command's JSON has."""
    import ast

    source = module.read_text(encoding="utf-8")
    tree = ast.parse(source)
    judges = {cli: Judge(contract) for cli, contract in contracts.items()}
    findings: list[Finding] = []
    json_commands: dict[str, tuple[Contract, str]] = {}  # function name -> (contract, command)
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        for node in ast.walk(function):
            if not isinstance(node, ast.List) or not node.elts:
                continue
            cli = _python_program(node.elts[0], judges)
            if cli is None:
                continue
            words = tuple(_python_word(e) for e in node.elts)
            resolved, problems = judges[cli].resolve(words)
            for line, message in problems:
                findings.append(Finding(None, line, message, path=module))
            for message in judges[cli].deprecations(resolved):
                findings.append(Finding(None, node.lineno, message, path=module))
            values = [w.value for w in words]
            if "json" in values and any(v in ("-o", "--output") for v in values):
                json_commands[function.name] = (judges[cli].contract, resolved.command.name)
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        called = {
            n.func.id
            for n in ast.walk(function)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        for name in called & set(json_commands):
            contract, command = json_commands[name]
            outputs = contract.outputs.get(command)
            if outputs is None or outputs.json is None:
                continue
            for line, field_name in _fields_read(function):
                if field_name not in outputs.json.fields:
                    findings.append(
                        Finding(
                            None,
                            line,
                            (
                                f"{command} -o json: {function.name}() reads the field "
                                f"{field_name!r}, which {contract.cli} {contract.version} does not "
                                f"print{_suggest(field_name, outputs.json.fields)}"
                            ),
                            path=module,
                        )
                    )
    return findings


def _python_program(node: object, judges: dict[str, Judge]) -> str | None:
    """``linkerd_cli()`` or ``"linkerd"`` as the first element of an argv list."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = Path(node.value).name
        return name if name in judges else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id.removesuffix("_cli").removesuffix("_binary")
        return name if name in judges and name != node.func.id else None
    return None


def _python_word(node: object) -> shell.Word:
    import ast

    line = getattr(node, "lineno", 0)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return shell.Word(raw=repr(node.value), value=node.value, line=line)
    return shell.Word(raw="<python>", value=shell.EXPANSION, line=line)


def _fields_read(function: object) -> list[tuple[int, str]]:
    """The string keys a function reads from dicts: ``x["k"]`` and ``x.get("k")``."""
    import ast

    found = []
    for node in ast.walk(function):  # type: ignore[arg-type]
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.append((node.lineno, node.slice.value))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not (
                isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "environ"
            )
        ):
            found.append((node.lineno, node.args[0].value))
    return found
