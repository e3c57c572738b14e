"""MkDocs projects for the benchmarks, made in a scratch folder from the guide's own mkdocs.yml.

A generated project keeps the guide's theme, plugins, Markdown extensions and meshdemo hooks
(so the figures follow whatever the guide configures), and replaces its nav with generated
pages. The same configuration without anything of meshdemo's (hooks, extensions, fence
formatters, macros modules, stylesheets) is the baseline of the site-build comparison.
Nothing here writes outside the destination folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

BENCH_TOOL_VERSIONS = {"bash": "bash --version | head -n 1"}


class Tagged:
    """A YAML value with a tag (``!!python/name:...``, ``!ENV``), kept as written."""

    def __init__(self, tag: str, value: Any):
        self.tag = tag
        self.value = value

    def __repr__(self) -> str:
        return f"Tagged({self.tag!r}, {self.value!r})"


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _construct_tagged(loader: _Loader, _suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        return Tagged(node.tag, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tagged(node.tag, loader.construct_sequence(node, deep=True))
    return Tagged(node.tag, loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]


def _represent_tagged(dumper: _Dumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, str(data.value))


_Loader.add_multi_constructor("", _construct_tagged)
_Dumper.add_representer(Tagged, _represent_tagged)


def read_config(config_file: Path) -> dict[str, Any]:
    return yaml.load(config_file.read_text(encoding="utf-8"), Loader=_Loader)


def dump_config(config: dict[str, Any]) -> str:
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# -- with and without meshdemo -------------------------------------------------------------------


def _mentions_meshdemo(item: Any) -> bool:
    if isinstance(item, str):
        return "meshdemo" in item.lower()
    if isinstance(item, Tagged):
        return "meshdemo" in item.tag.lower() or _mentions_meshdemo(item.value)
    if isinstance(item, dict):
        # a plugin or extension named meshdemo..., or a fence whose formatter is meshdemo's
        return any(_mentions_meshdemo(key) for key in item) or any(
            isinstance(value, str | Tagged) and _mentions_meshdemo(value) for value in item.values()
        )
    return False


def without_meshdemo(config: Any) -> Any:
    """``config`` with every list entry that names meshdemo dropped: hooks, extensions,
    superfences formatters, macros modules, stylesheets. ``extra:`` values stay (inert)."""
    if isinstance(config, list):
        return [without_meshdemo(item) for item in config if not _mentions_meshdemo(item)]
    if isinstance(config, dict):
        return {key: without_meshdemo(value) for key, value in config.items()}
    if isinstance(config, Tagged):
        return Tagged(config.tag, without_meshdemo(config.value))
    return config


def with_markdown_exec(config: dict[str, Any]) -> dict[str, Any]:
    """The guide's configuration without meshdemo, executing fences with markdown-exec."""
    config = without_meshdemo(config)
    fence = {
        "name": "*",
        "class": "",
        "validator": Tagged("tag:yaml.org,2002:python/name:markdown_exec.validator", ""),
        "format": Tagged("tag:yaml.org,2002:python/name:markdown_exec.formatter", ""),
    }
    extensions = config.setdefault("markdown_extensions", [])
    for index, extension in enumerate(extensions):
        if extension == "pymdownx.superfences":
            extensions[index] = {"pymdownx.superfences": {"custom_fences": [fence]}}
            break
        if isinstance(extension, dict) and "pymdownx.superfences" in extension:
            options = extension["pymdownx.superfences"] or {}
            options.setdefault("custom_fences", []).append(fence)
            extension["pymdownx.superfences"] = options
            break
    else:
        extensions.append({"pymdownx.superfences": {"custom_fences": [fence]}})
    config["plugins"] = [*config.get("plugins", ["search"]), "markdown-exec"]
    return config


# -- writing a project ---------------------------------------------------------------------------


def _is_local(path: str) -> bool:
    return "://" not in path and not path.startswith("/")


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    elif source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def write_project(
    guide_config: Path,
    dest: Path,
    *,
    pages: dict[str, str] | None = None,
    variant: str = "meshdemo",
    config_name: str = "mkdocs.yml",
) -> Path:
    """Write an MkDocs project into ``dest`` from the guide whose config is ``guide_config``.

    ``pages`` (path in docs → Markdown) replace the guide's pages and nav; without them the
    guide's own docs folder is copied (the real guide, e.g. for start-up figures).
    ``variant``: ``meshdemo`` (as configured), ``plain`` (without meshdemo) or
    ``markdown-exec``. Returns the configuration file written.
    """
    guide_dir = guide_config.parent
    config = read_config(guide_config)
    guide_docs = guide_dir / str(config.get("docs_dir", "docs"))
    docs = dest / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    config["docs_dir"] = "docs"
    config["site_dir"] = "site"
    # files the configuration names, relative to the guide: versions.yml, theme overrides
    for data_file in [*guide_dir.glob("*.yml"), *guide_dir.glob("*.yaml")]:
        if data_file.name != guide_config.name:
            _copy(data_file, dest / data_file.name)
    theme = config.get("theme")
    if isinstance(theme, dict) and theme.get("custom_dir"):
        _copy(guide_dir / str(theme["custom_dir"]), dest / str(theme["custom_dir"]))
    config["hooks"] = [
        str(guide_dir / hook) if _is_local(str(hook)) else hook for hook in config.get("hooks", [])
    ]
    if pages is None:
        _copy(guide_docs, docs)
    else:
        config["site_name"] = "meshdemo benchmark"
        config["nav"] = [{Path(path).stem: path} for path in pages]
        for key in ("extra_css", "extra_javascript"):
            for entry in config.get(key, []):
                path = entry.get("path", "") if isinstance(entry, dict) else str(entry)
                if path and _is_local(path):
                    _copy(guide_docs / path, docs / path)
        extra = config.setdefault("extra", {}) or {}
        if isinstance(extra.get("meshdemo"), dict):
            # the guide asks docker, kind, kubectl... for their versions at the end of a run
            extra["meshdemo"]["tool_versions"] = dict(BENCH_TOOL_VERSIONS)
        config["extra"] = extra
        for path, markdown in pages.items():
            (docs / path).parent.mkdir(parents=True, exist_ok=True)
            (docs / path).write_text(markdown, encoding="utf-8")
    if variant == "plain":
        config = without_meshdemo(config)
    elif variant == "markdown-exec":
        config = with_markdown_exec(config)
    elif variant != "meshdemo":
        raise ValueError(f"unknown variant {variant!r}")
    config_file = dest / config_name
    config_file.write_text(dump_config(config), encoding="utf-8")
    return config_file
