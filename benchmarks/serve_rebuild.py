"""A rebuild as ``mkdocs serve`` makes one, timed: what a presenter waits for after a save.

``mkdocs serve`` builds the site, then builds it again in the same process each time a file
changes (a fresh configuration, the modules already imported). This script does the same with
``mkdocs.commands.build``: a first build, untimed, then one rebuild; it prints the rebuild's
seconds. ``compare.py`` runs it with and without meshdemo, round-robin.

Usage: ``.venv/bin/python benchmarks/serve_rebuild.py CONFIG_FILE SITE_DIR``
"""

from __future__ import annotations

import logging
import os
import sys
import time

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

from mkdocs.commands.build import build
from mkdocs.config import load_config

SERVE_URL = "http://127.0.0.1:8000/"


def main(config_file: str, site_dir: str) -> None:
    logging.getLogger("mkdocs").setLevel(logging.ERROR)
    config = load_config(config_file=config_file, site_dir=site_dir)
    config.plugins.on_startup(command="serve", dirty=False)
    config.site_url = SERVE_URL
    build(config, serve_url=SERVE_URL)
    begin = time.perf_counter()
    config = load_config(config_file=config_file, site_dir=site_dir)
    config.site_url = SERVE_URL
    build(config, serve_url=SERVE_URL)
    print(f"{time.perf_counter() - begin:.6f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
