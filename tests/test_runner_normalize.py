"""Expected output matching: volatile tokens, contains (in order) and exact."""

from __future__ import annotations

from meshdemo.run.normalize import compare, normalize_line

RUN = """NAME                       READY   STATUS    RESTARTS   AGE     IP
books-7f6c9d8b5c-q2x9z     2/2     Running   0          12s     10.244.0.17
authors-64b8f7cd9c-8kx2w   2/2     Running   1 (3m ago) 4d2h    10.244.0.18
webapp-0                   2/2     Running   0          2m30s   10.244.0.19
"""


def test_volatile_tokens_become_placeholders() -> None:
    assert normalize_line("books-5d8f9c7b6d-x2x9q   1/1   Running   0   5m12s") == (
        "books-<POD> 1/1 Running 0 <DUR>"
    )
    assert normalize_line("latency 12ms p99 1.5s from 192.168.1.4:8080") == (
        "latency <DUR> p99 <DUR> from <IP>:8080"
    )
    assert normalize_line("2024-05-01T12:03:04.5Z started, 100.00% success   ") == (
        "<DATE> started, <NUM> success"
    )
    assert normalize_line("Mon Jan  2 15:04:05 UTC 2006 build") == "<DATE> build"
    # words and versions are not volatile
    assert normalize_line("linkerd-identity 2/2 version edge-24.11.8") == (
        "linkerd-identity 2/2 version edge-24.11.8"
    )


def test_contains_matches_lines_in_order_ignoring_volatile_tokens() -> None:
    expected = """
NAME READY STATUS RESTARTS AGE IP
books-5d8f9c7b6d-x2x9q   2/2   Running   0   5m   10.1.1.1

webapp-0   2/2   Running
"""
    assert compare(expected, RUN).matched


def test_contains_accepts_a_substring_of_a_line() -> None:
    assert compare("Running   1", RUN).matched


def test_contains_reports_the_first_missing_line() -> None:
    result = compare("webapp-0 2/2 Running\nbooks-5d8f9c7b6d-x2x9q 2/2 Running", RUN)
    assert not result.matched  # out of order
    assert "books-5d8f9c7b6d-x2x9q" in result.detail
    result = compare("books-5d8f9c7b6d-x2x9q 0/2 CrashLoopBackOff", RUN)
    assert not result.matched
    assert "CrashLoopBackOff" in result.detail


def test_exact() -> None:
    assert compare("a 1ms\nb\n", "\na   20ms  \nb\n\n", "exact").matched
    result = compare("a\nb\n", "a\nc\n", "exact")
    assert not result.matched and result.detail == "line 2: expected 'b', got 'c'"
    assert not compare("a\n", "a\nb\n", "exact").matched
    # blank lines count only inside an output; whitespace-only lines at either end are blank
    assert compare("a\n\nb", " \t\na\n\nb\n\x0c\n", "exact").matched
    assert not compare("a\nb", "a\n\nb", "exact").matched
    # an identical line with a percentage still has its numbers held to the tolerance
    assert compare("x 50%\ny 1%", "x 50%\ny 2%", "exact", tolerance=1).matched
    assert not compare("x 50%\ny 1%", "x 50%\ny 9%", "exact", tolerance=1).matched


def test_percentages_count_only_with_a_declared_tolerance() -> None:
    assert compare("success 99.5%", "success 98.0%").matched  # no tolerance: ignored
    assert compare("success 99.5%", "success 98.0%", tolerance=2).matched
    assert not compare("success 99.5%", "success 96.0%", tolerance=2).matched
    assert compare("rate 1.0rps ok", "x rate 1.5rps ok y", tolerance=1).matched  # contains
    assert not compare("rate 1.0rps ok", "x rate 3.5rps ok y", tolerance=1).matched
    detail = compare("a 50%\n", "a 10%\n", "exact", tolerance=5).detail
    assert detail == "line 1: expected 'a 50%', got 'a 10%'"
