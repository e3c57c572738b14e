"""pytest plugin: each step of an MkDocs guide as a test item (enabled with ``--meshdemo``)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meshdemo", "run the steps of an MkDocs guide")
    group.addoption("--meshdemo", action="store_true", help="collect the steps of the guide")
