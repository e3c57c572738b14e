"""The run's private kubeconfig: default location, context extraction, refusals."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from meshdemo.cluster.kubeconfig import extract_context, private_kubeconfig
from meshdemo.errors import ConfigError


def sample(tmp_path: Path) -> Path:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(b"CA-BYTES")
    (tmp_path / "certs" / "client.crt").write_bytes(b"CLIENT-CERT")
    config = tmp_path / "config"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "prod",
                "contexts": [
                    {"name": "kind-demo", "context": {"cluster": "kind", "user": "kind-admin"}},
                    {"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}},
                    {"name": "broken", "context": {"cluster": "nowhere", "user": "kind-admin"}},
                ],
                "clusters": [
                    {
                        "name": "kind",
                        "cluster": {
                            "server": "https://127.0.0.1:40000",
                            "certificate-authority": "certs/ca.crt",
                        },
                    },
                    {"name": "prod", "cluster": {"server": "https://prod.example:6443"}},
                ],
                "users": [
                    {
                        "name": "kind-admin",
                        "user": {
                            "client-certificate": "certs/client.crt",
                            "client-key-data": "a2V5",
                        },
                    },
                    {"name": "prod-admin", "user": {"token": "prod-token"}},
                ],
            }
        )
    )
    return config


def test_only_the_named_context_flattened(tmp_path: Path) -> None:
    document = extract_context(sample(tmp_path), "kind-demo")
    assert document["current-context"] == "kind-demo"
    assert [c["name"] for c in document["contexts"]] == ["kind-demo"]
    assert [c["name"] for c in document["clusters"]] == ["kind"]
    assert [u["name"] for u in document["users"]] == ["kind-admin"]
    cluster = document["clusters"][0]["cluster"]
    assert "certificate-authority" not in cluster
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"CA-BYTES"
    user = document["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == b"CLIENT-CERT"
    assert user["client-key-data"] == "a2V5"
    assert "prod" not in yaml.safe_dump(document)


def test_private_file_in_the_run_dir(tmp_path: Path) -> None:
    run_dir = tmp_path / "project" / ".meshdemo"
    path = private_kubeconfig(run_dir, sample(tmp_path), "kind-demo")
    assert path.parent == run_dir
    assert path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(path.read_text())["current-context"] == "kind-demo"


def test_default_is_in_the_run_dir_and_not_created(tmp_path: Path) -> None:
    path = private_kubeconfig(tmp_path / ".meshdemo", None, None)
    assert path == tmp_path / ".meshdemo" / "kubeconfig"
    assert not path.exists()  # kind creates it; kubectl reads a missing file as empty


@pytest.mark.parametrize(
    ("kubeconfig", "context", "message"),
    [
        ("config", None, "--kubeconfig needs --context"),
        (None, "prod", "--context needs --kubeconfig"),
        ("config", "nope", "no context 'nope' in this kubeconfig"),
        ("config", "broken", "names a cluster 'nowhere' not defined"),
        ("missing.yaml", "prod", "kubeconfig not found"),
    ],
)
def test_refusals(tmp_path: Path, kubeconfig: str | None, context: str | None, message: str):
    sample(tmp_path)
    source = tmp_path / kubeconfig if kubeconfig else None
    with pytest.raises(ConfigError) as raised:
        private_kubeconfig(tmp_path / ".meshdemo", source, context)
    assert message in str(raised.value)
    assert not (tmp_path / ".meshdemo" / "kubeconfig-existing").exists()
