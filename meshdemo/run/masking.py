"""Mask secrets in a step's output before it is written anywhere or printed.

A runbook's commands print kubeconfigs, certificates, tokens: a capture committed to the docs
must never carry them. Whatever looks like a secret is replaced with ``[masked]``; a false
positive costs a little legibility, a miss costs a leaked credential.
"""

from __future__ import annotations

import re

MASK = "[masked]"

# whole PEM blocks: keys, certificates, CSRs (a certificate is not secret, but its chain
# identifies the cluster, and the block is noise in a page anyway)
_PEM = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|\Z)",
    re.DOTALL,
)
# kubeconfig and Kubernetes secret fields whose value is credential material
_YAML_KEYS = re.compile(
    r"(?P<key>\b(?:client-key-data|client-certificate-data|certificate-authority-data|token|"
    r"id-token|refresh-token|access-token|client-secret|password|passwd|secret|api-key|apikey|"
    r"private-key|tls\.key|tls\.crt|ca\.crt)\b[\"']?\s*[:=]\s*)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;}\"']+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_AWS_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
_AWS_SECRET = re.compile(
    r"(?P<key>\baws_secret_access_key\b\s*[:=]\s*)(?P<value>[A-Za-z0-9/+=]{20,})",
    re.IGNORECASE,
)


def _keep_key(match: re.Match[str]) -> str:
    value = match.group("value")
    if value in ("", '""', "''", MASK) or value.lower() in ("null", "~", "<none>"):
        return match.group(0)
    return match.group("key") + MASK


def mask(text: str) -> str:
    """``text`` with every secret it appears to contain replaced by ``[masked]``."""
    if not text:
        return text
    text = _PEM.sub(MASK, text)
    text = _JWT.sub(MASK, text)
    text = _BEARER.sub(_keep_key, text)
    text = _AWS_SECRET.sub(_keep_key, text)
    text = _AWS_ACCESS_KEY.sub(MASK, text)
    return _YAML_KEYS.sub(_keep_key, text)
