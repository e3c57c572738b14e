"""What only MkDocs (and ProperDocs) offer, over the Markdown extension: the build log.

``hooks/meshdemo_hook.py`` forwards MkDocs' events here. Nothing a reader sees comes from here
(``meshdemo.site.markdown`` renders the captures in every engine); the hook only

* stops a build whose ``mkdocs.yml`` forgot the extension, instead of silently showing no
  capture;
* leaves the capture files out of the built site (they are build inputs; ``mkdocs serve`` still
  watches them, so a new capture rebuilds the pages);
* names capture files that no step owns any more, after the build;
* under ``mkdocs serve`` only, has the pages follow a replay, rebuilding them as it goes on;
* hands Material's search plugin each page without the blocks its index leaves out anyway
  (``meshdemo.site.search``): the same index, without parsing them.

Stale captures are warnings logged by the extension on MkDocs' logger: ``--strict`` fails on
them with or without this hook.
"""

from __future__ import annotations

import logging
import os
import posixpath
import sys
from pathlib import Path
from typing import Any

from meshdemo.captures import STORE_FILES, TEXT_SUFFIX, CaptureStore
from meshdemo.model import RUN_DIR
from meshdemo.site import markdown as extension
from meshdemo.site import search

log = logging.getLogger("mkdocs.plugins.meshdemo")
EXTENSION = "meshdemo.site.markdown"


def _errors(config: Any) -> Any:
    """The exceptions module of the engine running us (mkdocs, or properdocs)."""
    import importlib

    return importlib.import_module(f"{type(config).__module__.split('.')[0]}.exceptions")


def store_for(config: Any) -> CaptureStore:
    options = config["mdx_configs"].get(EXTENSION) or {}
    where = extension.Where(
        page="",
        docs_dir=Path(config["docs_dir"]),
        root=Path(config["config_file_path"]).parent,
        page_file=None,
    )
    return CaptureStore(extension.captures_dir(where, options))


def on_startup(command: str, dirty: bool) -> None:
    """Only a served site follows a replay: a build shows what ran, whatever plays meanwhile."""
    extension.follow_replay = command == "serve"


def on_config(config: Any) -> Any:
    if EXTENSION not in config["markdown_extensions"]:
        raise _errors(config).PluginError(
            f"meshdemo: {config['config_file_path']}: add `- {EXTENSION}` to markdown_extensions; "
            "without it no capture, status or screenshot reaches the pages"
        )
    extension.keep_unindexed_blocks = _search_reads_alone(config)
    return config


# -- the search index --------------------------------------------------------------------------

# Around Material's search plugin, which reads each page at the default priority (0): the page
# without the blocks its index leaves out, then the page whole again.
HIDE_PRIORITY = 0.5
SHOW_PRIORITY = -0.5
_whole: dict[str, str] = {}  # page -> its content, while the search plugin reads it


def _hide_unindexed_blocks(context: Any, page: Any, config: Any, nav: Any) -> Any:
    blocks = extension.unindexed_blocks.pop(page.file.src_uri, None)
    if blocks and page.content:
        _whole[page.file.src_uri] = page.content
        page.content = search.without(page.content, blocks)
    return context


def _show_unindexed_blocks(context: Any, page: Any, config: Any, nav: Any) -> Any:
    content = _whole.pop(page.file.src_uri, None)
    if content is not None:
        page.content = content
    return context


# (what the engines' event_priority decorator sets: set here, for MkDocs and ProperDocs alike)
setattr(_hide_unindexed_blocks, "mkdocs_priority", HIDE_PRIORITY)  # noqa: B010
setattr(_show_unindexed_blocks, "mkdocs_priority", SHOW_PRIORITY)  # noqa: B010


def page_context_event() -> Any | None:
    """The hook's ``on_page_context``: both handlers under one name, as the engine's own
    ``CombinedEvent`` (a class of MkDocs' and ProperDocs' both, when both are loaded); None
    when neither engine is."""
    # (ProperDocs may stand in for mkdocs.plugins itself: one class, then)
    bases = tuple(
        dict.fromkeys(
            sys.modules[name].CombinedEvent
            for name in ("mkdocs.plugins", "properdocs.plugins")
            if hasattr(sys.modules.get(name), "CombinedEvent")
        )
    )
    if not bases:
        return None
    combined = bases[0] if len(bases) == 1 else type("CombinedEvent", bases, {})
    return combined(_hide_unindexed_blocks, _show_unindexed_blocks)


def _search_reads_alone(config: Any) -> bool:
    """Are our two handlers registered, with only Material's search plugin between them (in
    the order the engine runs them)? Another plugin there might read or change the page's
    content: it gets it whole."""
    handlers = list(getattr(config.plugins, "events", {}).get("page_context", []))
    try:
        first = handlers.index(_hide_unindexed_blocks)
        last = handlers.index(_show_unindexed_blocks)
    except ValueError:  # a hook file of the project's own, without them
        return False
    between = handlers[first + 1 : last]
    return bool(between) and all(
        type(getattr(handler, "__self__", None)).__module__.startswith("material.plugins.search")
        for handler in between
    )


def on_files(files: Any, config: Any) -> Any:
    """Leave the capture files out of the site."""
    from mkdocs.structure.files import InclusionLevel

    captures = store_for(config).directory.resolve()
    try:  # the store's folder as MkDocs names files: no path resolved per file
        folder = captures.relative_to(Path(config["docs_dir"]).resolve()).as_posix()
    except ValueError:
        return files  # outside docs_dir: none of its files is in the site anyway
    for file in files:
        if file.src_uri.endswith(".json") and posixpath.dirname(file.src_uri) == folder:
            file.inclusion = InclusionLevel.EXCLUDED
    return files


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    """Rebuild when a running replay says how far it got, so the served pages follow it.

    Its progress is written outside docs_dir (``.meshdemo/replay/``), which serve does not
    watch by itself; the folder must exist to be watched.
    """
    from meshdemo.replay import PROGRESS_DIR

    folder = Path(config["config_file_path"]).parent / RUN_DIR / PROGRESS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    server.watch(str(folder))
    return server


def on_pre_build(config: Any) -> None:
    extension.rendered_ids.clear()
    extension.unindexed_blocks.clear()
    _whole.clear()


def on_post_build(config: Any) -> None:
    """Name capture files left by steps that were renamed or removed (info: harmless)."""
    store = store_for(config)
    ids = extension.rendered_ids
    if not ids:
        return
    try:  # names only: a Path for each of a few hundred files costs more than the rest
        names = os.listdir(store.directory)
    except OSError:
        return
    for name in sorted(names):
        if name in STORE_FILES:
            continue
        stem, suffix = os.path.splitext(name)
        if suffix in (".json", TEXT_SUFFIX) and stem and stem not in ids:
            log.info(
                "%s/%s: no step has the id %r any more (renamed or removed?): delete the file",
                store.directory.name,
                name,
                stem,
            )
