"""render_page on Markdown strings, checked through the real Python-Markdown the site uses."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import markdown as python_markdown
import pytest

from meshdemo.captures import Capture, CaptureStore, RunRecord
from meshdemo.guide.pages import read_page_steps
from meshdemo.model import Step
from meshdemo.site import ansi
from meshdemo.site.render import EXTENSIONS, FOLD_AFTER, render_page
from meshdemo.status import StepStatus

RAN_AT = "2026-11-26T08:12:40.120+00:00"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    return tmp_path / "docs"


def store_of(docs: Path) -> CaptureStore:
    return CaptureStore(docs / "captures")


def steps_of(markdown: str, docs: Path, page: str = "page.md") -> dict[str, Step]:
    return {s.id: s for s in read_page_steps(page, markdown, docs_dir=docs)}


def capture(step: Step, output: str, **changes: object) -> Capture:
    fields: dict[str, object] = {
        "id": step.id,
        "kind": step.kind.value,
        "page": step.page,
        "line": step.line,
        "command": step.command,
        "command_hash": step.command_hash,
        "status": StepStatus.PASSED,
        "exit_status": 0,
        "started_at": RAN_AT,
        "duration": 3.24,
        "output": output,
    }
    fields.update(changes)
    return Capture(**fields)  # type: ignore[arg-type]


def to_html(markdown: str) -> str:
    configs = {name: options for name, options in EXTENSIONS.items() if options}
    return python_markdown.markdown(
        markdown, extensions=list(EXTENSIONS), extension_configs=configs
    )


def tree(html: str) -> ET.Element:
    return ET.fromstring(f"<root>{html}</root>")


def render(markdown: str, docs: Path, page: str = "page.md") -> str:
    (docs / page).write_text(markdown)
    return render_page(markdown, page, store_of(docs), docs)


def find_details(root: ET.Element, kind: str) -> list[ET.Element]:
    return [e for e in root.iter("details") if kind in (e.get("class") or "").split()]


def test_output_under_a_fence_nested_in_an_admonition_stays_inside_it(docs: Path) -> None:
    page = """# Page

!!! note "Try it"

    ``` { .bash #hello }
    echo hi
    ```

After the note.
"""
    steps = steps_of(page, docs)
    store_of(docs).write(capture(steps["hello"], "hi\n"))
    out = render(page, docs)
    body = out.split("    ```\n", 2)[2]
    inserted = body.split("After the note.")[0]
    assert all(ln.startswith("    ") for ln in inserted.splitlines() if ln.strip())
    root = tree(to_html(out))
    note = next(d for d in root.iter("div") if d.get("class") == "admonition note")
    (details,) = find_details(note, "success")  # inside the note, not after it
    assert details.find("summary").text.startswith("Output — passed in 3.2 s, exit 0")
    assert "ran 2026-11-26 08:12 UTC" in details.find("summary").text
    assert "".join(details.itertext()).strip().endswith("hi")
    last = list(root)[-1]
    assert last.tag == "p" and last.text == "After the note."


def test_fences_in_tabs_lists_and_quotes_keep_their_container(docs: Path) -> None:
    page = """# Page

=== "Linux"

    ```bash
    echo linux
    ```

=== "macOS"

    ```bash
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
    assert set(steps) == {"page-page", "page-page-2", "in-list", "quoted"}
    for step_id, text in [("page-page", "linux"), ("page-page-2", "mac"), ("in-list", "listed")]:
        store_of(docs).write(capture(steps[step_id], f"{text}\n"))
    store_of(docs).write(
        capture(steps["quoted"], "quoted\n", status=StepStatus.FAILED, exit_status=3)
    )
    root = tree(to_html(render(page, docs)))
    blocks = root.findall(".//div[@class='tabbed-block']")
    assert [len(find_details(b, "success")) for b in blocks] == [1, 1]
    assert "linux" in "".join(blocks[0].itertext()) and "mac" in "".join(blocks[1].itertext())
    items = root.findall(".//ol/li")
    assert len(items) == 2 and len(find_details(items[0], "success")) == 1
    assert "listed" in "".join(items[0].itertext())
    quote = root.find(".//blockquote")
    (failed,) = find_details(quote, "failure")
    assert failed.get("open") == "open"  # failures are shown, not folded away
    assert "failed: exit 3 (expected 0)" in failed.find("summary").text


def test_terminal_escapes_are_reduced_to_what_a_reader_saw(docs: Path) -> None:
    page = "``` { .bash #colour }\nlinkerd check\n```\n"
    step = steps_of(page, docs)["colour"]
    raw = "\x1b[32m√\x1b[0m can query the API\r\n10%\r50%\r100% done\n"
    store_of(docs).write(capture(step, raw))
    html = to_html(render(page, docs))
    assert "\x1b" not in html and "[32m" not in html
    code = "".join(tree(html).find(".//details//code").itertext())
    assert code == "√ can query the API\n100% done\n"


def test_long_output_is_folded_after_the_first_lines(docs: Path) -> None:
    page = "``` { .bash #long }\nseq 100\n```\n"
    step = steps_of(page, docs)["long"]
    store_of(docs).write(capture(step, "".join(f"{n}\n" for n in range(1, 101))))
    root = tree(to_html(render(page, docs)))
    (outer,) = find_details(root, "success")
    shown = "".join(outer.find("div/pre/code").itertext()).split()
    assert shown == [str(n) for n in range(1, FOLD_AFTER + 1)]
    (rest,) = find_details(outer, "note")
    assert rest.find("summary").text == f"{100 - FOLD_AFTER} more lines"
    assert "".join(rest.find(".//code").itertext()).split() == [
        str(n) for n in range(FOLD_AFTER + 1, 101)
    ]


def test_output_cannot_inject_html_or_break_out_of_its_fence(docs: Path) -> None:
    page = "``` { .bash #evil }\ncat page.html\n```\n\nAfter.\n"
    step = steps_of(page, docs)["evil"]
    nasty = (
        '<script>alert("x")</script>\n```\n# not a heading\n````\n<img src=x onerror=alert(1)>\n'
    )
    store_of(docs).write(capture(step, nasty, note="<b>bold</b> note"))
    html = to_html(render(page, docs))
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt; note" in html
    root = tree(html)
    assert root.find(".//h1") is None  # '# not a heading' stayed inside the code block
    code = "".join(find_details(root, "success")[0].find(".//code").itertext())
    assert code == nasty
    assert list(root)[-1].text == "After."


def test_a_changed_command_is_marked_stale_and_warned_about(
    docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = "# Page\n\n``` { .bash #greet }\necho hello\n```\n"
    step = steps_of(page, docs)["greet"]
    store_of(docs).write(capture(step, "hello\n"))
    edited = page.replace("echo hello", "echo 'hello, world'")
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        root = tree(to_html(render(edited, docs)))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "page.md:3" in warnings[0].getMessage()
    assert "'greet' is stale" in warnings[0].getMessage()
    stale = next(
        d
        for d in root.iter("div")
        if d.get("class") == "admonition warning" and d.find("p").text == "Captured output is stale"
    )
    assert "the command changed since it ran on 2026-11-26 08:12 UTC" in "".join(stale.itertext())
    assert "echo hello" in "".join(stale.itertext())  # the command the output came from
    # not stale when unchanged: no warning
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        render(page, docs)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_missing_and_skipped_steps_say_so_plainly_without_warnings(
    docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = """# Page

``` { .bash #todo }
kubectl get pods
```

``` { .bash #dangerous skip="it deletes your cluster" }
kind delete clusters --all
```
"""
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.meshdemo"):
        html = to_html(render(page, docs))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("todo" in r.getMessage() for r in caplog.records)  # said, as info
    text = "".join(tree(html).itertext())
    assert "Not captured yet: this command has not been run by meshdemo on this copy of" in text
    assert "Not run: it deletes your cluster" in text
    assert "Not yet verified by a run" in text


def test_expected_output_alone_then_beside_the_capture(docs: Path) -> None:
    page = """``` { .bash #version }
linkerd version --client
```

``` { .text .expected title="Example output (from linkerd.io)" }
Client version: edge-26.8.3
```
"""
    root = tree(to_html(render(page, docs)))
    example = next(
        d for d in root.iter("div") if d.get("class") == "admonition example meshdemo-expected"
    )
    assert example.find("p").text == "Example output (from linkerd.io)"
    assert "Client version: edge-26.8.3" in "".join(example.itertext())
    assert len(root.findall(".//code")) == 2  # the command and the example: not shown twice

    step = steps_of(page, docs)["version"]
    store_of(docs).write(capture(step, "Client version: edge-26.9.1\n"))
    root = tree(to_html(render(page, docs)))
    (details,) = find_details(root, "success")
    labels = [label.text for label in details.iter("label")]
    assert labels == ["Captured", "Example output (from linkerd.io)"]
    blocks = ["".join(b.itertext()) for b in details.findall(".//div[@class='tabbed-block']")]
    assert "edge-26.9.1" in blocks[0] and "edge-26.8.3" in blocks[1]


def test_screenshot_shows_the_image_with_caption_and_date_or_a_note(docs: Path) -> None:
    page = """# Dashboard

``` { .screenshot #dash url="http://localhost:50750/namespaces" image="images/dash.png" }
The namespaces [all of them]
```
"""
    root = tree(to_html(render(page, docs)))
    assert "Screenshot not taken yet" in "".join(root.itertext())
    assert root.find(".//img") is None

    (docs / "images").mkdir()
    (docs / "images" / "dash.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    step = steps_of(page, docs)["dash"]
    store_of(docs).write(capture(step, "", kind="screenshot", artifact="images/dash.png"))
    root = tree(to_html(render(page, docs)))
    link = root.find(".//a")
    image = link.find("img")
    assert link.get("href") == "images/dash.png" and image.get("src") == "images/dash.png"
    assert image.get("loading") == "lazy" and image.get("alt") == "The namespaces [all of them]"
    caption = next(p for p in root.iter("p") if p.get("class") == "meshdemo-screenshot")
    assert "Taken 2026-11-26 08:12 UTC." in "".join(caption.itertext())


def test_banner_names_the_run_date_and_tool_versions(docs: Path) -> None:
    page = "# Install\n\nText.\n\n``` { .bash #a }\ntrue\n```\n\n``` { .bash #b }\ntrue\n```\n"
    steps = steps_of(page, docs)
    for step in steps.values():
        store_of(docs).write(capture(step, ""))
    store_of(docs).write_run(
        RunRecord(
            run_id="r1",
            started_at=RAN_AT,
            tool_versions={"kind": "kind v0.31.0 go1.24 linux/amd64", "linkerd": "edge-26.8.3"},
        )
    )
    out = render(page, docs)
    assert out.index("# Install") < out.index("Verified on") < out.index("Text.")
    root = tree(to_html(out))
    banner = next(d for d in root.iter("div") if d.get("class") == "admonition success")
    assert banner.find("p").text == (
        "Verified on 2026-11-26 08:12 UTC with kind v0.31.0 go1.24 linux/amd64, linkerd edge-26.8.3"
    )
    assert "2 of 2 steps passed." in "".join(banner.itertext())


def test_a_page_without_steps_is_left_alone(docs: Path) -> None:
    page = "# Intro\n\n```yaml\nkind: Pod\n```\n"
    assert render(page, docs) == page


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
    assert ansi.clean(raw) == seen
