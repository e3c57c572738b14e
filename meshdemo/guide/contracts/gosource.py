"""A small evaluator of Go source, enough to read what a cobra CLI declares without building it.

The source tree is indexed (packages, functions, methods, package-level constants and
variables, imports) with tree-sitter's Go grammar. ``Evaluator.call`` then walks a function
the way Go would run it at start-up: locals are bound, helper functions are followed with
their arguments, both branches of an ``if`` whose condition is not known are taken (a flag
declared on either branch exists), and function literals (``RunE`` bodies, which only run
when a command does) are never entered. Values it cannot know are ``UNKNOWN``.

Types with behaviour (cobra commands, pflag flag sets) are plugged in by the caller through
``Evaluator.method_hooks`` and ``Evaluator.literal_hooks``; this module knows Go, not cobra.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SKIPPED_DIRS = {"vendor", "testdata", "node_modules", ".git"}


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def known(value: Any) -> bool:
    return value is not UNKNOWN


class GoSourceError(Exception):
    """The source tree cannot be read as Go (no go.mod, no such function...)."""


def _parser() -> Any:
    import tree_sitter
    import tree_sitter_go

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_go.language()))


def text(node: Any) -> str:
    return node.text.decode("utf-8")


def string_literal(node: Any) -> str | None:
    """The value of a Go string literal node (interpreted or raw), else None."""
    if node.type == "raw_string_literal":
        return text(node)[1:-1]
    if node.type == "interpreted_string_literal":
        body = text(node)[1:-1]
        return _unescape(body)
    return None


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _unescape(body: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in _ESCAPES:
            return _ESCAPES[escape[0]]
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16))
        return chr(int(escape, 8))

    return re.sub(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", replace, body)


@dataclass
class SourceFile:
    path: Path
    package_dir: str  # relative to the module root, "" for the root
    package: str
    imports: dict[str, str]  # local name -> package dir (only packages inside the module)
    external: dict[str, str]  # local name -> import path (packages outside the module)
    root: Any


@dataclass
class Decl:
    node: Any
    file: SourceFile


@dataclass
class Package:
    dir: str
    name: str
    functions: dict[str, Decl] = field(default_factory=dict)
    methods: dict[str, list[Decl]] = field(default_factory=dict)
    values: dict[str, tuple[Decl, int]] = field(default_factory=dict)  # name -> (spec, index)
    types: dict[str, Decl] = field(default_factory=dict)


class SourceTree:
    """The Go packages of one module checkout, indexed by directory."""

    def __init__(self, root: Path, under: tuple[str, ...] = ()) -> None:
        self.root = root
        gomod = root / "go.mod"
        if not gomod.is_file():
            raise GoSourceError(f"{root}: no go.mod (not the root of a Go module checkout)")
        match = re.search(r"(?m)^module\s+(\S+)", gomod.read_text(encoding="utf-8"))
        if not match:
            raise GoSourceError(f"{gomod}: no module line")
        self.module = match.group(1)
        self.packages: dict[str, Package] = {}
        parser = _parser()
        tops = [root / part for part in under] if under else [root]
        for top in tops:
            for path in sorted(self._go_files(top)):
                self._index(parser, path)

    def _go_files(self, top: Path) -> Iterator[Path]:
        for path in top.rglob("*.go"):
            relative = path.relative_to(self.root).parts
            if path.name.endswith("_test.go") or SKIPPED_DIRS & set(relative):
                continue
            yield path

    def _index(self, parser: Any, path: Path) -> None:
        tree = parser.parse(path.read_bytes())
        root = tree.root_node
        package_dir = path.parent.relative_to(self.root).as_posix()
        package_dir = "" if package_dir == "." else package_dir
        name = ""
        imports: dict[str, str] = {}
        external: dict[str, str] = {}
        for child in root.children:
            if child.type == "package_clause":
                name = text(child.named_children[0])
            elif child.type == "import_declaration":
                for spec in _descendants(child, "import_spec"):
                    import_path = string_literal(spec.child_by_field_name("path")) or ""
                    alias_node = spec.child_by_field_name("name")
                    alias = text(alias_node) if alias_node is not None else ""
                    if import_path == self.module or import_path.startswith(self.module + "/"):
                        target = import_path[len(self.module) + 1 :]
                        imports[alias or f"\0{target}"] = target
                    else:
                        external[alias or import_path.rsplit("/", 1)[-1]] = import_path
        if name.endswith("_test") or name == "":
            return
        source = SourceFile(path, package_dir, name, imports, external, root)
        package = self.packages.setdefault(package_dir, Package(package_dir, name))
        for child in root.children:
            if child.type == "function_declaration":
                package.functions[text(child.child_by_field_name("name"))] = Decl(child, source)
            elif child.type == "method_declaration":
                method = text(child.child_by_field_name("name"))
                package.methods.setdefault(method, []).append(Decl(child, source))
            elif child.type in ("const_declaration", "var_declaration"):
                self._index_values(child, source, package)
            elif child.type == "type_declaration":
                for spec in _descendants(child, "type_spec"):
                    package.types[text(spec.child_by_field_name("name"))] = Decl(spec, source)

    @staticmethod
    def _index_values(declaration: Any, source: SourceFile, package: Package) -> None:
        previous_values = None  # Go repeats the last expression list in a const block (iota)
        for spec in _descendants(declaration, ("const_spec", "var_spec")):
            names = [c for c in spec.children_by_field_name("name") if c.type == "identifier"]
            values = spec.child_by_field_name("value")
            if values is None and spec.type == "const_spec":
                values = previous_values
            previous_values = values
            for index, name_node in enumerate(names):
                if values is not None:
                    package.values[text(name_node)] = (Decl(spec, source), index)

    def resolve_imports(self) -> None:
        """Name the imports that had no alias by the package name their directory declares."""
        for package in self.packages.values():
            for decl in [
                *package.functions.values(),
                *(d for ds in package.methods.values() for d in ds),
            ]:
                self._name_imports(decl.file)
            for decl, _ in package.values.values():
                self._name_imports(decl.file)

    def _name_imports(self, source: SourceFile) -> None:
        for key in [k for k in source.imports if k.startswith("\0")]:
            target = source.imports.pop(key)
            package = self.packages.get(target)
            source.imports[package.name if package else target.rsplit("/", 1)[-1]] = target

    def function(self, package_dir: str, name: str) -> Decl:
        package = self.packages.get(package_dir)
        if package is None or name not in package.functions:
            raise GoSourceError(
                f"no function {name} in package {package_dir or '.'} of {self.module}"
            )
        return package.functions[name]


def _walk(node: Any) -> Iterator[Any]:
    for child in node.children:
        yield child
        yield from _walk(child)


def _descendants(node: Any, types: str | tuple[str, ...]) -> Iterator[Any]:
    wanted = (types,) if isinstance(types, str) else types
    for child in node.children:
        if child.type in wanted:
            yield child
        else:
            yield from _descendants(child, wanted)


@dataclass
class Frame:
    file: SourceFile
    locals: dict[str, Any]
    returns: list[tuple[Any, ...]] = field(default_factory=list)
    pinned: frozenset[str] = frozenset()


MethodHook = Callable[[Any, str, list[Any], Any], Any]
LiteralHook = Callable[[str, dict[str, Any], Any], Any]


class Evaluator:
    """Runs Go functions symbolically; see the module docstring."""

    MAX_DEPTH = 60

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        tree.resolve_imports()
        self.globals: dict[tuple[str, str], Any] = {}
        self.stack: list[int] = []
        # (value, method name, arguments, call node) -> result, or NotImplemented
        self.method_hooks: list[MethodHook] = []
        # (qualified type "import/path.Type", keyed fields, node) -> value, or NotImplemented
        self.literal_hooks: list[LiteralHook] = []
        # field assignment on a value: (value, field, new value) -> True when handled
        self.field_hooks: list[Callable[[Any, str, Any], bool]] = []
        # fields read from a value: (value, field) -> value or NotImplemented
        self.read_hooks: list[Callable[[Any, str], Any]] = []
        # calls into packages outside the module: (import path, name, arguments) -> result
        self.external_hooks: list[Callable[[str, str, list[Any]], Any]] = []
        self.current_file = ""  # the file being evaluated, relative to the tree (for notes)
        # the value unknown format arguments take in fmt.Sprintf (None: the result is unknown)
        self.unknown_format_argument: str | None = None

    # -- entry points -------------------------------------------------------------------------

    def call_function(self, package_dir: str, name: str, args: list[Any] | None = None) -> Any:
        decl = self.tree.function(package_dir, name)
        return self._invoke(decl, args or [], receiver=UNKNOWN)

    def run_function(
        self, package_dir: str, name: str, bindings: dict[str, Any], pinned: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Run a function with some parameters (or locals) bound; return its final locals.
        Pinned locals keep their bound value whatever the function assigns them (a fact of
        the case being read: "no row has destination stats")."""
        decl = self.tree.function(package_dir, name)
        frame = Frame(decl.file, dict(bindings), pinned=frozenset(pinned))
        self.stack.append(id(decl.node))
        try:
            self._block(decl.node.child_by_field_name("body"), frame)
        finally:
            self.stack.pop()
        return frame.locals

    # -- functions ----------------------------------------------------------------------------

    def _invoke(self, decl: Decl, args: list[Any], receiver: Any) -> Any:
        key = id(decl.node)
        if key in self.stack or len(self.stack) >= self.MAX_DEPTH:
            return UNKNOWN
        frame = Frame(decl.file, {})
        caller_file, self.current_file = self.current_file, self._relative(decl.file)
        receiver_list = decl.node.child_by_field_name("receiver")
        if receiver_list is not None:
            for parameter in _descendants(receiver_list, "parameter_declaration"):
                name = parameter.child_by_field_name("name")
                if name is not None:
                    frame.locals[text(name)] = receiver
        self._bind_parameters(decl.node.child_by_field_name("parameters"), args, frame)
        self.stack.append(key)
        try:
            body = decl.node.child_by_field_name("body")
            if body is not None:
                self._block(body, frame)
        finally:
            self.stack.pop()
            self.current_file = caller_file
        return self._merge_returns(frame.returns)

    def _relative(self, source: SourceFile) -> str:
        return source.path.relative_to(self.tree.root).as_posix()

    def _bind_parameters(self, parameters: Any, args: list[Any], frame: Frame) -> None:
        position = 0
        for parameter in parameters.named_children:
            names = [c for c in parameter.children_by_field_name("name")]
            if parameter.type == "variadic_parameter_declaration":
                for name in names:
                    frame.locals[text(name)] = list(args[position:])
                return
            for name in names:
                frame.locals[text(name)] = args[position] if position < len(args) else UNKNOWN
                position += 1
            if not names:
                position += 1

    @staticmethod
    def _merge_returns(returns: list[tuple[Any, ...]]) -> Any:
        if not returns:
            return UNKNOWN
        width = max(len(r) for r in returns)
        merged: list[Any] = [UNKNOWN] * width
        for values in returns:
            for index, value in enumerate(values):
                if (known(value) and value is not None) or not known(merged[index]):
                    merged[index] = value
        return merged[0] if width == 1 else tuple(merged)

    # -- statements ---------------------------------------------------------------------------

    def _block(self, node: Any, frame: Frame) -> None:
        for statement in node.named_children:
            self._statement(statement, frame)

    def _statement(self, node: Any, frame: Frame) -> None:
        kind = node.type
        if kind in ("block", "statement_list"):
            self._block(node, frame)
        elif kind == "expression_statement":
            self._expr(node.named_children[0], frame)
        elif kind in ("short_var_declaration", "assignment_statement"):
            self._assign(node, frame, declare=kind == "short_var_declaration")
        elif kind == "var_declaration":
            for spec in _descendants(node, "var_spec"):
                names = [c for c in spec.children_by_field_name("name") if c.type == "identifier"]
                values = spec.child_by_field_name("value")
                evaluated = self._expr_list(values, frame, len(names)) if values else []
                for index, name in enumerate(names):
                    frame.locals[text(name)] = (
                        evaluated[index] if index < len(evaluated) else self._zero(spec)
                    )
        elif kind == "return_statement":
            values = node.named_children
            if values:
                frame.returns.append(tuple(self._expr_list(values[0], frame, 0)))
            else:
                frame.returns.append(())
        elif kind == "if_statement":
            initializer = node.child_by_field_name("initializer")
            if initializer is not None:
                self._statement(initializer, frame)
            condition = self._expr(node.child_by_field_name("condition"), frame)
            consequence = node.child_by_field_name("consequence")
            alternative = node.child_by_field_name("alternative")
            if condition is True or not isinstance(condition, bool):
                self._statement(consequence, frame)
            if alternative is not None and (condition is False or not isinstance(condition, bool)):
                self._statement(alternative, frame)
        elif kind == "for_statement":
            self._for(node, frame)
        elif kind in ("expression_switch_statement", "type_switch_statement", "select_statement"):
            initializer = node.child_by_field_name("initializer")
            if initializer is not None:
                self._statement(initializer, frame)
            for case in node.named_children:
                if case.type in (
                    "expression_case",
                    "default_case",
                    "type_case",
                    "communication_case",
                ):
                    for statement in case.named_children:
                        if statement.type not in ("expression_list", "type_list"):
                            self._statement(statement, frame)
        elif kind == "labeled_statement":
            for child in node.named_children[1:]:
                self._statement(child, frame)
        # go, defer, inc/dec, send, break, continue, goto, fallthrough: nothing declared there

    def _zero(self, spec: Any) -> Any:
        type_node = spec.child_by_field_name("type")
        if type_node is not None and text(type_node) == "string":
            return ""
        if type_node is not None and text(type_node) == "bool":
            return False
        return UNKNOWN

    def _for(self, node: Any, frame: Frame) -> None:
        body = node.child_by_field_name("body")
        clause = next((c for c in node.named_children if c.type == "range_clause"), None)
        if clause is None:
            self._statement(body, frame)
            return
        left = clause.child_by_field_name("left")
        names = [text(c) for c in left.named_children] if left is not None else []
        items = self._expr(clause.child_by_field_name("right"), frame)
        if isinstance(items, list) and len(items) <= 200:
            for index, item in enumerate(items):
                bound = [index, item]
                for name, value in zip(names, bound, strict=False):
                    frame.locals[name] = value
                self._statement(body, frame)
        else:
            for name in names:
                frame.locals[name] = UNKNOWN
            self._statement(body, frame)

    def _assign(self, node: Any, frame: Frame, declare: bool) -> None:
        left = node.child_by_field_name("left").named_children
        operator = node.child_by_field_name("operator")
        right = self._expr_list(node.child_by_field_name("right"), frame, len(left))
        if operator is not None and text(operator) not in ("=", ":="):
            if text(operator) == "+=" and len(left) == 1:
                current = self._expr(left[0], frame)
                if isinstance(current, str) and isinstance(right[0], str):
                    right = [current + right[0]]
                else:
                    right = [UNKNOWN]
            else:
                return
        for index, target in enumerate(left):
            value = right[index] if index < len(right) else UNKNOWN
            if target.type == "identifier":
                name = text(target)
                if name == "_" or name in frame.pinned:
                    continue
                if declare or name in frame.locals:
                    frame.locals[name] = value
                else:
                    package = self.tree.packages.get(frame.file.package_dir)
                    if package is not None and name in package.values:
                        self.globals[(frame.file.package_dir, name)] = value
                    else:
                        frame.locals[name] = value
            elif target.type == "selector_expression":
                owner = self._expr(target.child_by_field_name("operand"), frame)
                name = text(target.child_by_field_name("field"))
                for hook in self.field_hooks:
                    if hook(owner, name, value):
                        break
                else:
                    if isinstance(owner, dict):
                        owner[name] = value

    def _expr_list(self, node: Any, frame: Frame, wanted: int) -> list[Any]:
        expressions = node.named_children if node.type == "expression_list" else [node]
        values = [self._expr(e, frame) for e in expressions]
        if len(values) == 1 and isinstance(values[0], tuple) and wanted != 1:
            return list(values[0])
        return values

    # -- expressions --------------------------------------------------------------------------

    def _expr(self, node: Any, frame: Frame) -> Any:
        if node is None:
            return UNKNOWN
        kind = node.type
        if kind in ("interpreted_string_literal", "raw_string_literal"):
            return string_literal(node)
        if kind == "int_literal":
            try:
                return int(text(node).replace("_", ""), 0)
            except ValueError:
                return UNKNOWN
        if kind in ("true", "false"):
            return kind == "true"
        if kind == "nil":
            return None
        if kind == "identifier":
            return self._identifier(text(node), frame)
        if kind == "parenthesized_expression":
            return self._expr(node.named_children[0], frame)
        if kind == "unary_expression":
            operand = self._expr(node.child_by_field_name("operand"), frame)
            operator = text(node.child_by_field_name("operator"))
            if operator == "!":
                return (not operand) if isinstance(operand, bool) else UNKNOWN
            if operator in ("&", "*"):
                return operand
            return UNKNOWN
        if kind == "binary_expression":
            return self._binary(node, frame)
        if kind == "selector_expression":
            return self._selector(node, frame)
        if kind == "call_expression":
            return self._call(node, frame)
        if kind == "composite_literal":
            return self._composite(node, frame)
        if kind == "func_literal":
            return UNKNOWN
        if kind == "index_expression":
            operand = self._expr(node.child_by_field_name("operand"), frame)
            index = self._expr(node.child_by_field_name("index"), frame)
            if isinstance(operand, list) and isinstance(index, int) and -1 < index < len(operand):
                return operand[index]
            return UNKNOWN
        return UNKNOWN

    def _identifier(self, name: str, frame: Frame) -> Any:
        if name in frame.locals:
            return frame.locals[name]
        if name in ("true", "false"):
            return name == "true"
        if name == "nil":
            return None
        return self._package_value(frame.file.package_dir, name)

    def _package_value(self, package_dir: str, name: str) -> Any:
        key = (package_dir, name)
        if key in self.globals:
            return self.globals[key]
        package = self.tree.packages.get(package_dir)
        if package is None or name not in package.values:
            return UNKNOWN
        decl, index = package.values[name]
        self.globals[key] = UNKNOWN  # a cycle reads UNKNOWN
        values = decl.node.child_by_field_name("value")
        frame = Frame(decl.file, {})
        expressions = values.named_children if values.type == "expression_list" else [values]
        value = self._expr(expressions[index], frame) if index < len(expressions) else UNKNOWN
        if isinstance(value, tuple):
            value = value[index] if index < len(value) else UNKNOWN
        self.globals[key] = value
        return value

    def _binary(self, node: Any, frame: Frame) -> Any:
        operator = text(node.child_by_field_name("operator"))
        left = self._expr(node.child_by_field_name("left"), frame)
        if operator == "&&" and left is False:
            return False
        if operator == "||" and left is True:
            return True
        right = self._expr(node.child_by_field_name("right"), frame)
        if operator in ("&&", "||"):
            if isinstance(left, bool) and isinstance(right, bool):
                return (left and right) if operator == "&&" else (left or right)
            if operator == "&&" and right is False:
                return False
            if operator == "||" and right is True:
                return True
            return UNKNOWN
        if not (known(left) and known(right)):
            return UNKNOWN
        if operator == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        if (
            operator in ("==", "!=")
            and isinstance(left, str | int | bool)
            and isinstance(right, str | int | bool)
        ):
            return (left == right) if operator == "==" else (left != right)
        if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool):
            arithmetic = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__}
            if operator in arithmetic:
                return arithmetic[operator](left, right)
        return UNKNOWN

    def _selector(self, node: Any, frame: Frame) -> Any:
        operand_node = node.child_by_field_name("operand")
        name = text(node.child_by_field_name("field"))
        if operand_node.type == "identifier" and text(operand_node) not in frame.locals:
            alias = text(operand_node)
            if alias in frame.file.imports:
                return self._package_value(frame.file.imports[alias], name)
            if alias in frame.file.external:
                return UNKNOWN
        owner = self._expr(operand_node, frame)
        for hook in self.read_hooks:
            value = hook(owner, name)
            if value is not NotImplemented:
                return value
        if isinstance(owner, dict):
            return owner.get(name, UNKNOWN)
        return UNKNOWN

    def _arguments(self, node: Any, frame: Frame) -> list[Any]:
        values: list[Any] = []
        for argument in node.named_children:
            if argument.type == "variadic_argument":
                spread = self._expr(argument.named_children[0], frame)
                values.extend(spread if isinstance(spread, list) else [UNKNOWN])
            else:
                values.append(self._expr(argument, frame))
        return values

    def _call(self, node: Any, frame: Frame) -> Any:
        function = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        args = self._arguments(arguments, frame) if arguments is not None else []
        if function.type == "identifier":
            name = text(function)
            if name in frame.locals:
                return UNKNOWN
            if name == "append":
                if args and isinstance(args[0], list):
                    return [*args[0], *args[1:]]
                return UNKNOWN
            if name in ("make", "new", "len", "cap", "string"):
                return [] if name == "make" and text(arguments).startswith("([]") else UNKNOWN
            package = self.tree.packages.get(frame.file.package_dir)
            if package is not None and name in package.functions:
                return self._invoke(package.functions[name], args, UNKNOWN)
            return UNKNOWN
        if function.type == "selector_expression":
            operand_node = function.child_by_field_name("operand")
            method = text(function.child_by_field_name("field"))
            if operand_node.type == "identifier" and text(operand_node) not in frame.locals:
                alias = text(operand_node)
                if alias in frame.file.imports:
                    package = self.tree.packages.get(frame.file.imports[alias])
                    if package is not None and method in package.functions:
                        return self._invoke(package.functions[method], args, UNKNOWN)
                    return UNKNOWN
                if alias in frame.file.external:
                    return self._external_call(frame.file.external[alias], method, args, node)
            receiver = self._expr(operand_node, frame)
            for hook in self.method_hooks:
                result = hook(receiver, method, args, node)
                if result is not NotImplemented:
                    return result
            return self._method(frame, receiver, method, args)
        return UNKNOWN

    def _method(self, frame: Frame, receiver: Any, method: str, args: list[Any]) -> Any:
        """A method of the module's own types: found by name, in the caller's package first."""
        package = self.tree.packages.get(frame.file.package_dir)
        candidates = package.methods.get(method, []) if package is not None else []
        if len(candidates) == 1:
            return self._invoke(candidates[0], args, receiver)
        return UNKNOWN

    def _external_call(self, import_path: str, name: str, args: list[Any], node: Any) -> Any:
        for hook in self.external_hooks:
            result = hook(import_path, name, args)
            if result is not NotImplemented:
                return result
        if import_path == "fmt" and name == "Sprintf" and args and isinstance(args[0], str):
            return self._sprintf(args[0], args[1:])
        if import_path == "strings" and name == "Join" and len(args) == 2:
            items, separator = args
            if (
                isinstance(items, list)
                and isinstance(separator, str)
                and all(isinstance(i, str) for i in items)
            ):
                return separator.join(items)
        return UNKNOWN

    def _sprintf(self, template: str, args: list[Any]) -> Any:
        pieces: list[str] = []
        position = 0
        remaining = list(args)
        for match in re.finditer(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])", template):
            pieces.append(template[position : match.start()])
            position = match.end()
            flags, width, _, verb = match.groups()
            if verb == "%":
                pieces.append("%")
                continue
            value = remaining.pop(0) if remaining else UNKNOWN
            if not known(value) or value is None:
                if self.unknown_format_argument is None:
                    return UNKNOWN
                value = self.unknown_format_argument
            rendered = f'"{value}"' if verb == "q" else str(value)
            if width and width != "*":
                rendered = (
                    rendered.ljust(int(width)) if "-" in flags else rendered.rjust(int(width))
                )
            pieces.append(rendered)
        pieces.append(template[position:])
        return "".join(pieces)

    def _composite(self, node: Any, frame: Frame) -> Any:
        type_node = node.child_by_field_name("type")
        body = node.child_by_field_name("body")
        type_text = text(type_node)
        elements = [
            c for c in body.named_children if c.type in ("keyed_element", "literal_element")
        ]
        if type_node.type in ("slice_type", "array_type", "implicit_length_array_type"):
            return [self._literal_element(e, frame) for e in elements if e.type != "keyed_element"]
        qualified = self._qualify(type_node, frame)
        fields: dict[str, Any] = {}
        for element in elements:
            if element.type == "keyed_element":
                key_node, value_node = element.named_children[0], element.named_children[-1]
                fields[text(key_node)] = (
                    "<func>"
                    if _first(value_node).type == "func_literal"
                    else self._literal_element(value_node, frame)
                )
        for hook in self.literal_hooks:
            result = hook(qualified or type_text, fields, node)
            if result is not NotImplemented:
                return result
        return fields

    def _literal_element(self, node: Any, frame: Frame) -> Any:
        inner = _first(node)
        if inner.type == "literal_value":  # an elided type: {...} inside a slice
            return UNKNOWN
        return self._expr(inner, frame)

    def _qualify(self, type_node: Any, frame: Frame) -> str | None:
        if type_node.type == "qualified_type":
            alias = text(type_node.child_by_field_name("package"))
            name = text(type_node.child_by_field_name("name"))
            target = frame.file.external.get(alias) or frame.file.imports.get(alias)
            return f"{target}.{name}" if target else None
        return None

    # -- types --------------------------------------------------------------------------------

    def struct_tags(self, package_dir: str, type_name: str, key: str) -> list[str]:
        """The values of one tag key (``json``) of a struct type's fields, in declaration order;
        the field's own name when it has no such tag; options (``,omitempty``) removed."""
        package = self.tree.packages.get(package_dir)
        if package is None or type_name not in package.types:
            raise GoSourceError(f"no type {type_name} in package {package_dir}")
        spec = package.types[type_name].node
        names: list[str] = []
        for declaration in _descendants(spec, "field_declaration"):
            tag_node = declaration.child_by_field_name("tag")
            tag = string_literal(tag_node) if tag_node is not None else ""
            match = re.search(rf'(?:^|\s){re.escape(key)}:"([^"]*)"', tag or "")
            field_names = [text(c) for c in declaration.children_by_field_name("name")]
            if match:
                value = match.group(1).split(",", 1)[0]
                if value != "-":
                    names.append(value or field_names[0])
            else:
                names.extend(field_names)
        return names

    def function_calls(self, package_dir: str, function: str, callee: str) -> list[list[Any]]:
        """The arguments of every call to ``callee`` (``pkg.Name`` or ``Name``) written in a
        function, in source order, evaluated without running the function."""
        decl = self.tree.function(package_dir, function)
        frame = Frame(decl.file, {})
        found: list[list[Any]] = []
        for call in _walk(decl.node):
            if (
                call.type == "call_expression"
                and text(call.child_by_field_name("function")) == callee
            ):
                found.append(self._arguments(call.child_by_field_name("arguments"), frame))
        return found

    def slice_literals(self, package_dir: str, function: str, element_type: str) -> list[list[Any]]:
        """Every ``[]element_type{...}`` literal written in a function, in source order, its
        elements evaluated (unknown ones are UNKNOWN)."""
        decl = self.tree.function(package_dir, function)
        frame = Frame(decl.file, {})
        found: list[list[Any]] = []
        for literal in _walk(decl.node):
            if literal.type != "composite_literal":
                continue
            type_node = literal.child_by_field_name("type")
            if (
                type_node.type == "slice_type"
                and text(type_node.child_by_field_name("element")) == element_type
            ):
                found.append(self._composite(literal, frame))
        return found


def _first(node: Any) -> Any:
    return (
        node.named_children[0] if node.type == "literal_element" and node.named_children else node
    )
