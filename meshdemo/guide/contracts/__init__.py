"""Command contracts: what each CLI the guide drives accepts, at the version versions.yml pins.

One JSON file per CLI and version in this package (``linkerd-edge-26.8.3.json``), written by
``python -m meshdemo.guide.contracts.generate`` from the CLI's own source (kubectl: from its
binary). ``meshdemo check`` reads them to judge every invocation in the guide's steps.
"""

from __future__ import annotations

from pathlib import Path

from meshdemo.guide.contracts.model import Command, Contract, Flag, JsonOutput, TableOutput

CONTRACTS_DIR = Path(__file__).parent
# The CLIs the guide drives that have a contract, and where versions.yml pins each version
# (None: pinned by the dev dependencies, checked against versions.yml's Kubernetes instead)
PINNED_BY = {
    "linkerd": ("linkerd", "edge"),
    "kind": ("kind", "release"),
    "kubectl": None,
}

__all__ = [
    "CONTRACTS_DIR",
    "PINNED_BY",
    "Command",
    "Contract",
    "Flag",
    "JsonOutput",
    "MissingContract",
    "TableOutput",
    "available",
    "contract_file",
    "load",
]


class MissingContract(LookupError):
    """versions.yml pins a version for which no contract was generated."""


def contract_file(cli: str, version: str) -> Path:
    return CONTRACTS_DIR / f"{cli}-{version}.json"


def available(cli: str) -> list[str]:
    """The versions of ``cli`` that have a contract here."""
    prefix = f"{cli}-"
    return sorted(p.stem[len(prefix) :] for p in CONTRACTS_DIR.glob(f"{prefix}*.json"))


_cache: dict[Path, Contract] = {}


def load(cli: str, version: str) -> Contract:
    path = contract_file(cli, version)
    if path not in _cache:
        if not path.is_file():
            have = ", ".join(available(cli)) or "none"
            raise MissingContract(
                f"no command contract for {cli} {version} (have: {have}); generate it with "
                f"python -m meshdemo.guide.contracts.generate {cli} ..."
            )
        _cache[path] = Contract.load(path)
    return _cache[path]
