"""The meshdemo.site.markdown extension on Markdown strings, through real Python-Markdown.

Plain Python-Markdown gives no page and no docs_dir: the extension's ``docs_dir`` option
points it at a temporary one, as it would at a project's.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import markdown as python_markdown
import pytest
from fixture_guide import RAN_AT
from fixture_guide import captured as capture

from meshdemo import terminal
from meshdemo.captures import CaptureStore, RunRecord
from meshdemo.guide.pages import read_page_steps
from meshdemo.model import Step
from meshdemo.site import ansi
from meshdemo.site.blocks import EMBEDDED_LINES, SHOWN_LINES
from meshdemo.status import StepStatus

EXTENSIONS = ["admonition", "attr_list", "pymdownx.details", "pymdownx.superfences"]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    return tmp_path / "docs"


def store_of(docs: Path) -> CaptureStore:
    return CaptureStore(docs / "captures")


def steps_of(markdown: str, docs: Path, page: str = "page.md") -> dict[str, Step]:
    return {s.id: s for s in read_page_steps(page, markdown, docs_dir=docs)}


def render(markdown: str, docs: Path, **options: object) -> str:
    """HTML of ``markdown`` with the extension, as an engine would build it."""
    return python_markdown.markdown(
        markdown,
        extensions=["meshdemo.site.markdown", *EXTENSIONS, "pymdownx.tabbed"],
        extension_configs={
            "meshdemo.site.markdown": {"docs_dir": str(docs), "stylesheet": False, **options},
            "pymdownx.tabbed": {"alternate_style": True},
        },
    )


def tree(html: str) -> ET.Element:
    return ET.fromstring(f"<root>{html}</root>")


def runs(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter("div") if "meshdemo-run" in (e.get("class") or "").split()]


def text(element: ET.Element) -> str:
    return "".join(element.itertext())


def find(element: ET.Element, path: str) -> ET.Element:
    """``element.find(path)``, which the test relies on being there."""
    found = element.find(path)
    assert found is not None, f"no {path} in <{element.tag}>"
    return found


def test_output_under_a_fence_nested_in_an_admonition_stays_inside_it(docs: Path) -> None:
    page = """# Page

!!! note "Try it"

    ``` { .bash #hello }
    echo hi
    ```

After the note.
"""
    store_of(docs).write(capture(steps_of(page, docs)["hello"], "hi\n"))
    root = tree(render(page, docs))
    note = next(d for d in root.iter("div") if d.get("class") == "admonition note")
    (run,) = runs(note)  # inside the note, not after it
    assert run.get("class") == "meshdemo-run meshdemo-run--passed"
    assert text(find(run, "p")) == "✔ passed · exit 0 · 3.2 s"
    assert text(find(run, "pre")) == "hi"
    assert run.get("data-search-exclude") is not None
    last = list(root)[-1]
    assert last.tag == "p" and last.text == "After the note."


def test_fences_in_tabs_lists_and_quotes_keep_their_container(docs: Path) -> None:
    page = """# Page

=== "Linux"

    ``` { .bash #linux }
    echo linux
    ```

=== "macOS"

    ``` { .bash #mac }
    echo mac
    ```

1. First:

    ``` { .bash #in-list }
    echo listed
    ```

2. Second item.

> ``` { .bash #quoted }
> echo quoted
> ```
"""
    steps = steps_of(page, docs)
    for step_id in ("linux", "mac", "in-list"):
        store_of(docs).write(capture(steps[step_id], f"{step_id} output\n"))
    store_of(docs).write(
        capture(steps["quoted"], "quoted\n", status=StepStatus.FAILED, exit_status=3)
    )
    root = tree(render(page, docs))
    blocks = root.findall(".//div[@class='tabbed-block']")
    assert [len(runs(b)) for b in blocks] == [1, 1]
    assert "linux output" in text(blocks[0]) and "mac output" in text(blocks[1])
    items = root.findall(".//ol/li")
    assert len(items) == 2 and len(runs(items[0])) == 1
    assert "in-list output" in text(items[0])
    (failed,) = runs(find(root, ".//blockquote"))
    assert "meshdemo-run--failed" in failed.get("class", "")
    assert text(find(failed, "p")) == "✘ failed · exit 3, expected 0 · 3.2 s"


def test_colours_become_spans_and_no_control_sequence_reaches_the_page(docs: Path) -> None:
    page = "``` { .bash #colour }\nlinkerd check\n```\n"
    step = steps_of(page, docs)["colour"]
    raw = (
        "\x1b[32m√\x1b[0m can query the API\r\n"
        "\x1b[33m‼\x1b[0m control plane is up-to-date\n"
        "10%\r50%\r100% done\n"
        "\x1b]0;title\x07\x1b[1;31mError:\x1b[0m boom\x1b[K\n"
    )
    store_of(docs).write(capture(step, raw))
    html = render(page, docs)
    assert "\x1b" not in html and "[32m" not in html and "\x07" not in html
    (run,) = runs(tree(html))
    code = find(run, "pre/code")
    assert (
        text(code) == "√ can query the API\n‼ control plane is up-to-date\n100% done\nError: boom"
    )
    spans = [(s.get("class"), s.text) for s in code.iter("span")]
    assert spans == [("ansi-fg-2", "√"), ("ansi-fg-3", "‼"), ("ansi-fg-1 ansi-bold", "Error:")]


def test_a_short_output_is_shown_whole(docs: Path) -> None:
    page = "``` { .bash #short }\nseq 25\n```\n"
    store_of(docs).write(
        capture(steps_of(page, docs)["short"], "".join(f"{n}\n" for n in range(1, 26)))
    )
    (run,) = runs(tree(render(page, docs)))
    assert run.find("details") is None
    assert text(find(run, "pre")).split() == [str(n) for n in range(1, 26)]


def test_a_long_output_shows_its_first_lines_and_folds_the_rest(docs: Path) -> None:
    page = "``` { .bash #long }\nseq 100\n```\n"
    store_of(docs).write(
        capture(steps_of(page, docs)["long"], "".join(f"{n}\n" for n in range(1, 101)))
    )
    (run,) = runs(tree(render(page, docs)))
    shown, fold = find(run, "pre"), find(run, "details")
    assert text(shown).split() == [str(n) for n in range(1, SHOWN_LINES + 1)]
    assert fold.get("open") is None
    assert find(fold, "summary").text == f"Show all 100 lines ({100 - SHOWN_LINES} more)"
    assert text(find(fold, "pre")).split() == [str(n) for n in range(SHOWN_LINES + 1, 101)]


def test_a_failed_long_output_shows_its_last_lines(docs: Path) -> None:
    page = "``` { .bash #boom }\nmake\n```\n"
    output = "".join(f"step {n}\n" for n in range(1, 60)) + "error: boom\n"
    step = steps_of(page, docs)["boom"]
    store_of(docs).write(capture(step, output, status=StepStatus.FAILED, exit_status=2))
    (run,) = runs(tree(render(page, docs)))
    fold, shown = list(run)[1], list(run)[2]
    assert fold.tag == "details" and find(fold, "summary").text == "Show the 40 lines before"
    assert shown.tag == "pre" and text(shown).endswith("step 59\nerror: boom")


def test_a_huge_output_is_embedded_up_to_a_bound(docs: Path) -> None:
    page = "``` { .bash #huge }\nseq 50000\n```\n"
    lines = 50_000
    step = steps_of(page, docs)["huge"]
    store_of(docs).write(capture(step, "".join(f"{n}\n" for n in range(1, lines + 1))))
    root = tree(render(page, docs))
    (run,) = runs(root)
    embedded = sum(text(pre).count("\n") + 1 for pre in run.iter("pre"))
    assert embedded == EMBEDDED_LINES
    note = next(p for p in run.iter("p") if p.get("class") == "meshdemo-left-out")
    assert text(note) == (
        f"The last {lines - EMBEDDED_LINES:,} lines of {lines:,} lines are not shown here: "
        "the whole output is linked below it."
    )
    assert (
        find(run, "details/summary").text == f"Show the next {EMBEDDED_LINES - SHOWN_LINES} lines"
    )
    # the run wrote the whole output as text next to the capture; the page links it
    huge = store_of(docs).read("huge")
    assert huge is not None
    assert (docs / "captures" / "huge.txt").read_text() == huge.output
    link = next(a for a in root.iter("a") if a.get("href") == "captures/huge.txt")
    assert text(link) == "The whole output as text: 50,000 lines, 289 kB"
    paragraph = next(p for p in root.iter("p") if link in list(p))
    assert paragraph.get("class") == "meshdemo-whole-output"
    assert paragraph.get("data-search-exclude") is not None


@pytest.mark.parametrize("failed", [False, True], ids=["first-lines", "last-lines"])
def test_a_long_output_in_crlf_with_blank_lines_at_its_end_counts_only_its_lines(
    docs: Path, failed: bool
) -> None:
    """CRLF line ends are one line end each, and blank lines after the last line are no lines:
    the embedded lines and the count the note gives are those a terminal would have shown."""
    page = "``` { .bash #crlf }\nwin.exe\n```\n"
    lines = EMBEDDED_LINES + 30
    output = "".join(f"line {n}  \r\n" for n in range(1, lines + 1)) + "\r\n  \n\t\r\n"
    changes = {"status": StepStatus.FAILED, "exit_status": 1} if failed else {}
    store_of(docs).write(capture(steps_of(page, docs)["crlf"], output, **changes))
    (run,) = runs(tree(render(page, docs)))
    embedded = "\n".join(text(pre) for pre in run.iter("pre"))
    first = lines - EMBEDDED_LINES + 1 if failed else 1
    numbers = range(first, first + EMBEDDED_LINES)
    assert embedded.split("\n") == [f"line {n}  " for n in numbers]
    assert "\r" not in embedded
    note = next(p for p in run.iter("p") if p.get("class") == "meshdemo-left-out")
    where = "first" if failed else "last"
    assert text(note).startswith(f"The {where} 30 lines of {lines} lines are not shown here")


def test_the_whole_output_link_is_relative_to_a_page_in_a_folder(docs: Path) -> None:
    page = "``` { .bash #deep }\nseq 400\n```\n"
    step = steps_of(page, docs, page="chapter/deep.md")["deep"]
    store_of(docs).write(capture(step, "".join(f"{n}\n" for n in range(1, 401))))
    html = python_markdown.markdown(
        page,
        extensions=["meshdemo.site.markdown", *EXTENSIONS],
        extension_configs={"meshdemo.site.markdown": {"docs_dir": str(docs), "stylesheet": False}},
    )
    assert 'href="captures/deep.txt"' in html  # plain Python-Markdown: no page, docs_dir's root


def test_an_output_that_fits_the_page_has_no_text_file_and_no_link(docs: Path) -> None:
    page = "``` { .bash #short }\nseq 300\n```\n"
    step = steps_of(page, docs)["short"]
    store = store_of(docs)
    store.write(capture(step, "".join(f"{n}\n" for n in range(1, 301))))
    assert store.text_path_for("short").is_file()
    store.write(capture(step, "".join(f"{n}\n" for n in range(1, EMBEDDED_LINES + 1))))
    assert not store.text_path_for("short").exists()  # the longer run's text is gone with it
    html = render(page, docs)
    assert "whole output" not in html and "meshdemo-left-out" not in html


def test_output_cannot_inject_html_or_break_out_of_its_block(docs: Path) -> None:
    page = "``` { .bash #evil }\ncat page.html\n```\n\nAfter.\n"
    step = steps_of(page, docs)["evil"]
    nasty = (
        '<script>alert("x")</script>\n```\n# not a heading\n</pre></div>\n'
        "<img src=x onerror=alert(1)>\n"
    )
    store_of(docs).write(capture(step, nasty, note="<b>bold</b> note"))
    html = render(page, docs)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt; note" in html
    root = tree(html)
    assert root.find(".//h1") is None
    assert text(find(runs(root)[0], "pre")) == nasty.rstrip("\n")
    assert list(root)[-1].text == "After."


def test_a_page_shows_the_times_of_the_last_run_and_says_when_times_json_is_unreadable(
    docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = "# Page\n\n``` { .bash #greet }\necho hello\n```\n"
    step = steps_of(page, docs)["greet"]
    store = store_of(docs)
    store.write(capture(step, "hello\n"))
    # a later run printed the same: the file stays, times.json has that run's time
    store.write_times(
        [capture(step, "hello\n", started_at="2026-11-27T09:00:00.000+00:00", duration=9.9)]
    )
    (run,) = runs(tree(render(page, docs)))
    assert text(find(run, "p")) == "✔ passed · exit 0 · 9.9 s"
    (store.directory / "times.json").write_text("{not json")
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        (run,) = runs(tree(render(page, docs)))
    assert text(find(run, "p")) == "✔ passed · exit 0 · 3.2 s"  # the capture's own time
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreadable" in warnings[0] and "times.json" in warnings[0]
    assert "the captures' own times are shown" in warnings[0]


def test_a_changed_command_is_marked_stale_and_warned_about(
    docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = "# Page\n\n``` { .bash #greet }\necho hello\n```\n"
    store_of(docs).write(capture(steps_of(page, docs)["greet"], "hello\n"))
    edited = page.replace("echo hello", "echo 'hello, world'")
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        root = tree(render(edited, docs))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("page:3: ")
    assert "'greet' is stale" in warnings[0]
    (run,) = runs(root)
    stale = find(run, "aside")
    assert stale.get("class") == "meshdemo-stale"
    assert text(stale).startswith("Stale: the command above changed since this output was captured")
    assert text(find(stale, "details/pre")) == "echo hello"  # the command the output came from
    assert text(find(run, "pre")) == "hello"
    banner = next(d for d in root.iter("div") if "meshdemo-banner" in d.get("class", ""))
    assert text(banner).startswith("Partly verified on 2026-11-26 08:12 UTC")
    assert "1 of 1 steps passed; 1 stale." in text(banner)  # it passed, on the old command
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        root = tree(render(page, docs))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert runs(root)[0].find("aside") is None


def test_no_capture_means_one_quiet_notice_and_nothing_under_the_steps(
    docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = """# Page

Intro.

``` { .bash #todo }
kubectl get pods
```

``` { .bash #todo-2 }
kubectl get svc
```

``` { .screenshot #shot url="http://localhost:50750/" image="images/x.png" }
The dashboard
```

``` { .bash #dangerous skip="it deletes your cluster" }
kind delete clusters --all
```
"""
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        html = render(page, docs)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(
        "3 steps not captured yet: todo, todo-2, shot" in r.getMessage() for r in caplog.records
    )
    root = tree(html)
    assert [child.tag for child in root] == ["h1", "p", "p", "div", "div", "div"]
    notice = list(root)[1]
    assert (
        notice.get("class") == "meshdemo-notice" and notice.get("data-search-exclude") is not None
    )
    assert text(notice) == "No run of this page has been recorded yet."
    assert not runs(root) and root.find(".//img") is None
    assert "The dashboard" not in html and "deletes your cluster" not in html


def test_a_page_whose_steps_are_all_skipped_shows_no_run_status(docs: Path) -> None:
    page = '# Presenting\n\n``` { .bash #serve skip="run by the presenter" }\nmake serve\n```\n'
    root = tree(render(page, docs))
    assert [child.tag for child in root] == ["h1", "div"]
    assert "meshdemo" not in render(page, docs)


def test_expected_output_is_shown_as_declared_without_and_with_a_capture(docs: Path) -> None:
    page = """``` { .bash #version }
linkerd version --client
```

``` { .text .expected title="Example output (from linkerd.io)" }
Client version: edge-26.8.3
```
"""
    root = tree(render(page, docs))
    example = next(d for d in root.iter("div") if "meshdemo-expected" in d.get("class", ""))
    assert find(example, "p").text == "Example output (from linkerd.io)"
    assert text(find(example, "pre")) == "Client version: edge-26.8.3"
    assert len(root.findall(".//code")) == 2  # the command and the example: not shown twice

    store_of(docs).write(capture(steps_of(page, docs)["version"], "Client version: edge-26.9.1\n"))
    root = tree(render(page, docs))
    names = ["run" if "meshdemo-run" in c.get("class", "") else c.get("class", c.tag) for c in root]
    # the command, what it printed, then the example the page gives
    assert names[-3:] == ["highlight", "run", "admonition example meshdemo-expected"]
    assert text(find(runs(root)[0], "pre")) == "Client version: edge-26.9.1"


def test_a_screenshot_shows_its_image_and_caption_once_taken(docs: Path) -> None:
    page = """# Dashboard

``` { .screenshot #dash url="http://localhost:50750/namespaces" image="images/dash.png" }
The namespaces [all of them] *now*
```
"""
    (docs / "images").mkdir()
    (docs / "images" / "dash.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    step = steps_of(page, docs)["dash"]
    store_of(docs).write(capture(step, "", kind="screenshot", artifact="images/dash.png"))
    root = tree(render(page, docs))
    link = find(root, ".//a")
    image = find(link, "img")
    assert link.get("href") == "images/dash.png" and image.get("src") == "images/dash.png"
    assert (
        image.get("loading") == "lazy" and image.get("alt") == "The namespaces [all of them] *now*"
    )
    caption = next(p for p in root.iter("p") if p.get("class") == "meshdemo-screenshot")
    assert text(caption).strip() == "The namespaces [all of them] *now*."

    store_of(docs).write(
        capture(step, "", kind="screenshot", status=StepStatus.FAILED, note="no #data in 30 s")
    )
    root = tree(render(page, docs))
    caption = next(p for p in root.iter("p") if p.get("class") == "meshdemo-screenshot")
    assert "The last attempt to take it failed (no #data in 30 s)" in text(caption)


def test_the_banner_names_the_run_date_and_tools_once_per_page(docs: Path) -> None:
    page = "# Install\n\nText.\n\n``` { .bash #a }\ntrue\n```\n\n``` { .bash #b }\ntrue\n```\n"
    for step in steps_of(page, docs).values():
        store_of(docs).write(capture(step, ""))
    store_of(docs).write_run(
        RunRecord(
            run_id="r1",
            started_at=RAN_AT,
            tool_versions={"kind": "kind v0.31.0 go1.24 linux/amd64", "linkerd": "edge-26.8.3"},
        )
    )
    html = render(page, docs)
    root = tree(html)
    assert [child.tag for child in root][:3] == ["h1", "div", "p"]
    banner = list(root)[1]
    assert banner.get("class") == "meshdemo-banner meshdemo-banner--ok"
    assert find(banner, "p").text == (
        "Verified on 2026-11-26 08:12 UTC with kind v0.31.0 go1.24 linux/amd64, linkerd edge-26.8.3"
    )
    assert text(banner).endswith("2 of 2 steps passed.")
    assert html.count("2026-11-26") == 1  # the date once, not under every step
    assert [text(find(run, "p")) for run in runs(root)] == ["✔ passed · exit 0 · 3.2 s"] * 2


def test_the_stylesheet_comes_once_with_the_blocks(docs: Path) -> None:
    page = "# A\n\n``` { .bash #a }\ntrue\n```\n"
    assert render(page, docs, stylesheet=True).count("<style>") == 1
    assert "<style>" not in render("# No steps\n\n```yaml\nkind: Pod\n```\n", docs, stylesheet=True)


def test_blocks_take_their_place_as_python_markdown_would_place_them(docs: Path) -> None:
    """The extension's own processor for a block's paragraph changes nothing in the page but
    the paragraphs Python-Markdown's would wrap around a block at the end of a block quote:
    the same blocks in the same places, in every container, tight lists (where no paragraph
    is made) included, and never a block inside a paragraph."""
    page = """# Page

``` { .bash #top }
echo top
```

!!! note "In a note"

    ``` { .bash #noted }
    echo noted
    ```

=== "A tab"

    ``` { .bash #tabbed }
    echo tabbed
    ```

- tight item
    ``` { .bash #tight }
    echo tight
    ```
- next item

1. Loose item:

    ``` { .bash #loose }
    echo loose
    ```

> ``` { .bash #quoted }
> echo quoted
> ```

- > ``` { .bash #quoted-in-item }
  > echo quoted in an item
  > ```

??? note "Folded"

    ``` { .bash #folded }
    echo folded
    ```
"""
    steps = steps_of(page, docs)
    for step in steps.values():
        store_of(docs).write(capture(step, f"{step.id} output\n"))

    def convert(own_paragraphs: bool) -> str:
        md = python_markdown.Markdown(
            extensions=["meshdemo.site.markdown", *EXTENSIONS, "pymdownx.tabbed"],
            extension_configs={
                "meshdemo.site.markdown": {"docs_dir": str(docs), "stylesheet": False},
                "pymdownx.tabbed": {"alternate_style": True},
            },
        )
        if not own_paragraphs:
            md.parser.blockprocessors.deregister("meshdemo_paragraph")
        return md.convert(page)

    html = convert(own_paragraphs=True)
    assert len(runs(tree(html))) == len(steps) == 8
    assert not re.search(r"<p>\s*<div", html)  # a block is never put inside a paragraph
    default = convert(own_paragraphs=False)
    # Python-Markdown's own paragraphs wrap the blocks at the end of a quote, and only those
    wrapped = re.findall(r'<p><div class="meshdemo-run[^"]*" id="run-([^"]+)"', default)
    assert sorted(wrapped) == ["quoted", "quoted-in-item"]
    assert html == re.sub(r"<p>(<div class=\"meshdemo-run.*?</div>)\n</p>", r"\1", default)


def test_a_page_without_steps_is_left_alone(docs: Path) -> None:
    page = "# Intro\n\n```yaml\nkind: Pod\n```\n"
    plain = python_markdown.markdown(page, extensions=EXTENSIONS)
    assert render(page, docs) == plain


def test_a_tab_in_a_command_keeps_its_capture_fresh(docs: Path) -> None:
    """Python-Markdown expands tabs before parsing; the runner read the command before that."""
    page = "``` { .bash #heredoc }\ncat <<-EOF\n\tindented\n\tEOF\n```\n"
    step = steps_of(page, docs)["heredoc"]
    assert "\t" in step.command
    store_of(docs).write(capture(step, "indented\n"))
    (run,) = runs(tree(render(page, docs)))
    assert run.find("aside") is None


def test_the_captures_folder_can_be_named(docs: Path, tmp_path: Path) -> None:
    page = "``` { .bash #elsewhere }\necho moved\n```\n"
    CaptureStore(tmp_path / "runs").write(capture(steps_of(page, docs)["elsewhere"], "moved\n"))
    assert not runs(tree(render(page, docs)))
    (run,) = runs(tree(render(page, docs, captures=str(tmp_path / "runs"))))
    assert text(find(run, "pre")) == "moved"


@pytest.mark.parametrize(
    ("raw", "seen"),
    [
        ("\x1b[1;31mError:\x1b[0m boom", "Error: boom"),  # SGR colour and bold
        ("\x1b]0;window title\x07ready", "ready"),  # OSC title, BEL-terminated
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink, ST-terminated
        ("Waiting\x1b[K\rDone   ", "Done   "),  # erase-line then carriage return
        ("50%\r100%\nnext", "100%\nnext"),  # a progress bar keeps its final state
        ("abc\b\bX", "aXc"),  # backspace overwrites
        ("keep\ttabs\x00\x07", "keep\ttabs"),  # other controls dropped
        ("crlf\r\nline", "crlf\nline"),
    ],
)
def test_terminal_text_is_cleaned(raw: str, seen: str) -> None:
    assert terminal.clean(raw) == seen


def test_text_that_cleaning_would_change_is_never_taken_for_clean() -> None:
    # clean() returns a text without controls as it is, after one scan: every character that
    # the whole cleaning changes must be among those the scan looks for
    for code in [*range(0x3000), 0xFEFF, 0x1F600]:
        text = f"a{chr(code)}b\nc{chr(code)}"
        if terminal._clean_all(text) != text:
            assert terminal.clean(text) == terminal._clean_all(text), hex(code)
        else:
            assert terminal.clean(text) == text


@pytest.mark.parametrize(
    ("raw", "html"),
    [
        ("plain <b> & more", ["plain &lt;b&gt; &amp; more"]),
        ("\x1b[32mgreen\x1b[0m plain", ['<span class="ansi-fg-2">green</span> plain']),
        ("\x1b[92mbright\x1b[39m", ['<span class="ansi-fg-10">bright</span>']),
        (
            "\x1b[1mbold\nstill\x1b[22m no",
            ['<span class="ansi-bold">bold</span>', '<span class="ansi-bold">still</span> no'],
        ),
        (
            "\x1b[38;5;208mo\x1b[48;2;1;2;3mx",
            [
                '<span style="color:#ff8700">o</span>'
                '<span style="color:#ff8700;background:#010203">x</span>'
            ],
        ),
        ("\x1b[31m50%\r100%\x1b[0m", ['<span class="ansi-fg-1">100%</span>']),
        ("\x1b[2J\x1b[Hcleared", ["cleared"]),
    ],
    ids=["escaped", "sgr", "bright", "across-lines", "256-and-rgb", "replayed", "other-csi"],
)
def test_terminal_colours_become_spans(raw: str, html: list[str]) -> None:
    assert ansi.to_html_lines(raw) == html
