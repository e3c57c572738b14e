"""MkDocs hook of the guide: the build log, and the search index (meshdemo.site.mkdocs_hook).

The pages' captures, status and screenshots come from the `meshdemo.site.markdown` extension,
which every engine runs; this hook adds what only MkDocs and ProperDocs offer.
"""

from meshdemo.site import mkdocs_hook


def on_startup(command, dirty):
    mkdocs_hook.on_startup(command, dirty)


def on_config(config):
    return mkdocs_hook.on_config(config)


def on_files(files, config):
    return mkdocs_hook.on_files(files, config)


def on_serve(server, config, builder):
    return mkdocs_hook.on_serve(server, config, builder)


def on_pre_build(config):
    mkdocs_hook.on_pre_build(config)


def on_post_build(config):
    mkdocs_hook.on_post_build(config)


# the search plugin reads each page without the blocks its index leaves out anyway: two
# handlers around it, under one name
_page_context = mkdocs_hook.page_context_event()
if _page_context is not None:
    on_page_context = _page_context
