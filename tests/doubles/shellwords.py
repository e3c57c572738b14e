"""Split a shell script into its simple commands, well enough to check which tools and flags a
guide step or a workflow `run:` calls. Not a shell parser: no expansions, no compound commands
beyond the separators below; heredoc bodies are dropped."""

from __future__ import annotations

import re
import shlex

SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "|&", ";;"}
REDIRECTIONS = {">", ">>", "<", "<<", "<<<", ">&", "<&", "&>", "&>>", ">|"}
PREFIX_WORDS = {
    "sudo",
    "time",
    "exec",
    "command",
    "env",
    "nohup",
    "setsid",
    "xargs",
    "then",
    "do",
    "else",
    "if",
    "while",
    "until",
    "!",
    "{",
    "}",
}
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def _drop_heredocs(script: str) -> str:
    kept: list[str] = []
    end: str | None = None
    for line in script.splitlines():
        if end is not None:
            if line.strip() == end:
                end = None
            continue
        kept.append(line)
        match = HEREDOC.search(line)
        if match:
            end = match.group(2)
    return "\n".join(kept)


def simple_commands(script: str) -> list[list[str]]:
    """The words of each simple command, in order; leading VAR=value and wrappers removed
    (``sudo``, ``timeout 15s``, ``env A=B``...), redirections removed."""
    text = _drop_heredocs(script).replace("\\\n", " ")
    commands: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:  # unbalanced quotes: not a line we can judge
            continue
        current: list[str] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if token in SEPARATORS:
                if current:
                    commands.append(current)
                current = []
            elif token.isdigit() and following[:1] in ("<", ">"):
                pass  # the file descriptor of a redirection: 2>&1, 2>/dev/null
            elif token in REDIRECTIONS:
                i += 1  # and its target
            else:
                current.append(token)
            i += 1
        if current:
            commands.append(current)
    return [cleaned for cleaned in map(_strip_prefix, commands) if cleaned]


def _strip_prefix(words: list[str]) -> list[str]:
    while words:
        head = words[0]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", head) or head in PREFIX_WORDS - {"timeout"}:
            words = words[1:]
        elif head == "timeout":  # timeout [-s SIG] DURATION CMD...
            rest = words[1:]
            while rest and rest[0].startswith("-"):
                rest = rest[2:] if rest[0] in ("-s", "--signal", "-k") else rest[1:]
            words = rest[1:]
        else:
            break
    return words
