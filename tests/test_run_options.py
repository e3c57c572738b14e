"""Run options: one table makes the flags of `meshdemo run`/`demo` and of `pytest --meshdemo`."""

from __future__ import annotations

import argparse

import pytest

from meshdemo.cli import build_parser
from meshdemo.run.options import OPTIONS, RunOptions, add_pytest_options, from_arguments
from meshdemo.status import CleanupPolicy


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", ["run", "demo"])
def test_every_option_of_the_table_is_a_flag_of_the_command(command: str) -> None:
    args = parse(command, "--kubeconfig", "k", "--context", "c", "--cleanup", "always")
    args.no_capture = True
    assert from_arguments(args) == RunOptions(
        kubeconfig="k", context="c", cleanup=CleanupPolicy.ALWAYS, capture=False, resume=False
    )


def test_each_command_keeps_its_own_cleanup_default() -> None:
    assert from_arguments(parse("run")).cleanup is CleanupPolicy.ON_SUCCESS
    assert from_arguments(parse("demo")).cleanup is CleanupPolicy.NEVER


@pytest.mark.parametrize("command", ["run", "demo"])
def test_from_resumes_the_saved_shell_state(command: str) -> None:
    assert from_arguments(parse(command, "--from", "x")).resume
    assert not from_arguments(parse(command)).resume


def test_pytest_gets_the_same_options_prefixed() -> None:
    added: list[str] = []

    class Group:
        def addoption(self, flag: str, **kwargs: object) -> None:
            added.append(flag)

    add_pytest_options(Group(), cleanup=CleanupPolicy.ON_SUCCESS)
    assert added == [f"--meshdemo-{option.name}" for option in OPTIONS]


def test_an_unknown_cleanup_policy_is_refused_when_the_options_are_made() -> None:
    with pytest.raises(ValueError):
        RunOptions(cleanup="sometimes")  # type: ignore[arg-type]
