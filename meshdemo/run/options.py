"""The options of a run, declared once for every face that starts one.

``meshdemo run``, ``meshdemo demo`` and ``pytest --meshdemo`` all build their
:class:`~meshdemo.run.runner.Runner` from a :class:`RunOptions`; the command-line flags and
the pytest options are generated from the one table below, so a new option (or a changed
default or help text) reaches every face at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from meshdemo.status import CleanupPolicy


@dataclass(frozen=True)
class RunOptions:
    """Which cluster a run targets, when it tears it down, and what it writes."""

    kubeconfig: str | None = None  # an existing cluster, opted in to; None: the run's own
    context: str | None = None  # the one context of ``kubeconfig`` the run may use
    cleanup: CleanupPolicy = CleanupPolicy.ON_SUCCESS  # when teardown steps run
    capture: bool = True  # write captures, run.json and screenshots under docs/
    resume: bool = False  # start from the shell state the last run ended with (``--from``)

    def __post_init__(self) -> None:
        # a policy given as its text ("never") is refused here if unknown, not mid-run
        object.__setattr__(self, "cleanup", CleanupPolicy(self.cleanup))

    @property
    def existing_cluster(self) -> bool:
        return self.kubeconfig is not None


class _Option(NamedTuple):
    """One run option as a flag: ``--NAME`` on the CLI, ``--meshdemo-NAME`` under pytest."""

    name: str
    help: str
    metavar: str | None = None
    flag: bool = False  # a switch (store_true) rather than a value
    choices: tuple[str, ...] | None = None
    # the RunOptions field it sets, and how (the switch --no-capture sets capture=False)
    field: str = ""
    convert: Callable[[Any], Any] = lambda value: value


OPTIONS: tuple[_Option, ...] = (
    _Option(
        "kubeconfig",
        "opt in to an existing cluster (its kubeconfig file; --context is needed too)",
        metavar="FILE",
        field="kubeconfig",
    ),
    _Option(
        "context",
        "the one context of --kubeconfig the run may use",
        metavar="NAME",
        field="context",
    ),
    _Option(
        "cleanup",
        "when teardown steps run",
        choices=tuple(policy.value for policy in CleanupPolicy),
        field="cleanup",
        convert=CleanupPolicy,
    ),
    _Option(
        "no-capture",
        "write nothing under the docs folder (no captures, no run.json, no screenshots)",
        flag=True,
        field="capture",
        convert=lambda switch: not switch,
    ),
)


def _add(add: Callable[..., Any], option: _Option, flag: str, default: Any, why: str) -> None:
    kwargs: dict[str, Any] = {"help": option.help}
    if option.flag:
        kwargs["action"] = "store_true"
    else:
        kwargs["metavar"] = option.metavar
        if option.choices:
            kwargs["choices"] = list(option.choices)
            kwargs["default"] = str(default)
            kwargs["help"] = f"{option.help} (default: {default}{'; ' + why if why else ''})"
    add(flag, **kwargs)


def add_arguments(
    parser: argparse.ArgumentParser, *, cleanup: CleanupPolicy, why: str = ""
) -> None:
    """The run options as ``meshdemo`` flags; ``cleanup`` is the command's default policy."""
    group = parser.add_argument_group("run options")
    for option in OPTIONS:
        _add(group.add_argument, option, f"--{option.name}", cleanup, why)


def add_pytest_options(group: Any, *, cleanup: CleanupPolicy) -> None:
    """The same options for ``pytest --meshdemo``, prefixed ``--meshdemo-``."""
    for option in OPTIONS:
        _add(group.addoption, option, f"--meshdemo-{option.name}", cleanup, "")


def _build(get: Callable[[str], Any], *, resume: bool) -> RunOptions:
    values = {option.field: option.convert(get(option.name)) for option in OPTIONS}
    return RunOptions(**values, resume=resume)


def from_arguments(args: argparse.Namespace) -> RunOptions:
    """From parsed ``meshdemo run``/``demo`` flags. ``--from`` resumes the saved shell state:
    a later step needs what earlier ones exported (PATH, variables, the directory)."""
    return _build(
        lambda name: getattr(args, name.replace("-", "_")),
        resume=getattr(args, "from_id", None) is not None,
    )


def from_pytest(config: Any) -> RunOptions:
    """From ``pytest --meshdemo-*`` options (a pytest run always starts a fresh shell)."""
    return _build(lambda name: config.getoption(f"meshdemo_{name.replace('-', '_')}"), resume=False)
