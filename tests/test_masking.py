"""Secret masking: one case (at least) per named rule, each leak form a demo prints, and
ordinary output left alone. Table-driven: each case's id names the form it proves."""

from __future__ import annotations

import base64
import subprocess
import time
from dataclasses import dataclass

import pytest

from meshdemo.run import masking
from meshdemo.run.masking import MASK, RULES, apply_rule, mask

RULES_BY_NAME = {rule.name: rule for rule in RULES}


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


# shapes of real secrets, assembled at run time so no literal token sits in the repository
FAKE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "8PbnGy0AHB7MhgHcTz6sE2I2yPBMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF\n"
    "-----END RSA PRIVATE KEY-----\n"
)
KEY_BODY = "MIIEowIBAAKCAQEA0Z3VS5JJ"
B64_KEY = base64.b64encode(FAKE_KEY.encode()).decode()
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl"
GH_CLASSIC = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GH_FINE = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"


@dataclass(frozen=True)
class Case:
    rule: str  # the rule that must mask it, alone
    text: str
    secret: str  # must be gone from the masked text
    kept: str = ""  # must still be there (the context a reader needs)


CASES = {
    "pem-key-whole": Case("pem-block", f"before\n{FAKE_KEY}after\n", KEY_BODY, "after"),
    "pem-unterminated": Case(
        "pem-block", "x\n-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIR\n", "MIIBszCC", "x\n"
    ),
    "pem-begin-line-cut-off": Case(
        "pem-block-without-begin",
        FAKE_KEY.split("\n", 1)[1] + "next line\n",
        KEY_BODY,
        "next line",
    ),
    "pem-begin-cut-mid-line": Case(
        "pem-block-without-begin",
        "gWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n" + "\n".join(FAKE_KEY.splitlines()[2:]) + "\n",
        "gWyF8PbnGy0AHB7",
    ),
    "base64-pem-jsonpath": Case("base64-pem", B64_KEY, B64_KEY[:40]),
    "base64-pem-in-a-line": Case("base64-pem", f"tls.key is {B64_KEY} (done)", B64_KEY[20:60]),
    "jwt": Case("jwt", f"the token is {JWT} ok", JWT, "ok"),
    "base64-jwt": Case(
        "base64-jwt",
        base64.b64encode(JWT.encode()).decode(),
        base64.b64encode(JWT.encode())[:30].decode(),
    ),
    "github-classic-token": Case("github-token", f"GH token {GH_CLASSIC}\n", GH_CLASSIC[4:]),
    "github-fine-grained-token": Case("github-token", f"using {GH_FINE}", GH_FINE[11:]),
    "aws-access-key-id": Case("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE is the key", "AKIAIOSF"),
    "https-user-password": Case(
        "url-password",
        "cloning https://user:hunter2pass@github.example/x",
        "hunter2pass",
        "https://user:",
    ),
    "postgres-url-password": Case(
        "url-password",
        "DATABASE_URL is postgres://admin:pw0rd-x@db:5432/app",
        "pw0rd-x",
        "@db:5432/app",
    ),
    "basic-header": Case(
        "authorization-header", "Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"
    ),
    "bearer-header": Case(
        "authorization-header", "Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"
    ),
    "secret-data-yaml-any-key": Case(
        "secret-data-yaml",
        "apiVersion: v1\ndata:\n  db-pass: c3VwZXJzZWNyZXQ=\n"
        "  .dockerconfigjson: eyJhdXRocyI6e319\n  api_key: QUtJQTEyMzQ1Njc4\nkind: Secret\n",
        "c3VwZXJzZWNyZXQ",
        "kind: Secret",
    ),
    "secret-data-yaml-in-a-list": Case(
        "secret-data-yaml",
        "items:\n- apiVersion: v1\n  data:\n    db-pass: c3VwZXJzZWNyZXQ=\n  kind: Secret\n",
        "c3VwZXJzZWNyZXQ",
        "kind: Secret",
    ),
    "secret-stringdata-yaml": Case(
        "secret-data-yaml",
        "stringData:\n  config.ini: |\n    password = x9-plain\n"
        "  user: admin-plain\ntype: Opaque\n",
        "x9-plain",
        "type: Opaque",
    ),
    "secret-data-json": Case(
        "secret-data-json",
        '{\n  "data": {\n    "db-pass": "c3VwZXJzZWNyZXQ=",\n    "api_key": "QUtJQTEy"\n  },\n'
        '  "kind": "Secret"\n}',
        "c3VwZXJzZWNyZXQ",
        '"kind": "Secret"',
    ),
    "kubeconfig-client-key-data": Case(
        "secret-key-value", "    client-key-data: Zm9vYmFyYmF6cXV4\n", "Zm9vYmFyYmF6cXV4"
    ),
    "kubeconfig-token": Case(
        "secret-key-value", "    token: kubeadm.abcdef0123456789\n", "abcdef0123456789"
    ),
    "password-equals": Case("secret-key-value", "password=hunter2 user=bob", "hunter2", "bob"),
    "secret-quoted-value": Case("secret-key-value", 'secret: "s3cr3t value"', "s3cr3t value"),
    "aws-secret-quoted": Case(
        "secret-key-value",
        'export AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        "wJalrXUtnFEMI",
    ),
    "aws-json-secret-access-key": Case(
        "secret-key-value",
        '{"AccessKeyId": "ASIAXXXX", "SecretAccessKey": "wJalrXUtnFEMIK7MDENG", '
        '"SessionToken": "FwoGZXIvYXdzEBYaDH"}',
        "wJalrXUtnFEMIK7MDENG",
        "AccessKeyId",
    ),
    "aws-json-session-token": Case(
        "secret-key-value", '"SessionToken": "FwoGZXIvYXdzEBYaDH"', "FwoGZXIvYXdzEBYaDH"
    ),
    "mysql-root-password-env": Case(
        "secret-key-value", "MYSQL_ROOT_PASSWORD=r00t-pw\n", "r00t-pw", "MYSQL_ROOT_PASSWORD="
    ),
    "docker-password-yaml": Case("secret-key-value", "DOCKER_PASSWORD: d0cker-pw", "d0cker-pw"),
    "db-pass-env": Case("secret-key-value", "DB_PASS=plainpass9", "plainpass9"),
    "oauth-access-token-json": Case(
        "secret-key-value",
        '{"access_token": "ya29.a0AfH6SM", "expires_in": 3599}',
        "ya29.a0AfH6SM",
        "3599",
    ),
    "oauth-refresh-token-json": Case(
        "secret-key-value", '"refresh_token": "1//0gLr-Rt"', "1//0gLr-Rt"
    ),
    "oauth-client-secret-json": Case(
        "secret-key-value", '"client_secret": "GOCSPX-abc123"', "GOCSPX-abc123"
    ),
    "password-flag": Case("secret-key-value", "run --password=flagpw12 now", "flagpw12", "now"),
    "base64-left-at-a-cut-head": Case(
        "cut-base64-head", "AB3dEfGhIjKlMnOpQrStUvWx\nordinary\n", "AB3dEfGhIj", "ordinary"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_rule_masks_its_form(case: Case) -> None:
    alone = apply_rule(RULES_BY_NAME[case.rule], case.text)
    assert case.secret not in alone
    assert MASK in alone
    assert case.kept in alone
    # and the whole table does too (no later rule undoes or mangles it)
    cut = RULES_BY_NAME[case.rule].cut_only
    masked = mask(case.text, cut=cut)
    assert case.secret not in masked
    assert case.kept in masked
    assert f"{MASK}]" not in masked and f"[{MASK}" not in masked  # masked once, cleanly


def test_every_rule_has_a_case() -> None:
    assert {case.rule for case in CASES.values()} == set(RULES_BY_NAME)


def test_a_generated_pem_key_is_masked_whole() -> None:
    key = generated_key()
    masked = mask(f"before\n{key}after\n")
    assert key.splitlines()[1] not in masked and "BEGIN" not in masked
    assert masked == f"before\n{MASK}\nafter\n"


ORDINARY = {
    "pod-table": "NAME                      READY   STATUS    RESTARTS   AGE\n"
    "linkerd-identity-5d8f9c7b6d-x2x9q   2/2     Running   0          5m\n",
    "linkerd-check": "√ control plane pods are ready\n",
    "secret-created": "secret/linkerd-identity-issuer created\n",
    "empty-password-prompt": "password:\n",
    "kubeconfig-server": "    server: https://127.0.0.1:6443\n",
    "secret-name-reference": "      secretName: linkerd-identity-issuer\n",
    "service-account-token-switch": "automountServiceAccountToken: false\n",
    "configmap-data-text": 'data:\n  mode: permissive\n  replicas: "3"\nkind: ConfigMap\n',
    "url-without-password": "see https://linkerd.io/2/getting-started/ and git@github.com:x/y\n",
    "variable-printed-back": "password=$DB_PASSWORD\n",
    "tolerations-key": "  - key: node-role.kubernetes.io/control-plane\n",
    "prose-basic": "Basic permissions 1 granted under this License\n",
    "working-directory": "PWD=/home/demo\nOLDPWD=/tmp\n",
    "json-log-authority": '{"msg":"served","authority":"books.svc:7000","status":200}\n',
    "empty": "",
}


@pytest.mark.parametrize("text", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_output_is_untouched(text: str) -> None:
    assert mask(text) == text


@pytest.mark.parametrize(
    "text",
    [
        *(case.text for case in CASES.values() if not RULES_BY_NAME[case.rule].cut_only),
        *ORDINARY.values(),
    ],
)
def test_a_short_text_is_masked_as_a_long_one_would_be(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a short text is first searched for all triggers at once; the rule by rule way is the same
    quick = mask(text)
    monkeypatch.setattr(masking, "SHORT_TEXT", -1)
    assert mask(text) == quick


def test_masking_long_output_stays_cheap() -> None:
    """Linear: ten times the text costs about ten times the time, not a hundred (measured
    relative to itself; the figure is not a benchmark, only a guard against a quadratic)."""
    line = "linkerd-identity-5d8f9c7b6d-x2x9q 2/2 Running 0 5m https://x/y token: t0k3n-v4lue\n"

    def cost(lines: int) -> float:
        text = line * lines
        begin = time.perf_counter()
        masked = mask(text)
        elapsed = time.perf_counter() - begin
        assert "t0k3n-v4lue" not in masked
        return elapsed

    small = min(cost(200) for _ in range(3))
    large = min(cost(2000) for _ in range(3))
    assert large < small * 40


def test_a_secret_after_an_earlier_rule_changed_the_text_is_still_masked() -> None:
    # the URL rule shortens the first line, so every place found before it moved; the later
    # rules must find their triggers again (and each one on every line that holds it)
    text = (
        "clone https://deploy:hunter2-long-password@git.example.com/repo\n"
        "ordinary line\n"
        "  api_key: first-key-value\n"
        "another ordinary line\n"
        "x token=second-secret-value\n"
        "token: third-secret-value\n"
    )
    masked = mask(text)
    for secret in ("hunter2-long-password", "first-key-value", "second-secret-value"):
        assert secret not in masked
    assert "third-secret-value" not in masked
    assert "ordinary line\n" in masked and "another ordinary line" in masked
