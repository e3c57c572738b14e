"""Plain output without rich: the same text rich writes for the same markup, without styles."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.text import Text

from meshdemo.console import PlainConsole, console_for_output, escape, plain, wants_rich

TEXTS = [
    "plain words",
    "[bold]not a tag to keep[/]",
    "a [list] and [1, 2]",
    "step [id] at docs/page.md:12",
    "path\\",
    "path\\\\",
    "\\[bold] already escaped",
    "\\\\[bold] two backslashes",
    "[/] [#fff] [@click] [red on white]",
    "KUBECONFIG=/tmp/[x]/config",
    "echo '[masked]' && [[ -e f ]]",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_escape_is_rich_escape(text: str) -> None:
    assert escape(text) == rich_escape(text)


# (two backslashes at the end come out as one, in rich as here: rich's escape leaves them)
@pytest.mark.parametrize("text", [t for t in TEXTS if not t.endswith("\\\\")])
def test_escaped_text_comes_out_as_it_went_in(text: str) -> None:
    # (as it is used: between tags, where a last backslash must not escape the closing one)
    assert plain(f"[bold]{escape(text)}[/]") == text
    assert Text.from_markup(f"[bold]{escape(text)}[/]").plain == text


MARKUP = [
    "[bold red]docs/a.md:3[/]: step x failed",
    "Fix it, then resume with:  [bold]meshdemo run --from x[/]",
    "[dim]tools: bash: GNU bash[/]",
    "[green]✓ ok[/] [dim]a.md:1[/] 3 ms",
    "\\[not a tag] [b]a tag[/b]",
    "\\\\[b]tag after an escaped backslash[/b]",
    "[yellow]Cleaned up[/]: a run that did not end cleanly",
]


@pytest.mark.parametrize("markup", MARKUP + [escape(t) for t in TEXTS])
def test_plain_text_is_what_rich_shows(markup: str) -> None:
    assert plain(markup) == Text.from_markup(markup).plain


def test_a_plain_console_writes_lines_whole_and_without_codes() -> None:
    out = io.StringIO()
    console = PlainConsole(out)
    long_command = "meshdemo run --from " + "x" * 300
    console.print(f"Fix it, then resume with:  [bold]{escape(long_command)}[/]", soft_wrap=True)
    console.print()
    assert out.getvalue() == f"Fix it, then resume with:  {long_command}\n\n"
    assert not console.is_terminal


def test_rich_is_used_for_a_terminal_or_when_colour_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert wants_rich(Terminal())
    assert not wants_rich(io.StringIO())
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert isinstance(console_for_output(), PlainConsole)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert isinstance(console_for_output(), Console)


def test_run_into_a_pipe_does_not_import_rich() -> None:
    code = (
        "import sys, meshdemo.commands.run, meshdemo.report, meshdemo.console as c;"
        "c.console_for_output(); print(sorted(m for m in sys.modules if m.startswith('rich')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
