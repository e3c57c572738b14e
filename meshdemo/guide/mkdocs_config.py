"""The MkDocs side of reading a guide: its configuration, its nav, its mkdocs-macros plugin.

MkDocs itself decides what the pages are and in which order; mkdocs-macros, when the project
uses it, renders each page exactly as the site shows it (only that plugin runs: not the
others, not the hooks). MkDocs' own log lines are meant for a site build: they are kept off
the terminal and collected for error messages instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from meshdemo.errors import ConfigError, display_path

# -- logging -----------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def quiet_mkdocs() -> Iterator[list[logging.LogRecord]]:
    """Keep MkDocs' and its plugins' log lines (meant for a site build) off the terminal.

    The warnings and errors are collected instead, for error messages that need them.
    """
    logger = logging.getLogger("mkdocs")
    collect = _Collect()
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(collect)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield collect.records
    finally:
        logger.removeHandler(collect)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


# -- mkdocs.yml ----------------------------------------------------------------------------------


def _nav_lines(config_file: Path, depth: int = 0) -> tuple[Path, dict[str, int]]:
    """The file that holds ``nav:`` and the 1-based line of each page reference in it.

    Follows ``INHERIT:`` when the file itself has no nav. yaml.compose builds nodes without
    constructing them, so MkDocs' own tags (!ENV, !!python/name:...) need no constructor.
    """
    try:
        root = yaml.compose(config_file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return config_file, {}
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return config_file, lines

    def visit(node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            lines.setdefault(str(node.value), node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                visit(item)
        elif isinstance(node, yaml.MappingNode):
            for _key, value in node.value:
                visit(value)

    keys = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
    if "nav" in keys:
        visit(keys["nav"])
        return config_file, lines
    parent = keys.get("INHERIT")
    if isinstance(parent, yaml.ScalarNode) and depth < 10:
        return _nav_lines(config_file.parent / str(parent.value), depth + 1)
    return config_file, lines


_ENV_TAG = re.compile(r"!ENV\s+(\[[^\]\n]*\]|[^\s\]\[,]+)")


def config_files(config_file: Path) -> list[tuple[Path, list[str]]]:
    """The configuration file and those it inherits (``INHERIT:``), each with the environment
    variables it reads (``!ENV NAME``, ``!ENV [NAME, OTHER, default]``): what a loaded
    configuration depends on."""
    found: list[tuple[Path, list[str]]] = []
    path: Path | None = config_file
    while path is not None and len(found) < 10 and path not in [p for p, _ in found]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            found.append((path, []))
            break
        names: list[str] = []
        for match in _ENV_TAG.finditer(text):
            value = match.group(1)
            items = value.strip("[]").split(",") if value.startswith("[") else [value]
            # in a list, the last item is the default unless it is the only one
            candidates = items[:-1] if len(items) > 1 else items
            names += [item.strip().strip("'\"") for item in candidates if item.strip()]
        found.append((path, names))
        path = _inherited(path, text)
    return found


def _inherited(config_file: Path, text: str) -> Path | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        found = isinstance(key, yaml.ScalarNode) and key.value == "INHERIT"
        if found and isinstance(value, yaml.ScalarNode):
            return (config_file.parent / str(value.value)).absolute()
    return None


# Modules that plugins import at their own import but use only in a build, if ever:
# mkdocs-macros imports requests (~40 ms, a third of loading its plugin) to ask PyPI whether a
# pluglet exists. Reading a project imports them on first use instead.
ON_FIRST_USE = ("requests",)


class _OnFirstUse(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet: the first attribute it is
    asked for (other than its spec, which ``import`` reads) imports the module for real.

    (importlib's LazyLoader cannot serve here: an ``import`` statement reads ``__spec__``,
    which makes a lazy module load.)
    """

    def __getattr__(self, attribute: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        self.__dict__.update(real.__dict__)  # what is asked again is found without this
        return getattr(real, attribute)


def import_on_first_use(name: str) -> None:
    """Make ``import name`` cheap until the module is used (see :class:`_OnFirstUse`);
    nothing when it is imported already or is not installed."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return
    stand_in = _OnFirstUse(name)
    stand_in.__spec__ = spec
    sys.modules[name] = stand_in


def load_config(config_file: Path) -> Any:
    for name in ON_FIRST_USE:
        import_on_first_use(name)
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    if not config_file.is_file():
        raise ConfigError("no such MkDocs configuration file", display_path(config_file))
    with quiet_mkdocs() as logged:
        try:
            # without the pages' Markdown extensions: reading steps needs none of them (the
            # build runs them), and validating them makes a Markdown instance with all of
            # them (Material's emoji index alone takes ~50 ms)
            return load_config(str(config_file), markdown_extensions=[])
        except MkDocsException as error:
            # load_config logs what is wrong, then raises a bare "Aborted ..."
            details = [r.getMessage() for r in logged if r.levelno >= logging.ERROR]
            message = "; ".join(details) or str(error)
            cause = error.__cause__ or error.__context__
            mark = getattr(cause, "problem_mark", None)  # a YAML syntax error knows its line
            raise ConfigError(
                f"invalid MkDocs configuration: {message}",
                display_path(config_file),
                mark.line + 1 if mark is not None else None,
            ) from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read: {error}", display_path(config_file)) from error


def check_nav_pages(nav: Any, config_file: Path) -> None:
    """MkDocs only warns about a nav entry with no page; for a runbook it is an error."""
    from urllib.parse import urlsplit

    from mkdocs.structure.nav import Link, _get_by_type

    for link in _get_by_type(nav.items, Link):
        scheme, netloc, *_ = urlsplit(link.url)
        if scheme or netloc or link.url.startswith("/"):
            continue
        nav_file, lines = _nav_lines(config_file)
        raise ConfigError(
            f"nav entry {link.url!r} names no page in docs_dir",
            display_path(nav_file),
            lines.get(link.url),
        )


# -- macros --------------------------------------------------------------------------------------


class Macros:
    """The project's mkdocs-macros plugin, driven alone through its own events."""

    def __init__(self, plugin: Any, config: Any, config_file: Path):
        self.plugin = plugin
        self.config_file = config_file
        # fail instead of rendering an error message into the page; an undefined variable in a
        # command is a bug, not something to run with the braces left in
        plugin.config["on_error_fail"] = True
        plugin.config["on_undefined"] = "strict"
        try:
            plugin.on_config(config)
        except SystemExit as error:  # mkdocs-macros exits on errors when on_error_fail
            cause = error.__context__ or error
            raise ConfigError(f"mkdocs-macros: {cause}", display_path(config_file)) from None
        except Exception as error:
            raise ConfigError(f"mkdocs-macros: {error}", display_path(config_file)) from error

    def nav(self, nav: Any, config: Any, files: Any) -> None:
        self.plugin.on_nav(nav, config=config, files=files)

    def render(self, markdown: str, page: Any, config: Any, files: Any) -> str:
        try:
            return self.plugin.on_page_markdown(markdown, page=page, config=config, files=files)
        except SystemExit as error:
            cause = error.__context__
            if cause is None:
                raise
            raise TemplateError(cause) from None
        except Exception as error:  # a render that raised before the plugin's own handler
            raise TemplateError(error) from error


class TemplateError(Exception):
    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause

    @property
    def line(self) -> int | None:
        """Line in the template (the page without front matter) the error points at."""
        lineno = getattr(self.cause, "lineno", None)
        if isinstance(lineno, int) and lineno > 0:
            return lineno
        tb = self.cause.__traceback__
        found = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<template>":
                found = tb.tb_lineno
            tb = tb.tb_next
        return found

    @property
    def message(self) -> str:
        kind = type(self.cause).__name__
        text = getattr(self.cause, "message", None) or str(self.cause)
        return f"macro error ({kind}): {text}"


def macros_plugin(config: Any) -> Any | None:
    """The project's mkdocs-macros plugin, under whatever name mkdocs.yml gives it."""
    for plugin in (config.plugins or {}).values():
        if type(plugin).__module__.split(".")[0] == "mkdocs_macros":
            return plugin
    return None
