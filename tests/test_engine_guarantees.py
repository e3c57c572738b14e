"""What the engine guarantees, whatever a guide, a terminal or a CI runner throws at it:
each proved with ``meshdemo run`` (or ``pytest --meshdemo``) on real bash, on a copy of the
engine fixture project (tests/fixtures/engine) whose page each test writes."""

from __future__ import annotations

import json
from pathlib import Path

from cli import engine_guide, meshdemo

# -- secrets and the terminal ---------------------------------------------------------------


def test_secrets_are_masked_in_captures_and_terminal_and_escapes_neutralised(
    tmp_path: Path,
) -> None:
    # the secrets are decoded at run time, so only the output can carry them
    guide = engine_guide(
        tmp_path / "guide",
        (
            ".bash #leak",
            'echo "MYSQL_ROOT_PASSWORD=$(echo cjAwdC1wdy14 | base64 -d)"\n'
            'echo "url: postgres://admin:$(echo cHctZGItOQ== | base64 -d)@db:5432/app"\n'
            "printf 'clear: \\033[2J done\\n'\n"
            "exit 4",
        ),
    )
    done = meshdemo("run", cwd=guide)
    assert done.returncode == 1, done.stdout + done.stderr
    capture = json.loads((guide / "docs" / "captures" / "leak.json").read_text())
    for secret in ("r00t-pw-x", "pw-db-9"):
        assert secret not in capture["output"]
        assert secret not in done.stdout + done.stderr
    assert "MYSQL_ROOT_PASSWORD=[masked]" in done.stdout
    assert "postgres://admin:[masked]@db" in done.stdout
    # the escape that would clear the screen is shown, not sent to the terminal
    assert "\x1b[2J" not in done.stdout
    assert "clear: \\x1b[2J done" in done.stdout
