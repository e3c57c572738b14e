"""Load an MkDocs project into pages and steps, in the order a reader meets them.

MkDocs decides what the pages are and in which order, mkdocs-macros renders them
(``meshdemo.guide.mkdocs_config``), and the page reader (``meshdemo.guide.pages``) turns each
rendered page into steps. Every problem is raised before anything runs or is written: a
``ConfigError`` for mkdocs.yml, a ``ParseError`` naming the page and line for a page.

Loading MkDocs' configuration and its plugins takes most of a second, so the loaded project is
kept in ``.meshdemo/`` (``meshdemo.guide.cache``) with the list of what it was read from, and
read back while none of that changed. This module imports neither MkDocs nor markdown-it
until the project has to be read again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from meshdemo.guide.cache import Inputs, ProjectCache, cache_enabled
from meshdemo.model import Page, Project, Step


def load_project(config_file: str | Path, *, cache: bool | None = None) -> Project:
    """Read an MkDocs project: its pages in nav order and their steps, validated.

    ``cache``: read the project kept in ``.meshdemo/`` when nothing it was read from changed,
    and keep it there after reading it (default: yes, unless ``MESHDEMO_NO_CACHE=1``).
    Raises ConfigError (mkdocs.yml) or ParseError (a page) before anything is run or written.
    """
    config_path = Path(config_file).absolute()
    store = ProjectCache(config_path) if (cache_enabled() if cache is None else cache) else None
    if store is not None:
        project = store.load()
        if project is not None:
            return project
    project, inputs = read_project(config_path)
    if store is not None:
        store.save(project, inputs)
    return project


def read_project(config_path: Path) -> tuple[Project, Inputs]:
    """Read the project from its files; also say which files (and variables) it was read from."""
    from mkdocs.structure.files import get_files
    from mkdocs.structure.nav import get_navigation
    from mkdocs.utils import meta

    from meshdemo.errors import ParseError, display_path
    from meshdemo.guide.mkdocs_config import (
        Macros,
        TemplateError,
        check_nav_pages,
        config_files,
        load_config,
        macros_plugin,
        quiet_mkdocs,
    )
    from meshdemo.guide.pages import read_rendered_page, unique_ids

    inputs = Inputs.start()
    for path, env_names in config_files(config_path):
        inputs.add_file(path)
        inputs.add_env(env_names)
    config = load_config(config_path)
    with quiet_mkdocs():
        files = get_files(config)
        nav = get_navigation(files, config)
        check_nav_pages(nav, config_path)

        docs_dir = Path(config["docs_dir"])
        inputs.add_tree(docs_dir)
        macros = None
        plugin = macros_plugin(config)
        if plugin is not None:
            # each input is read for its digest before it is used: a file changed meanwhile
            # makes the next load read the project again, never keep a stale one
            _macros_inputs(inputs, plugin.config, config_path.parent, docs_dir)
            macros = Macros(plugin, config, config_path)
            macros.nav(nav, config, files)

        pages: list[Page] = []
        seen_ids: dict[str, Step] = {}
        seen_pages: set[str] = set()
        reads_run = False  # a fence reads what a run recorded (see _fence_reads_run)
        for nav_page in nav.pages:
            file = nav_page.file
            if file.src_uri in seen_pages:
                continue
            seen_pages.add(file.src_uri)
            # (MkDocs types it optional: a generated file has none; named where it would be)
            path = Path(file.abs_src_path or docs_dir / file.src_uri)
            try:
                raw = file.content_string
            except (OSError, ValueError) as error:
                raise ParseError(f"cannot read page: {error}", display_path(path)) from error
            raw = raw.replace("\r\n", "\n").replace("\r", "\n")
            reads_run = reads_run or _fence_reads_run(raw)
            markdown, page_meta = meta.get_data(raw)
            rendered = markdown
            # as Page.read_source would, without running other plugins' on_page_read_source
            nav_page.markdown, nav_page.meta = markdown, page_meta
            if macros is not None:
                try:
                    rendered = macros.render(markdown, nav_page, config, files)
                except TemplateError as error:
                    line = error.line
                    front = (
                        raw[: len(raw) - len(markdown)].count("\n") if raw.endswith(markdown) else 0
                    )
                    raise ParseError(
                        error.message, display_path(path), line + front if line else None
                    ) from None
            read = read_rendered_page(file.src_uri, rendered, source=raw, docs_dir=docs_dir)
            unique_ids(read.steps, seen_ids)
            pages.append(
                Page(
                    path=file.src_uri,
                    source=path,
                    title=nav_page.title,
                    markdown=rendered,
                    steps=tuple(read.steps),
                )
            )
    project = Project(
        config_file=config_path,
        root=config_path.parent,
        docs_dir=docs_dir,
        pages=tuple(pages),
        extra=dict(config.get("extra") or {}),
    )
    if not reads_run:
        inputs.leave_out(docs_dir, run_outputs(project))
    return project, inputs


# the macros of meshdemo.site.macros that put what a run recorded into a page
RUN_MACROS = re.compile(r"\b(?:meshdemo_run|capture|chapter_durations)\b")
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,}).*?^[ \t>]*\1", re.M | re.S)
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def _fence_reads_run(raw: str) -> bool:
    """Whether a fence of the page's text reads a run's record through a macro (then a step's
    command or options could change with the captures)."""
    return any(
        RUN_MACROS.search(template.group())
        for fence in _FENCE.finditer(raw)
        for template in _TEMPLATE.finditer(fence.group())
    )


def run_outputs(project: Project) -> list[Path]:
    """What a run writes under docs_dir: the capture store and the screenshots."""
    images = [
        (project.docs_dir / step.page).parent / step.options.image
        for step in project.steps
        if step.options.image
    ]
    return [project.captures_dir, *images]


def _macros_inputs(inputs: Inputs, options: Any, root: Path, docs_dir: Path) -> None:
    """What mkdocs-macros reads besides the pages: yaml files, templates, Python modules."""
    import importlib.util

    for entry in options.get("include_yaml") or []:
        name = next(iter(entry.values())) if isinstance(entry, dict) else entry
        inputs.add_file(root / str(name))
    include_dir = options.get("include_dir")
    if include_dir:
        folder = Path(include_dir)
        inputs.add_tree(folder if folder.is_absolute() else Path.cwd() / folder)
    # the project's own module: main.py or main/ beside mkdocs.yml (its absence counts too)
    local = root / str(options.get("module_name") or "main")
    inputs.add_file(local.with_suffix(".py"))
    if local.is_dir():
        inputs.add_tree(local)
    for name in options.get("modules") or []:
        module = str(name).split(":")[-1].strip()
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            inputs.add_file(Path(spec.origin))
