"""A step's output: a bounded tail while it runs, masked before it is cut."""

from __future__ import annotations

import pytest

from meshdemo.run.masking import MASK
from meshdemo.run.output import OutputTail, shown_output

KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    + "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n" * 40
    + "-----END RSA PRIVATE KEY-----\n"
)


def test_the_tail_is_bounded_and_counts_what_it_left_out() -> None:
    tail = OutputTail(keep=1000)
    for _ in range(10_000):
        tail.add(b"y\n")
    assert len(tail.data) <= 2000
    assert tail.dropped + len(tail.data) == 20_000
    assert tail.text().endswith("y\n")


@pytest.mark.parametrize("limit", [100, 1000, 3000], ids=lambda n: f"limit-{n}")
def test_a_key_straddling_the_cut_is_masked_before_cutting(limit: int) -> None:
    text = "x\n" * 50 + KEY + "after\n"
    shown = shown_output(text, limit=limit)
    assert "MIIEowIBAAKC" not in shown
    assert shown.endswith("after\n")
    assert MASK in shown or len(shown.encode()) < limit + 100


def test_a_tail_that_starts_inside_a_key_is_masked() -> None:
    # the tail the session kept starts in the middle of a key: its BEGIN line was left out
    text = KEY[len(KEY) // 2 :] + "after\n"
    shown = shown_output(text, dropped=12345)
    assert "MIIEowIBAAKC" not in shown and "0Z3VS5JJ" not in shown
    assert shown.startswith("[... 12345 bytes of output left out ...]\n")
    assert shown.endswith("after\n")


def test_short_output_is_shown_whole() -> None:
    assert shown_output("hello\n") == "hello\n"
