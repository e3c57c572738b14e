"""The fence reader against python-markdown itself, and the brace-form tokenizer."""

from __future__ import annotations

import html
import re

import markdown
import pytest

from meshdemo.guide import fences

EXTENSIONS = ["admonition", "attr_list", "pymdownx.details", "pymdownx.superfences"]
CONFIGS = {"pymdownx.tabbed": {"alternate_style": True}}


def site_code_blocks(source: str) -> list[str]:
    """The code blocks python-markdown renders, with the extensions MkDocs Material uses."""
    rendered = markdown.markdown(
        source, extensions=[*EXTENSIONS, "pymdownx.tabbed"], extension_configs=CONFIGS
    )
    blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", rendered, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", block)).strip() for block in blocks]


def parsed_code_blocks(source: str) -> list[str]:
    return [t.content.strip() for t in fences.parse(source) if t.type in ("fence", "code_block")]


CONTAINER_CASES = {
    "fence with two blank lines in an admonition": (
        "!!! note\n    ```bash\n    a\n\n\n    b\n    ```\n"
    ),
    "fence after two blank lines in an admonition": (
        "!!! note\n    Text.\n\n\n    ```bash\n    echo x\n    ```\n"
    ),
    "tabs with blank lines": (
        '=== "A"\n\n    ```bash\n    echo a\n    ```\n\n\n    ```bash\n    echo b\n    ```\n\n'
        '=== "B"\n    ```bash\n    echo c\n    ```\n'
    ),
    "admonition in a list": (
        "1. Step\n\n    !!! note\n        ```bash\n        echo n\n        ```\n"
    ),
    "tab in an admonition": (
        '!!! example\n    === "X"\n        ```bash\n        echo x\n        ```\n'
    ),
    "admonition in a tab in a list": (
        '- item\n\n    === "T"\n        !!! tip\n            ```bash\n            echo deep\n'
        "            ```\n"
    ),
    "lazy line after an admonition": "!!! note\n    text\ncontinued\n\n```bash\necho out\n```\n",
    "two-space list item": "- item\n\n  ```bash\n  echo li\n  ```\n",
    "tab bodies without blank lines": (
        '=== "A"\n    text\n=== "B"\n    ```bash\n    echo b\n    ```\n'
    ),
    "quoted admonition title": '!!! warning "Be careful"\n    ```bash\n    echo w\n    ```\n',
    "open collapsible": "???+ tip\n    ```bash\n    echo t\n    ```\n",
    "indented code in a tab": '=== "A"\n    hi\n\n        not a fence\n',
    "unindented text ends a tab": '=== "A"\n    ```bash\n    echo in\n    ```\nout\n\n    code\n',
    "blockquote": "> ```bash\n> echo q\n> ```\n",
}


@pytest.mark.parametrize("source", CONTAINER_CASES.values(), ids=CONTAINER_CASES.keys())
def test_same_code_blocks_as_python_markdown(source: str) -> None:
    expected = site_code_blocks(source)
    assert expected, "each case has code blocks"
    assert parsed_code_blocks(source) == expected


def test_nested_fence_line_is_the_opening_fence() -> None:
    source = '- item\n\n    === "T"\n        !!! tip\n            ```bash\n            echo deep\n'
    source += "            ```\n"
    fence = next(t for t in fences.parse(source) if t.type == "fence")
    assert fence.map is not None
    assert source.splitlines()[fence.map[0]].strip() == "```bash"
    assert fence.content == "echo deep\n"


def test_brace_form() -> None:
    info = fences.parse_info("""{ .bash #install-crds timeout="120" skip-if='a | b "c"' .x k=v }""")
    assert (info.lang, info.id, info.classes, info.brace) == ("bash", "install-crds", ["x"], True)
    assert info.attrs == {"timeout": "120", "skip-if": 'a | b "c"', "k": "v"}


def test_bare_words_in_braces_are_flags() -> None:
    """attr_list and superfences read ``{ .python notest }``: a flag, as pytest-markdown-docs
    reads it in its superfences syntax."""
    info = fences.parse_info('{ .python #x notest timeout="3" }')
    assert (info.lang, info.id, info.words, info.attrs) == (
        "python",
        "x",
        ["notest"],
        {"timeout": "3"},
    )


def test_plain_forms() -> None:
    assert fences.parse_info("bash").lang == "bash"
    titled = fences.parse_info('py title="a b.py"')
    assert (titled.lang, titled.attrs) == ("py", {"title": "a b.py"})
    mixed = fences.parse_info('bash { #x timeout="3" }')
    assert (mixed.lang, mixed.id, mixed.attrs) == ("bash", "x", {"timeout": "3"})
    assert fences.parse_info("").lang is None


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("{ .bash", "missing closing '}'"),
        ("{ .bash } extra", "unexpected text after '}'"),
        ('{ .bash k="v }', "unterminated quoted value"),
        ("{ .bash k= }", "has no value"),
        ('{ .bash k="a"b }', "after the value"),
        ("{ .bash # }", "empty id"),
        ("{ . }", "empty class"),
        ("{ .bash #a #b }", "two ids"),
        ('{ .bash k="1" k="2" }', "given twice"),
        ("{ .bash @x }", "unexpected '@'"),
        ("{ .bash #my.id }", "unexpected '.' after #my"),
    ],
)
def test_brace_form_errors(info: str, message: str) -> None:
    with pytest.raises(fences.InfoError, match=re.escape(message)):
        fences.parse_info(info)


def test_unterminated_fence_is_detected() -> None:
    source = "!!! note\n    ```bash\n    echo open\n\nafter\n"
    lines = source.splitlines()
    fence = next(t for t in fences.parse(source) if t.type == "fence")
    assert not fences.fence_is_closed(fence, lines)
    closed = "```bash\necho\n````\n"
    fence = next(t for t in fences.parse(closed) if t.type == "fence")
    assert fences.fence_is_closed(fence, closed.splitlines())
