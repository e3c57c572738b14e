"""The simple commands of a bash script, found by a real shell parser (tree-sitter's bash).

Continuation lines, pipes, ``&&``/``||``, subshells, ``$(...)``, ``if``/``while`` bodies and
here-documents are bash's business: tree-sitter-bash parses them as bash does, and this module
only walks the tree. Each command comes out as its words, each word with its literal value
when it has one (quotes removed) and ``None`` when it holds an expansion (``$NS``, ``$(...)``):
variables are left as they are, never guessed. Wrappers (``timeout 15s``, ``sudo``, ``env``)
are looked through, and a variable the script set to a path (``LINKERD=~/.linkerd2/bin/linkerd``)
is followed when it is used as a command name.
"""

from __future__ import annotations

import functools
import itertools
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# commands that run the command after their own options (and, for some, one more operand)
WRAPPERS = {
    "sudo",
    "env",
    "nohup",
    "exec",
    "command",
    "time",
    "nice",
    "setsid",
    "xargs",
    "timeout",
    "watch",
    "stdbuf",
}
# options of the wrappers that take a value as the next word
WRAPPER_VALUE_OPTIONS = {
    "timeout": {"-s", "--signal", "-k", "--kill-after"},
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"},
    "nice": {"-n"},
    "xargs": {"-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a"},
    "watch": {"-n", "--interval", "-d"},
    "env": {"-u", "--unset", "-C", "--chdir", "-S"},
}
EXPANSION = "\0"  # stands for an expansion inside a word's raw value


@functools.cache
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


@dataclass(frozen=True)
class Word:
    raw: str  # as written
    value: str  # quotes removed; each expansion replaced by EXPANSION
    line: int  # 0-based line of the script the word starts on

    @property
    def literal(self) -> str | None:
        """The word's value, when nothing in it is expanded by the shell."""
        return None if EXPANSION in self.value else self.value

    @property
    def prefix(self) -> str:
        """The literal part before the first expansion (``--namespace=`` of ``--namespace=$NS``)."""
        return self.value.split(EXPANSION, 1)[0]


@dataclass(eq=False)
class SimpleCommand:
    words: tuple[Word, ...]  # the command name first; wrappers already looked through
    line: int  # 0-based line of the command name
    feeds: SimpleCommand | None = field(default=None, repr=False)  # where its output is piped

    @property
    def name(self) -> str:
        return self.words[0].value


def _word(node: Any) -> Word:
    return Word(raw=node.text.decode("utf-8"), value=_value(node), line=node.start_point[0])


def _value(node: Any) -> str:
    kind = node.type
    text = node.text.decode("utf-8")
    if kind == "raw_string":
        return text[1:-1]
    if kind == "ansi_c_string":
        return EXPANSION
    if kind == "string":
        return (
            "".join(_value(child) for child in node.named_children) if node.named_children else ""
        )
    if kind == "string_content":
        return re.sub(r'\\([$`"\\\n])', r"\1", text)
    if kind in ("word", "number"):
        return re.sub(r"\\(.)", r"\1", text)
    if kind == "concatenation":
        return "".join(_value(child) for child in node.children)
    if kind in (
        "simple_expansion",
        "expansion",
        "command_substitution",
        "process_substitution",
        "arithmetic_expansion",
        "brace_expression",
    ):
        return EXPANSION
    if kind == '"':
        return ""
    return re.sub(r"\\(.)", r"\1", text)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from _walk(child)


@dataclass
class Script:
    """One script's commands, and the variables it sets to a command path."""

    text: str
    commands: list[SimpleCommand] = field(default_factory=list)
    assignments: dict[str, Word] = field(default_factory=dict)
    errors: list[int] = field(default_factory=list)  # 0-based lines bash would not parse


def parse(text: str) -> Script:
    tree = _parser().parse(text.encode("utf-8"))
    script = Script(text)
    for node in _walk(tree.root_node):
        if node.type == "ERROR":
            script.errors.append(node.start_point[0])
        elif node.type == "variable_assignment":
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            if name is not None and value is not None:
                script.assignments[name.text.decode("utf-8")] = _word(value)
    built: dict[int, SimpleCommand] = {}
    for node in _walk(tree.root_node):
        if node.type == "command":
            command = _command(node)
            if command is not None:
                built[node.id] = command
    # pipes: a command feeds the next command of its pipeline
    for node in _walk(tree.root_node):
        if node.type != "pipeline":
            continue
        stages = [_stage_command(child) for child in node.named_children]
        for upstream, downstream in itertools.pairwise(stages):
            if upstream is not None and downstream is not None and upstream.id in built:
                built[upstream.id].feeds = built.get(downstream.id)
    script.commands = list(built.values())  # in the order of the source: a walk is pre-order
    return script


def _stage_command(node: Any) -> Any:
    """The simple command of one stage of a pipeline (through redirections)."""
    while node is not None and node.type == "redirected_statement":
        node = node.child_by_field_name("body")
    return node if node is not None and node.type == "command" else None


def _command(node: Any) -> SimpleCommand | None:
    name = node.child_by_field_name("name")
    if name is None:
        return None
    words = [_word(name.named_children[0] if name.named_children else name)]
    for child in node.children_by_field_name("argument"):
        words.append(_word(child))
    words = _unwrap(words)
    if not words:
        return None
    return SimpleCommand(tuple(words), words[0].line)


def _unwrap(words: list[Word]) -> list[Word]:
    """Look through wrappers: ``timeout 15s linkerd ...`` is a linkerd command."""
    while words and words[0].literal in WRAPPERS:
        wrapper = words[0].value
        rest = words[1:]
        value_options = WRAPPER_VALUE_OPTIONS.get(wrapper, set())
        while rest and rest[0].value.startswith("-") and rest[0].value != "-":
            rest = rest[2:] if rest[0].value in value_options else rest[1:]
        if wrapper == "env":
            while rest and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", rest[0].value):
                rest = rest[1:]
        if wrapper == "timeout" and rest:
            rest = rest[1:]  # the duration
        words = rest
    return words


def program_name(word: Word, assignments: dict[str, Word]) -> str | None:
    """The program a command-name word runs, as a bare name: ``linkerd`` for ``linkerd``,
    ``"$HOME/.linkerd2/bin/linkerd"``, ``./kind``, or ``"$LINKERD"`` when the script set
    ``LINKERD`` to such a path. None when the name is not known without running the script."""
    value = word.value
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", word.raw.strip('"'))
    if match and match.group(1) in assignments:
        value = assignments[match.group(1)].value
    base = posixpath.basename(value)
    if not base or EXPANSION in base:
        return None
    return base
