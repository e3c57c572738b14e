"""Load an MkDocs project into pages and steps, in the order a reader meets them.

MkDocs decides what the pages are and in which order, mkdocs-macros renders them
(``meshdemo.guide.mkdocs_config``), and the page reader (``meshdemo.guide.pages``) turns each
rendered page into steps. Every problem is raised before anything runs or is written: a
``ConfigError`` for mkdocs.yml, a ``ParseError`` naming the page and line for a page.

This module imports neither MkDocs nor markdown-it until a project is read.
"""

from __future__ import annotations

from pathlib import Path

from meshdemo.model import Page, Project, Step


def load_project(config_file: str | Path) -> Project:
    """Read an MkDocs project: its pages in nav order and their steps, validated.

    Raises ConfigError (mkdocs.yml) or ParseError (a page) before anything is run or written.
    """
    return read_project(Path(config_file).absolute())


def read_project(config_path: Path) -> Project:
    """Read the project from its files."""
    from mkdocs.structure.files import get_files
    from mkdocs.structure.nav import get_navigation
    from mkdocs.utils import meta

    from meshdemo.errors import ParseError, display_path
    from meshdemo.guide.mkdocs_config import (
        Macros,
        TemplateError,
        check_nav_pages,
        load_config,
        macros_plugin,
        quiet_mkdocs,
    )
    from meshdemo.guide.pages import read_rendered_page, unique_ids

    config = load_config(config_path)
    with quiet_mkdocs():
        files = get_files(config)
        nav = get_navigation(files, config)
        check_nav_pages(nav, config_path)

        docs_dir = Path(config["docs_dir"])
        macros = None
        plugin = macros_plugin(config)
        if plugin is not None:
            macros = Macros(plugin, config, config_path)
            macros.nav(nav, config, files)

        pages: list[Page] = []
        seen_ids: dict[str, Step] = {}
        seen_pages: set[str] = set()
        for nav_page in nav.pages:
            file = nav_page.file
            if file.src_uri in seen_pages:
                continue
            seen_pages.add(file.src_uri)
            path = Path(file.abs_src_path)
            try:
                raw = file.content_string
            except (OSError, ValueError) as error:
                raise ParseError(f"cannot read page: {error}", display_path(path)) from error
            raw = raw.replace("\r\n", "\n").replace("\r", "\n")
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
                    steps=read.steps,
                )
            )
    return Project(
        config_file=config_path,
        root=config_path.parent,
        docs_dir=docs_dir,
        pages=tuple(pages),
        extra=dict(config.get("extra") or {}),
    )
