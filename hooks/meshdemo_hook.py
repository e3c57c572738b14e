"""MkDocs hook of the guide: forwards build events to meshdemo.site.render (the logic)."""

from meshdemo.site import render


def on_config(config):
    return render.on_config(config)


def on_files(files, config):
    return render.on_files(files, config)


def on_page_markdown(markdown, page, config, files):
    return render.on_page_markdown(markdown, page, config)


def on_pre_build(config):
    render.on_pre_build(config)


def on_post_build(config):
    render.on_post_build(config)
