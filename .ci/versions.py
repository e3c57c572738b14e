"""The versions a CI leg runs the guide with: versions.yml's, or some of them replaced.

    python .ci/versions.py outputs              KEY=VALUE lines for $GITHUB_OUTPUT
    python .ci/versions.py matrix               the Kubernetes legs of the pinned edge, as JSON
    python .ci/versions.py set KEY=VALUE...     replace values in versions.yml (comments kept)
    python .ci/versions.py upstream [--apply]   upstream's newest Linkerd edge and kind release

The guide's pages and commands render their versions from versions.yml, so a leg that runs
another Kubernetes or Linkerd rewrites that file in its own checkout before the run; nothing
of such a leg is published or brought back into the repository.

Keys that ``set`` accepts: ``kind.release``, ``kind.node_image`` (``kubernetes.version`` and
``kubernetes.minor`` follow the image's tag) and ``linkerd.edge``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = ROOT / "versions.yml"

NODE_IMAGE = re.compile(r"kindest/node:(v(\d+)\.(\d+)\.\d+)@sha256:[0-9a-f]{64}")
KIND_RELEASE = re.compile(r"v\d+\.\d+\.\d+")
EDGE = re.compile(r"edge-\d+\.\d+\.\d+")
SETTABLE = ("kind.release", "kind.node_image", "linkerd.edge")

# Where upstream says what is newest (resolved at run time by the drift leg).
LINKERD_INSTALL_EDGE = "https://run.linkerd.io/install-edge"
KIND_LATEST_RELEASE = "https://api.github.com/repos/kubernetes-sigs/kind/releases/latest"
KIND_DEFAULT_IMAGE = (
    "https://raw.githubusercontent.com/kubernetes-sigs/kind/{release}/"
    "pkg/apis/config/defaults/image.go"
)


class VersionsError(Exception):
    """A versions.yml value, or an upstream answer, that CI cannot use."""


def load(path: Path = VERSIONS_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def image_version(image: str) -> tuple[str, str]:
    """(``v1.35.8``, ``1.35``) of a digest-pinned kind node image."""
    match = NODE_IMAGE.fullmatch(image)
    if not match:
        raise VersionsError(
            f"{image!r} is not a kind node image pinned by digest "
            "(kindest/node:vX.Y.Z@sha256:<64 hex>)"
        )
    return match.group(1), f"{match.group(2)}.{match.group(3)}"


def outputs(data: dict) -> dict[str, str]:
    """What the workflow steps use, by the names they use."""
    versions = data["versions"]
    image = versions["kind"]["node_image"]
    kubernetes, minor = image_version(image)
    if kubernetes != versions["kubernetes"]["version"]:
        raise VersionsError(
            f"kubernetes.version is {versions['kubernetes']['version']} but the node image is "
            f"{kubernetes}: they move together"
        )
    linkerd, kind = versions["linkerd"]["edge"], versions["kind"]["release"]
    return {
        "kind": kind,
        "node_image": image,
        "kubernetes": kubernetes,
        "kubernetes_minor": minor,
        "linkerd": linkerd,
        "cluster": versions["cluster"]["name"],
        "summary": f"Linkerd {linkerd}, Kubernetes {kubernetes} (kind {kind})",
    }


def matrix(data: dict) -> list[dict[str, str | bool]]:
    """One leg per end of Linkerd's supported Kubernetes range, for the pinned edge.

    A leg is the pinned node image when its minor is the pinned one, else the kind release and
    image that versions.yml's ``ci.kubernetes_legs`` records for that minor.
    """
    versions = data["versions"]
    pinned = outputs(data)
    recorded = (data.get("ci") or {}).get("kubernetes_legs") or {}
    legs: list[dict[str, str | bool]] = []
    for end in ("linkerd_max", "linkerd_min"):
        minor = str(versions["kubernetes"][end])
        if any(leg["minor"] == minor for leg in legs):
            continue
        if minor == pinned["kubernetes_minor"]:
            legs.append(
                {
                    "leg": f"kubernetes-{minor}",
                    "minor": minor,
                    "pinned": True,
                    "kind": pinned["kind"],
                    "node_image": pinned["node_image"],
                }
            )
            continue
        if minor not in recorded:
            raise VersionsError(
                f"no node image for Kubernetes {minor} (kubernetes.{end}): add one from a kind "
                f"release's notes under ci.kubernetes_legs.{minor!r} in versions.yml"
            )
        entry = recorded[minor]
        image_minor = image_version(entry["node_image"])[1]
        if image_minor != minor or not KIND_RELEASE.fullmatch(str(entry["kind"])):
            raise VersionsError(
                f"ci.kubernetes_legs.{minor!r}: image {entry['node_image']} and kind "
                f"{entry['kind']} do not make a Kubernetes {minor} leg"
            )
        legs.append(
            {
                "leg": f"kubernetes-{minor}",
                "minor": minor,
                "pinned": False,
                "kind": str(entry["kind"]),
                "node_image": entry["node_image"],
            }
        )
    return legs


def _replace(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``versions.<section>.<key>`` set to ``value``, every other line kept."""
    lines = text.splitlines(keepends=True)
    in_versions = in_section = False
    for number, line in enumerate(lines):
        if re.match(r"^\S", line):
            in_versions = line.startswith("versions:")
            in_section = False
        elif in_versions and re.match(r"^  \S", line):
            in_section = line.strip() == f"{section}:"
        elif in_section:
            match = re.match(rf"^(    {re.escape(key)}:)\s*(\S.*?)?(\s+#.*)?$", line.rstrip("\n"))
            if match:
                quoted = json.dumps(value) if (match.group(2) or "").startswith('"') else value
                lines[number] = f"{match.group(1)} {quoted}{match.group(3) or ''}\n"
                return "".join(lines)
    raise VersionsError(f"versions.yml has no versions.{section}.{key}")


def set_values(text: str, assignments: dict[str, str]) -> str:
    """versions.yml's ``text`` with the given values replaced (see the module doc)."""
    for name, value in assignments.items():
        if name not in SETTABLE:
            raise VersionsError(f"cannot set {name!r}: one of {', '.join(SETTABLE)}")
        section, key = name.split(".")
        if name == "kind.node_image":
            version, minor = image_version(value)
            text = _replace(text, "kubernetes", "version", version)
            text = _replace(text, "kubernetes", "minor", minor)
        elif name == "kind.release" and not KIND_RELEASE.fullmatch(value):
            raise VersionsError(f"kind.release {value!r} is not a release tag like v0.33.0")
        elif name == "linkerd.edge" and not EDGE.fullmatch(value):
            raise VersionsError(f"linkerd.edge {value!r} is not an edge release like edge-26.8.3")
        text = _replace(text, section, key, value)
    # what the file now says is what was asked
    versions = yaml.safe_load(text)["versions"]
    for name, value in assignments.items():
        section, key = name.split(".")
        assert versions[section][key] == value, (name, versions[section][key])
    return text


# ---- upstream ---------------------------------------------------------------------------------


def newest_edge(install_script: str) -> str:
    """The edge release Linkerd's install-edge script installs by default."""
    match = re.search(
        r"LINKERD2_VERSION=\$\{LINKERD2_VERSION:-(edge-\d+\.\d+\.\d+)\}", install_script
    )
    if not match:
        raise VersionsError(f"{LINKERD_INSTALL_EDGE}: no default LINKERD2_VERSION=edge-… found")
    return match.group(1)


def kind_default_image(image_go: str) -> str:
    """The default node image of a kind release (pkg/apis/config/defaults/image.go)."""
    match = re.search(r'const Image = "([^"]+)"', image_go)
    if not match:
        raise VersionsError('kind\'s defaults/image.go: no `const Image = "…"` found')
    image_version(match.group(1))  # digest-pinned, as kind always pins it
    return match.group(1)


def _fetch(url: str) -> str:
    headers = {"User-Agent": "meshdemo-ci"}
    token = os.environ.get("GITHUB_TOKEN")
    if token and url.startswith("https://api.github.com/"):
        headers["Authorization"] = f"Bearer {token}"
    last: Exception | None = None
    for _ in range(3):
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=30
            ) as answer:
                return answer.read().decode("utf-8")
        except OSError as error:  # URLError, HTTPError, timeouts
            last = error
    raise VersionsError(f"{url}: {last}")


def upstream(fetch: Callable[[str], str] = _fetch) -> dict[str, str]:
    """The newest Linkerd edge, the newest kind release and its default (newest) node image."""
    release = json.loads(fetch(KIND_LATEST_RELEASE))["tag_name"]
    if not KIND_RELEASE.fullmatch(release):
        raise VersionsError(f"{KIND_LATEST_RELEASE}: unexpected tag {release!r}")
    return {
        "linkerd.edge": newest_edge(fetch(LINKERD_INSTALL_EDGE)),
        "kind.release": release,
        "kind.node_image": kind_default_image(fetch(KIND_DEFAULT_IMAGE.format(release=release))),
    }


# ---- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=".ci/versions.py", description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=VERSIONS_FILE, help="default: versions.yml")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("outputs", help="KEY=VALUE lines for $GITHUB_OUTPUT")
    commands.add_parser("matrix", help="the Kubernetes legs of the pinned edge, as JSON")
    setter = commands.add_parser("set", help="replace values in versions.yml")
    setter.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    newest = commands.add_parser("upstream", help="upstream's newest edge and kind")
    newest.add_argument("--apply", action="store_true", help="and write them into versions.yml")
    args = parser.parse_args(argv)
    try:
        if args.command == "outputs":
            for name, value in outputs(load(args.file)).items():
                print(f"{name}={value}")
        elif args.command == "matrix":
            print(json.dumps(matrix(load(args.file))))
        else:
            if args.command == "set":
                pairs = [item.partition("=") for item in args.assignments]
                if any(not sep for _, sep, _ in pairs):
                    parser.error("set takes KEY=VALUE arguments")
                assignments = {key: value for key, _, value in pairs}
            else:
                assignments = upstream()
                for name, value in assignments.items():
                    print(f"{name}={value}")
                if not args.apply:
                    return 0
            text = set_values(args.file.read_text(encoding="utf-8"), assignments)
            args.file.write_text(text, encoding="utf-8")
    except VersionsError as error:
        print(f"error: {args.file.name}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
