"""Every manifest of the guide is valid offline, for the Kubernetes version the guide pins.

Manifests are the YAML files under docs/ (multi-document) and the here-documents that steps
pipe into ``kubectl`` or ``kind``. Built-in kinds are checked by kubernetes-validate (strict:
unknown fields are errors, as ``kubectl apply`` treats them); HTTPRoutes against the Gateway API
CRD schema in tests/fixtures/schemas/gateway-api (see its README for where it comes from and
its limits); kind's Cluster config against the fields of kind's v1alpha4 API.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# no stubs: types-jsonschema is not a dependency
import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from meshdemo.model import Kind, Step

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "schemas"


@dataclass(frozen=True)
class Manifest:
    where: str  # FILE:LINE of the document (or of the step holding the here-document)
    document: dict[str, Any]

    def __str__(self) -> str:
        kind = self.document.get("kind", "?")
        name = (self.document.get("metadata") or {}).get("name", "")
        return f"{self.where} {kind}/{name}".rstrip("/")


def _versions() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "versions.yml").read_text(encoding="utf-8"))
    return data["versions"]


def _kubernetes_version() -> str:
    return str(_versions()["kubernetes"]["version"]).removeprefix("v")


def _documents(text: str, where: str, first_line: int) -> list[Manifest]:
    """The non-empty YAML documents of ``text``, each located by its first line."""
    manifests = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = first_line + node.start_mark.line
            document = loader.construct_document(node)
            if document is None:
                continue
            if not isinstance(document, dict):
                raise AssertionError(f"{where}:{line}: a manifest must be a mapping")
            manifests.append(Manifest(f"{where}:{line}", document))
    finally:
        loader.dispose()
    return manifests


def _yaml_files() -> list[Path]:
    if not DOCS.is_dir():
        return []
    return sorted(p for p in DOCS.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


# `<<EOF`, `<<-'EOF'`, `<< "YAML"`: the body runs to a line holding only the delimiter.
HEREDOC = re.compile(
    r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1[^\n]*\n(.*?)^\s*\2\s*$", re.S | re.M
)


def _heredoc_manifests(steps: list[Step]) -> list[Manifest]:
    """Here-documents that steps feed to kubectl or kind (inline manifests and configs)."""
    found = []
    for step in steps:
        if step.kind is not Kind.BASH:
            continue
        for match in HEREDOC.finditer(step.command):
            # the here-document's first body line, in the page
            line = step.line + 1 + step.command.count("\n", 0, match.start(3))
            # only here-documents fed to kubectl or kind on the line that opens them
            opening = step.command[: match.start(3)].rsplit("\n", 2)[-2]
            if not re.search(r"\b(kubectl|kind)\b", opening):
                continue
            page = step.source.relative_to(ROOT) if step.source else step.page
            found += _documents(match.group(3), str(page), line)
    return found


def _all_manifests() -> list[Manifest]:
    manifests = []
    for path in _yaml_files():
        text = path.read_text(encoding="utf-8")
        manifests += _documents(text, str(path.relative_to(ROOT)), 1)
    from meshdemo.guide.pages import load_project

    return manifests + _heredoc_manifests(load_project(ROOT / "mkdocs.yml").steps)


try:
    MANIFESTS, LOAD_ERROR = _all_manifests(), None
except Exception as error:  # reported by the guard test, not as a collection error
    MANIFESTS, LOAD_ERROR = [], error


# ---- validators -------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """A copy of a CRD schema where every object with known properties rejects unknown ones."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


@cache
def _httproute_schema() -> dict[str, Any]:
    schema = json.loads((SCHEMAS / "gateway-api" / "httproute-v1.json").read_text())
    schema = copy.deepcopy(schema)
    # metadata is checked by kubernetes-validate itself (see _validate_metadata)
    schema["properties"]["metadata"] = {"type": "object"}
    return _strict(schema)


def _validate_metadata(manifest: Manifest, version: str) -> None:
    import kubernetes_validate  # type: ignore[import-untyped]  # it ships no types

    # ConfigMap needs nothing but metadata: the cheapest way to check ObjectMeta strictly.
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": manifest.document["metadata"]}
    kubernetes_validate.validate(probe, version, strict=True)


def _validate_httproute(manifest: Manifest, version: str) -> None:
    document = manifest.document
    assert document.get("apiVersion") == "gateway.networking.k8s.io/v1", (
        f"{manifest}: use HTTPRoute gateway.networking.k8s.io/v1 (the version Linkerd documents)"
    )
    _validate_metadata(manifest, version)
    jsonschema.Draft7Validator(_httproute_schema()).validate(document)


# kind has no published schema; these are the fields of kind's config API v1alpha4
# (pkg/apis/config/v1alpha4/types.go). kind decodes its config strictly, so an unknown key fails
# `kind create cluster`; the schema rejects unknown keys too.
_PATCH_JSON6902 = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "patch"],
    "properties": {
        "group": {"type": "string"},
        "version": {"type": "string"},
        "kind": {"type": "string"},
        "patch": {"type": "string"},
    },
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
KIND_CLUSTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "apiVersion"],
    "properties": {
        "kind": {"const": "Cluster"},
        "apiVersion": {"const": "kind.x-k8s.io/v1alpha4"},
        "name": {"type": "string"},
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "role": {"enum": ["control-plane", "worker"]},
                    "image": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "extraMounts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "containerPath": {"type": "string"},
                                "hostPath": {"type": "string"},
                                "readOnly": {"type": "boolean"},
                                "selinuxRelabel": {"type": "boolean"},
                                "propagation": {
                                    "enum": ["None", "HostToContainer", "Bidirectional"]
                                },
                            },
                        },
                    },
                    "extraPortMappings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "containerPort": {"type": "integer"},
                                "hostPort": {"type": "integer"},
                                "listenAddress": {"type": "string"},
                                "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                            },
                        },
                    },
                    "gpus": {"type": "string"},
                    "kubeadmConfigPatches": _STRINGS,
                    "kubeadmConfigPatchesJSON6902": {"type": "array", "items": _PATCH_JSON6902},
                },
            },
        },
        "networking": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ipFamily": {"enum": ["ipv4", "ipv6", "dual"]},
                "apiServerPort": {"type": "integer"},
                "apiServerAddress": {"type": "string"},
                "podSubnet": {"type": "string"},
                "serviceSubnet": {"type": "string"},
                "disableDefaultCNI": {"type": "boolean"},
                "kubeProxyMode": {"enum": ["iptables", "ipvs", "nftables", "none"]},
                "dnsSearch": _STRINGS,
            },
        },
        "featureGates": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "runtimeConfig": {"type": "object", "additionalProperties": {"type": "string"}},
        "kubeadmConfigPatches": _STRINGS,
        "kubeadmConfigPatchesJSON6902": {"type": "array", "items": _PATCH_JSON6902},
        "containerdConfigPatches": _STRINGS,
        "containerdConfigPatchesJSON6902": _STRINGS,
    },
}


def _validate_kind_cluster(manifest: Manifest) -> None:
    jsonschema.Draft7Validator(KIND_CLUSTER_SCHEMA).validate(manifest.document)
    pinned = _versions()["kind"]["node_image"]
    for node in manifest.document.get("nodes") or []:
        if "image" in node:
            assert node["image"] == pinned, (
                f"{manifest}: node image {node['image']!r} is not versions.yml's {pinned!r}"
            )


def _validate(manifest: Manifest) -> None:
    document = manifest.document
    api_version, kind = document.get("apiVersion"), document.get("kind")
    assert isinstance(api_version, str) and isinstance(kind, str), (
        f"{manifest.where}: not a Kubernetes object (no apiVersion/kind)"
    )
    version = _kubernetes_version()
    if api_version.startswith("kind.x-k8s.io/"):
        _validate_kind_cluster(manifest)
    elif kind == "HTTPRoute" and api_version.startswith("gateway.networking.k8s.io/"):
        _validate_httproute(manifest, version)
    else:
        import kubernetes_validate

        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as error:
            pytest.fail(f"{manifest}: no offline schema for it: {error.message}")


# ---- tests -------------------------------------------------------------------------------------


def test_the_guide_has_manifests_to_check() -> None:
    """Guards the parametrised test below against silently checking nothing."""
    assert LOAD_ERROR is None, f"cannot read the guide's manifests: {LOAD_ERROR}"
    assert MANIFESTS, "no manifest found under docs/ nor in the steps' here-documents"


@pytest.mark.parametrize("manifest", MANIFESTS, ids=str)
def test_manifest_is_valid(manifest: Manifest) -> None:
    import kubernetes_validate

    try:
        _validate(manifest)
    except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as error:
        path = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        pytest.fail(f"{manifest}: invalid at {path}: {error.message}")


def test_validators_reject_what_kubectl_and_kind_reject() -> None:
    """The validators are not vacuous: known-bad objects fail each of them."""
    import kubernetes_validate

    version = _kubernetes_version()
    bad_deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "three", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad_deployment, version, strict=True)

    route = Manifest(
        "example:1",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "books-create", "namespace": "booksapp"},
            "spec": {
                "parentRefs": [{"name": "books", "kind": "Service", "group": "", "port": 7002}],
                "rules": [{"matches": [{"path": {"value": "/books.json"}, "method": "POST"}]}],
            },
        },
    )
    _validate_httproute(route, version)  # a good one passes
    typo = copy.deepcopy(route)
    typo.document["spec"]["rules"][0]["matchs"] = typo.document["spec"]["rules"][0].pop("matches")
    with pytest.raises(jsonschema.ValidationError, match="matchs"):
        _validate_httproute(typo, version)
    bad_method = copy.deepcopy(route)
    bad_method.document["spec"]["rules"][0]["matches"][0]["method"] = "FETCH"
    with pytest.raises(jsonschema.ValidationError):
        _validate_httproute(bad_method, version)

    cluster = Manifest(
        "example:1",
        {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [{"rol": "worker"}]},
    )
    with pytest.raises(jsonschema.ValidationError, match="rol"):
        _validate_kind_cluster(cluster)


def test_here_documents_fed_to_kubectl_are_found_at_their_page_line() -> None:
    command = (
        "kubectl create namespace demo\n"
        "kubectl apply -f - <<'EOF'\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: one}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata: {name: two}\n"
        "EOF\n"
        "cat <<EOF > notes.txt\n"
        "kind: NotAManifest\n"
        "EOF"
    )
    step = Step(id="x", kind=Kind.BASH, page="p.md", line=10, command=command)
    found = _heredoc_manifests([step])
    assert [(m.where, m.document["metadata"]["name"]) for m in found] == [
        ("p.md:13", "one"),
        ("p.md:17", "two"),
    ]
