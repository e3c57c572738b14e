"""Secrets are masked; ordinary output is left alone."""

from __future__ import annotations

import base64
import subprocess

import pytest

from meshdemo.run.masking import MASK, mask


def generated_key() -> str:
    """A real PEM private key, generated here (openssl), so no secret is kept in the repo."""
    try:
        done = subprocess.run(
            ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is not available to generate a key")
    return done.stdout


def test_pem_blocks_are_masked_whole() -> None:
    key = generated_key()
    body = key.splitlines()[1]
    text = f"before\n{key}after\n"
    masked = mask(text)
    assert body not in masked
    assert "BEGIN" not in masked
    assert masked == f"before\n{MASK}\nafter\n"


def test_an_unterminated_pem_block_is_masked_to_the_end() -> None:
    masked = mask("x\n-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIR\n")
    assert "MIIBszCC" not in masked


def test_kubeconfig_fields() -> None:
    data = base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----\nsecret").decode()
    text = (
        f"    certificate-authority-data: {data}\n"
        f"    client-certificate-data: {data}\n"
        f"    client-key-data: {data}\n"
        "    token: kubeadm.abcdef0123456789\n"
        "    server: https://127.0.0.1:6443\n"
    )
    masked = mask(text)
    assert data not in masked
    assert "abcdef0123456789" not in masked
    assert "client-key-data: [masked]" in masked
    assert "server: https://127.0.0.1:6443" in masked


def test_headers_tokens_and_keys() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl"
    cases = {
        "Authorization: Bearer abcdefgh12345678": "abcdefgh12345678",
        f"the token is {jwt} ok": jwt,
        "AKIAIOSFODNN7EXAMPLE is the key": "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "wJalrXUtnFEMI",
        "password=hunter2 user=bob": "hunter2",
        'secret: "s3cr3t value"': "s3cr3t value",
    }
    for text, secret in cases.items():
        masked = mask(text)
        assert secret not in masked, text
        assert MASK in masked


def test_ordinary_output_is_untouched() -> None:
    text = (
        "NAME                      READY   STATUS    RESTARTS   AGE\n"
        "linkerd-identity-5d8f9c7b6d-x2x9q   2/2     Running   0          5m\n"
        "√ control plane pods are ready\n"
        "secret/linkerd-identity-issuer created\n"
        "password:\n"
    )
    assert mask(text) == text
    assert mask("") == ""
