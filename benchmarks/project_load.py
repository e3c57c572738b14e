"""Where the time of reading a project goes, and what the project cache saves of it.

``benchmarks/compare.py`` times ``meshdemo list`` and the start-up of the CLI as a user sees
them; this script takes one read apart, in process, on this guide and on a generated project
of 5,000 steps over 10 pages (front matter, an include every 25 steps, a ``{{ variable }}`` in
every fifth command):

* ``import requests``, which mkdocs-macros needs, and MkDocs' configuration without it;
* mkdocs-macros: its configuration, then rendering every page;
* the page reader on every page (markdown-it's block rules, the options table, the line map);
* the line map of the largest page, and the difflib alignment it replaced;
* the project cache: finding that nothing changed and reading the project back, and writing it.

Usage: ``.venv/bin/python benchmarks/project_load.py [ROUNDS]`` (default 5; medians). Figures,
not tests: they depend on the machine, which is printed first.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = 10
STEPS = 5000


def make_project(folder: Path, steps: int = STEPS) -> Path:
    """A project of ``steps`` steps over PAGES pages, rendered by mkdocs-macros."""
    docs = folder / "docs"
    docs.mkdir(parents=True)
    (folder / "versions.yml").write_text("versions:\n  tool: 1.2.3\n")
    (docs / "partial.md").write_text("Included line one.\n\nIncluded line two.\n")
    nav = []
    for page in range(PAGES):
        name = f"page-{page:02d}.md"
        nav.append(f"  - {name}")
        lines = ["---", f"title: Page {page}", "---", f"# Page {page}", ""]
        for n in range(steps // PAGES):
            if n % 25 == 0:
                lines += [f"## Part {n // 25}", "", "{% include 'partial.md' %}", ""]
            timeout = ' timeout="60"' if n % 10 == 0 else ""
            command = f"echo {{{{ versions.tool }}}} step {n}" if n % 5 == 0 else f"echo step {n}"
            lines += [
                "Some text.",
                "",
                f"``` {{ .bash #p{page}-s{n}{timeout} }}",
                command,
                "```",
                "",
            ]
        (docs / name).write_text("\n".join(lines))
    (folder / "mkdocs.yml").write_text(
        "site_name: Generated\nplugins:\n  - macros:\n      include_yaml:\n"
        "        - versions.yml\nnav:\n" + "\n".join(nav) + "\n"
    )
    return folder / "mkdocs.yml"


def median_of(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        work()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def stages(config_file: Path, rounds: int) -> dict[str, float]:
    """One read of the project, stage by stage (medians over ``rounds``)."""
    from mkdocs.structure.files import get_files
    from mkdocs.structure.nav import get_navigation
    from mkdocs.utils import meta

    from meshdemo.guide.linemap import LineMap
    from meshdemo.guide.mkdocs_config import Macros, load_config, macros_plugin, quiet_mkdocs
    from meshdemo.guide.pages import read_rendered_page

    figures: dict[str, float] = {}
    config = load_config(config_file)
    figures["MkDocs configuration, once imported"] = median_of(
        rounds, lambda: load_config(config_file)
    )
    with quiet_mkdocs():
        files = get_files(config)
        nav = get_navigation(files, config)
        plugin = macros_plugin(config)
        macros = Macros(plugin, config, config_file)
        figures["mkdocs-macros: its configuration"] = median_of(
            rounds, lambda: Macros(plugin, config, config_file)
        )
        macros.nav(nav, config, files)
        sources = []
        for page in nav.pages:
            raw = page.file.content_string
            markdown, page.meta = meta.get_data(raw)
            page.markdown = markdown
            sources.append((page, raw, markdown))

        def render_all() -> list[str]:
            return [macros.render(md, page, config, files) for page, _, md in sources]

        rendered = render_all()
        figures["mkdocs-macros: rendering every page"] = median_of(rounds, render_all)

    docs_dir = Path(config["docs_dir"])

    def read_all() -> None:
        for (page, raw, _), text in zip(sources, rendered, strict=True):
            read_rendered_page(page.file.src_uri, text, source=raw, docs_dir=docs_dir)

    figures["the page reader, every page"] = median_of(rounds, read_all)
    largest = max(range(len(sources)), key=lambda n: len(sources[n][1]))
    raw, text = sources[largest][1], rendered[largest]
    size = raw.count("\n") + 1
    figures[f"line map of the largest page ({size} lines)"] = median_of(
        rounds, lambda: LineMap(raw, text)
    )
    figures["  the same with difflib, as before"] = median_of(1, lambda: difflib_map(raw, text))
    return figures


def difflib_map(source: str, rendered: str) -> list[int]:
    """How lines were mapped before: SequenceMatcher without autojunk, quadratic in lines."""
    import difflib

    src, out = source.splitlines(), rendered.splitlines()
    matcher = difflib.SequenceMatcher(None, src, out, autojunk=False)
    return [i for tag, i, _, _, _ in matcher.get_opcodes() if tag != "delete"]


def fresh_process(config_file: Path, rounds: int) -> dict[str, float]:
    """A first read in a new Python, as a command pays it: the imports of MkDocs, its theme,
    plugins and Markdown extensions come first."""
    code = (
        "import sys, time\n"
        "begin = time.perf_counter()\n"
        "from meshdemo.guide.mkdocs_config import load_config\n"
        "from pathlib import Path\n"
        "load_config(Path(sys.argv[1]))\n"
        "configured = time.perf_counter()\n"
        "from meshdemo.guide.project import read_project\n"
        "read_project(Path(sys.argv[1]))\n"
        "print(configured - begin, time.perf_counter() - configured)\n"
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    runs = []
    for _ in range(rounds):
        done = subprocess.run(
            [sys.executable, "-c", code, str(config_file)],
            capture_output=True, text=True, check=True, env=env, cwd=config_file.parent,
        )  # fmt: skip
        runs.append([float(x) for x in done.stdout.split()])
    return {
        "a fresh process: MkDocs configuration, imports included": statistics.median(
            r[0] for r in runs
        ),
        "  then the whole read (configuration, macros, pages)": statistics.median(
            r[1] for r in runs
        ),
    }


def cache_figures(config_file: Path, rounds: int) -> dict[str, float]:
    from meshdemo.guide.cache import ProjectCache
    from meshdemo.guide.project import read_project

    project, inputs = read_project(config_file)
    figures = {
        "the whole read, once imported": median_of(rounds, lambda: read_project(config_file))
    }
    store = ProjectCache(config_file)
    figures["project cache: written"] = median_of(rounds, lambda: store.save(project, inputs))
    figures["project cache: nothing changed, read back"] = median_of(rounds, store.load)
    assert store.load() is not None
    return figures


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"median of {rounds} rounds\n")
    begin = time.perf_counter()
    import requests  # noqa: F401  (mkdocs-macros imports it when MkDocs loads the plugin)

    print(f"{'import requests (mkdocs-macros needs it)':<58}{_ms(time.perf_counter() - begin)}")
    with tempfile.TemporaryDirectory(prefix="meshdemo-bench-") as scratch:
        guide = Path(scratch) / "guide"
        shutil.copytree(ROOT / "docs", guide / "docs", ignore=shutil.ignore_patterns("captures"))
        for name in ("mkdocs.yml", "versions.yml"):
            shutil.copy2(ROOT / name, guide / name)
        if (ROOT / "hooks").is_dir():
            shutil.copytree(ROOT / "hooks", guide / "hooks")
        generated = make_project(Path(scratch) / "generated")
        for title, config_file in (
            ("this guide", guide / "mkdocs.yml"),
            (f"{STEPS} steps over {PAGES} pages", generated),
        ):
            print(f"\n{title}")
            figures = fresh_process(config_file, rounds) | stages(config_file, rounds)
            figures |= cache_figures(config_file, rounds)
            for what, seconds in figures.items():
                print(f"  {what:<56}{_ms(seconds)}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:>9.1f} ms"


if __name__ == "__main__":
    main()
