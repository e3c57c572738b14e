"""Mask secrets in a step's output before it is written anywhere or printed.

A runbook's commands print kubeconfigs, certificates, Secrets, tokens: a capture committed to
the docs must never carry them. Whatever looks like a secret is replaced with ``[masked]``; a
false positive costs a little legibility, a miss costs a leaked credential.

The rules are a table (:data:`RULES`), one named rule per form a secret takes, applied in order.
Each rule has *triggers*: short patterns without which it cannot match. A rule whose
triggers are absent costs a search or two; a line rule runs its pattern only on the lines
that hold a trigger. So masking stays linear and cheap on long outputs, where most lines hold
nothing to mask (a 200 KB log is searched a few dozen times at C speed, not matched against
every pattern at every position).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

MASK = "[masked]"

# a value that is no secret even after a secret-sounding key
_HARMLESS_VALUES = {"", '""', "''", "null", "~", "<none>", "none", "true", "false", "<unset>"}
# key words whose value is credential material wherever they appear in a name
_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "privatekey",
    "private_key",
    "private-key",
    "credential",
    "client-key-data",
    "client-certificate-data",
    "certificate-authority-data",
    "tls.key",
    "tls.crt",
    "ca.crt",
)
# name parts that are secret only as a whole part (DB_PASS, db-pass, dbPwd; not "compass")
_SECRET_PARTS = {"pass", "pwd", "auth"}
# a name that ends so names, points at or describes a secret rather than holding it
_DESCRIPTIVE_ENDS = {
    "name", "names", "ref", "namespace", "type", "file", "path", "dir", "kind", "length",
    "ttl", "policy", "mode", "id", "count", "expiry", "expires", "version", "enabled",
    "required", "url", "template", "keyref", "selector", "mount", "source",
}  # fmt: skip
_NOT_SECRET_NAMES = {"pwd", "oldpwd"}  # the shell's working directories
_NAME_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _is_secret_name(name: str) -> bool:
    """Does a key or variable name say that its value is a secret?"""
    lowered = name.lower().lstrip("-")
    if lowered in _NOT_SECRET_NAMES:
        return False
    parts = [part.lower() for part in _NAME_PARTS.findall(name.lstrip("-"))]
    if parts and parts[-1] in _DESCRIPTIVE_ENDS:
        return False
    return any(word in lowered for word in _SECRET_WORDS) or any(
        part in _SECRET_PARTS for part in parts
    )


def _harmless(value: str) -> bool:
    bare = value.strip("\"'")
    return (
        value.lower() in _HARMLESS_VALUES
        or MASK in value
        or bare.startswith("$")  # a variable's name, printed back: not its value
    )


def _mask_value(match: re.Match[str]) -> str:
    """Mask ``value`` after a secret-sounding ``name`` (``key`` is everything before it)."""
    name = match.groupdict().get("name")
    value = match.group("value")
    if (name is not None and not _is_secret_name(name)) or _harmless(value):
        return match.group(0)
    return match.group("key") + MASK


_BASE64 = re.compile(r"[A-Za-z0-9+/]{4,}={0,2}")


def _looks_base64(value: str) -> bool:
    """A value as Kubernetes stores a Secret's data: base64, not a plain word or number."""
    value = value.strip("\"'")
    return (
        len(value) % 4 == 0
        and _BASE64.fullmatch(value) is not None
        and not value.isalpha()
        and not value.isdigit()
    ) or value.endswith("=")


_DATA_ENTRY = re.compile(r"^(?P<key>[ ]+[^:\s#][^:\n]*:[ ]+)(?P<value>[^\n]+)$", re.MULTILINE)
_DATA_DEEPER = re.compile(r"^(?P<indent>[ ]+)\S")


def _mask_yaml_data(match: re.Match[str]) -> str:
    """The entries of a ``data:`` (base64 values) or ``stringData:`` (any value) block."""
    every = match.group("field") == "stringData"
    body = match.group("body")

    def entry(found: re.Match[str]) -> str:
        value = found.group("value").strip()
        if value in ("|", ">", "|-", ">-") or _harmless(value):
            return found.group(0)
        if every or _looks_base64(value):
            return found.group("key") + MASK
        return found.group(0)

    lines = body.split("\n")
    first = _DATA_DEEPER.match(lines[0])
    width = len(first.group("indent")) if first else 0
    masked = []
    for line in lines:
        deeper = _DATA_DEEPER.match(line)
        # the lines of a block scalar (``key: |``) under stringData are the value itself
        if every and deeper and len(deeper.group("indent")) > width:
            masked.append(deeper.group("indent") + MASK)
        else:
            masked.append(_DATA_ENTRY.sub(entry, line))
    return match.group("head") + "\n".join(masked)


_JSON_ENTRY = re.compile(r'(?P<key>"[^"\n]*"\s*:\s*)(?P<value>"[^"\n]*")')


def _mask_json_data(match: re.Match[str]) -> str:
    every = match.group("field") == "stringData"

    def entry(found: re.Match[str]) -> str:
        value = found.group("value")
        if _harmless(value) or not (every or _looks_base64(value)):
            return found.group(0)
        return found.group("key") + f'"{MASK}"'

    return match.group("head") + _JSON_ENTRY.sub(entry, match.group("body")) + "}"


@dataclass(frozen=True)
class Rule:
    """One form a secret takes in a demo's output, and how it is masked."""

    name: str
    regex: str  # compiled on first use (:attr:`pattern`): most outputs need few rules
    # what any match contains, as patterns over the lower-cased text (literals, or a literal
    # prefix: those are found fast): without one the rule is not run
    triggers: tuple[str, ...]
    replace: str | Callable[[re.Match[str]], str] = MASK
    # "line": the pattern runs on the lines holding a trigger; "text": on the whole text
    # (patterns that span lines)
    scope: Literal["line", "text"] = "line"
    cut_only: bool = False  # only for the tail of a longer output (``mask(..., cut=True)``)
    flags: int = 0

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex, self.flags)


RULES: tuple[Rule, ...] = (
    # whole PEM blocks: keys, certificates, CSRs (a certificate is not secret, but its chain
    # identifies the cluster, and the block is noise in a page anyway); unterminated: to the end
    Rule(
        "pem-block",
        r"-----BEGIN ([A-Z0-9 ]+)-----.*?(?:-----END \1-----|\Z)",
        ("-----",),
        scope="text",
        flags=re.DOTALL,
    ),
    # the end of a PEM block whose BEGIN line is not in the text (an output cut to its tail,
    # `tail key.pem`): the base64 lines above the END line, and the END line
    Rule(
        "pem-block-without-begin",
        r"(?:^[A-Za-z0-9+/=]{8,}[ \t]*\n)*^[A-Za-z0-9+/=]*-----END [A-Z0-9 ]+-----",
        ("-----",),
        scope="text",
        flags=re.MULTILINE,
    ),
    # a PEM block base64-encoded, as a Secret's data holds it (`-o jsonpath='{.data.tls\.key}'`)
    Rule("base64-pem", r"LS0tLS1CRUdJT[A-Za-z0-9+/=]*", ("ls0tls1crudjt",)),
    # a JSON web token (service-account tokens, OIDC id-tokens), and one base64-encoded
    Rule("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", ("eyj",)),
    Rule("base64-jwt", r"\bZXlK[A-Za-z0-9+/]{16,}={0,2}", ("zxlk",)),
    Rule(
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
        (r"gh[pousr]_|github_pat_",),
    ),
    Rule(
        "aws-access-key-id",
        r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
        (r"a(?:kia|sia|gpa|ida|roa|npa|nva|ipa)",),
    ),
    # the password of a URL: https://user:PASSWORD@host, postgres://admin:PASSWORD@db
    Rule(
        "url-password",
        r"(?P<key>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]+:)(?P<value>[^\s@/'\"]+)(?=@)",
        ("://",),
        _mask_value,
    ),
    Rule(
        "authorization-header",
        # (a token holds a digit or a base64 sign: "Basic permissions" is prose)
        (
            r"(?P<key>\b(?:Bearer|Basic)\s+)"
            r"(?P<value>(?=[A-Za-z._~-]*[0-9+/=])[A-Za-z0-9._~+/=-]{8,})"
        ),
        (r"bearer\s", r"basic\s"),
        _mask_value,
        flags=re.IGNORECASE,
    ),
    # the values of a Secret's data (base64) and stringData, whatever their keys are called,
    # in YAML (`kubectl get secret -o yaml`) and JSON
    Rule(
        "secret-data-yaml",
        (
            r"^(?P<head>(?P<indent>[ ]*)(?:- )?(?P<field>data|stringData):[ ]*\n)"
            r"(?P<body>(?:(?P=indent)[ ]+\S[^\n]*(?:\n|\Z))+)"
        ),
        ("data:",),
        _mask_yaml_data,
        scope="text",
        flags=re.MULTILINE,
    ),
    Rule(
        "secret-data-json",
        r'(?P<head>"(?P<field>data|stringData)"\s*:\s*\{)(?P<body>[^{}]*)\}',
        ('data"',),
        _mask_json_data,
        scope="text",
    ),
    # NAME=value, NAME: value, "NAME": "value", --NAME=value where the name says secret:
    # MYSQL_ROOT_PASSWORD=…, AWS_SECRET_ACCESS_KEY="…", "SessionToken": "…", client-key-data: …
    Rule(
        "secret-key-value",
        (
            r"(?P<key>(?<![\w.-])(?P<quote>[\"']?)(?P<name>-{0,2}[A-Za-z_][\w.-]*)(?P=quote)"
            r"\s*[:=]\s*)(?P<value>\[masked\]|\"[^\"\n]*\"|'[^'\n]*'|[^\s,;}\]\"']+)"
        ),
        (
            r"pass(?:w|phrase|\b)",
            "secret",
            "token",
            r"api[-_]?key",
            r"private[-_]?key",
            "credential",
            r"pwd\b",
            r"auth\b",
            "-data",
        ),
        _mask_value,
    ),
    # what is left of a base64 secret at the head of an output cut to its tail
    Rule(
        "cut-base64-head",
        r"\A[A-Za-z0-9+/=]{16,}(?=\s|\Z)",
        (),
        scope="text",
        cut_only=True,
    ),
)


@functools.cache
def _finder(trigger: str) -> re.Pattern[str]:
    # re's search for a literal (or a literal prefix) is faster than ``in`` on long texts
    return re.compile(trigger)


ABSENT = -1  # (in ``seen``) a trigger not in the text


def _line_spans(
    lowered: str, triggers: tuple[str, ...], seen: dict[str, int]
) -> list[tuple[int, int]]:
    """The (start, end) of every line holding one of ``triggers``, in order, merged.

    ``seen``: where each trigger was first found in ``lowered`` (see :func:`_triggered`): a
    trigger known absent is not searched again, a present one from where it was found.
    """
    starts: set[int] = set()
    for trigger in triggers:
        first = seen.get(trigger)
        if first == ABSENT:
            continue
        finder = _finder(trigger)
        found = finder.search(lowered, first or 0)
        while found is not None:
            start = lowered.rfind("\n", 0, found.start()) + 1
            starts.add(start)
            end = lowered.find("\n", found.end())
            if end == -1:
                break
            found = finder.search(lowered, end)
    spans = []
    for start in sorted(starts):
        end = lowered.find("\n", start)
        spans.append((start, len(lowered) if end == -1 else end))
    return spans


def _triggered(rule: Rule, lowered: str, seen: dict[str, int]) -> bool:
    """Does ``lowered`` hold one of the rule's triggers? ``seen`` caches each search: where
    the trigger was first found, or :data:`ABSENT`."""
    if not rule.triggers:
        return True
    for trigger in rule.triggers:
        if trigger not in seen:
            found = _finder(trigger).search(lowered)
            seen[trigger] = ABSENT if found is None else found.start()
        if seen[trigger] != ABSENT:
            return True
    return False


def apply_rule(
    rule: Rule, text: str, lowered: str | None = None, seen: dict[str, int] | None = None
) -> str:
    """``text`` with one rule applied; ``text`` itself when the rule changed nothing.

    ``lowered`` is ``text.lower()`` when already at hand; ``seen`` caches trigger searches
    over it (see :func:`_triggered`; the caller forgets the places found once the text
    changes, and keeps what was absent: masking only ever removes triggers).
    """
    lowered = text.lower() if lowered is None else lowered
    seen = {} if seen is None else seen
    if not _triggered(rule, lowered, seen):
        return text
    if rule.scope == "text" or not rule.triggers or len(lowered) != len(text):
        # (a lower-case form of another length: rare characters such as "İ"; whole text then)
        masked, count = rule.pattern.subn(rule.replace, text)
        return masked if count else text
    pieces = []
    done = 0
    for start, end in _line_spans(lowered, rule.triggers, seen):
        line = text[start:end]
        masked = rule.pattern.sub(rule.replace, line)
        if masked != line:
            pieces.append(text[done:start])
            pieces.append(masked)
            done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


# Every trigger in one pattern: on a short text, one search tells that no rule can match. (On a
# long one it is slower than a search for each trigger: re tries each branch at each place.)
_TRIGGERS = sorted({trigger for rule in RULES for trigger in rule.triggers})
_ANY_TRIGGER = re.compile("|".join(f"(?:{trigger})" for trigger in _TRIGGERS))
SHORT_TEXT = 2048  # characters


def mask(text: str, *, cut: bool = False) -> str:
    """``text`` with every secret it appears to contain replaced by ``[masked]``.

    ``cut``: ``text`` is the tail of a longer output, so its first line may be the rest of a
    secret whose beginning was left out.
    """
    if not text:
        return text
    lowered = text.lower()
    if not cut and len(text) <= SHORT_TEXT and _ANY_TRIGGER.search(lowered) is None:
        return text  # most outputs of most steps
    seen: dict[str, int] = {}
    for rule in RULES:
        if rule.cut_only and not cut:
            continue
        masked = apply_rule(rule, text, lowered, seen)
        if masked is not text:
            text = masked
            lowered = text.lower()
            # places found are places in the old text; what was absent still is
            seen = {trigger: at for trigger, at in seen.items() if at == ABSENT}
    return text
