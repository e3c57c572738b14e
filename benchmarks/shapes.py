"""The pages the comparison runs: three shapes of steps, each with the output it must print.

* trivial: ``echo step N``, one builtin per step, so a tool's figure is its own overhead;
* work: small real work, a few processes and a pipe per step (``seq | awk``, a file written
  and sorted, a hash, a date), what most runbook steps look like;
* large: steps that each print a log of about 200 KB, with a token in it that a runner which
  masks secrets must mask.

Every command's output is known in advance, so the tools that check output (prysk,
byexample) get the exact expected text, and a run that printed something else fails.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# the secret each large step prints; no capture written by meshdemo may contain it
SECRET_PREFIX = "bench-secret-"
_LOG_TEXT = "the quick brown fox jumps over the lazy dog"


@dataclass(frozen=True)
class Step:
    """One step: a bash command and exactly what it prints."""

    id: str
    command: str
    output: str  # stdout, each line ending with a newline


def trivial(count: int) -> list[Step]:
    return [Step(f"trivial-{n:04d}", f"echo step {n}", f"step {n}\n") for n in range(1, count + 1)]


def _work(n: int) -> Step:
    kind = n % 4
    if kind == 0:
        top = 1000 + n
        command = f"seq 1 {top} | awk '{{s += $1}} END {{print s}}'"
        output = f"{top * (top + 1) // 2}\n"
    elif kind == 1:
        command = f"printf '%s\\n' {{1..50}} > work-{n}.txt && sort -rn work-{n}.txt | head -n 2"
        output = "50\n49\n"
    elif kind == 2:
        command = f"echo 'hello {n}' | sha256sum | cut -c1-16"
        output = hashlib.sha256(f"hello {n}\n".encode()).hexdigest()[:16] + "\n"
    else:
        command = f"date -u -d @{n * 86400} +%F"
        output = f"{datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=n):%Y-%m-%d}\n"
    return Step(f"work-{n:04d}", command, output)


def work(count: int) -> list[Step]:
    return [_work(n) for n in range(1, count + 1)]


def _large(n: int, kilobytes: int) -> Step:
    prefix = f"step {n} log line "
    line_length = len(f"{prefix}000001: {_LOG_TEXT}\n")
    lines = max(1, kilobytes * 1024 // line_length)
    # the secret is put together by the shell: the page shows the command, not the secret
    command = (
        f"seq -f '{prefix}%06.0f: {_LOG_TEXT}' 1 {lines}; s=secret; echo \"token: bench-$s-{n}\""
    )
    body = "".join(f"{prefix}{i:06d}: {_LOG_TEXT}\n" for i in range(1, lines + 1))
    return Step(f"large-{n:04d}", command, f"{body}token: {SECRET_PREFIX}{n}\n")


def large(count: int, kilobytes: int) -> list[Step]:
    return [_large(n, kilobytes) for n in range(1, count + 1)]
