"""The table of step options is what the parser accepts, what the reference page lists and
what ``--dry-run`` shows: each of those is checked against the table here."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from meshdemo.errors import ParseError
from meshdemo.guide import fences
from meshdemo.guide.options import (
    EXPECTED,
    OPTIONS,
    RULES,
    STEP_KINDS,
    Where,
    describe,
    options_for,
    parse_expected_options,
    parse_step_options,
    reference_table,
)
from meshdemo.guide.pages import load_project, read_page_steps
from meshdemo.model import Kind, StepOptions

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"
WHERE = Where("page.md", Path("docs/page.md"), 7)


def _info(kind: str, attrs: str) -> fences.FenceInfo:
    return fences.parse_info(f"{{ .{kind} #s {attrs} }}")


def _parse(kind: str, attrs: str) -> dict:
    info = _info(kind, attrs)
    if kind == EXPECTED:
        return parse_expected_options(WHERE, fences.parse_info(f"{{ .text .expected {attrs} }}"))
    options = parse_step_options(WHERE, Kind(kind), info)
    return {f: getattr(options, f) for f in StepOptions.__dataclass_fields__}


SCREENSHOT_NEEDS = 'url="http://localhost:1/" image="x.png"'


def _with_required(kind: str, attrs: str) -> str:
    """A screenshot needs url and image whatever else the case gives."""
    if kind != "screenshot":
        return attrs
    extra = " ".join(part for part in SCREENSHOT_NEEDS.split() if part.split("=")[0] not in attrs)
    return f"{attrs} {extra}".strip()


ACCEPTED = [(option, kind) for option in OPTIONS for kind in option.kinds]


@pytest.mark.parametrize(
    ("option", "kind"), ACCEPTED, ids=[f"{o.name}-on-{k}" for o, k in ACCEPTED]
)
def test_each_option_is_read_on_the_fences_the_table_gives(option, kind) -> None:
    """The table's own example parses, into the field the table names."""
    values = _parse(kind, _with_required(kind, option.example))
    written = fences.parse_info(f"{{ .x {option.example} }}").attrs[option.name]
    assert option.value.show(values[option.field]) == written


REFUSED = [(option, kind) for option in OPTIONS for kind in (*STEP_KINDS, EXPECTED)]
REFUSED = [(o, k) for o, k in REFUSED if k not in o.kinds and o.name not in ("title",)]


@pytest.mark.parametrize(("option", "kind"), REFUSED, ids=[f"{o.name}-on-{k}" for o, k in REFUSED])
def test_an_option_on_a_fence_the_table_does_not_give_is_refused(option, kind) -> None:
    value = fences.parse_info(f"{{ .x {option.example} }}").attrs[option.name]
    with pytest.raises(ParseError, match=f"unknown attribute '{option.name}'") as raised:
        _parse(kind, _with_required(kind, f'{option.name}="{value}"'))
    assert raised.value.line == 7


def test_title_is_a_display_attribute_on_steps() -> None:
    """title="..." labels any code block (superfences), so steps accept and ignore it."""
    assert _parse("bash", 'title="a file"')["timeout"] == 300


RULE_CASES = [
    ('background="true" stream="10"', "background and stream cannot go together"),
    ('background="true" retry="3"', "background and retry cannot go together"),
    ('stream="10" timeout="20"', "stream and timeout cannot go together"),
    ('skip="not here" skip-if="true"', "skip and skip-if cannot go together"),
    ('provision="true" teardown="true"', "provision and teardown cannot go together"),
    ('retry-delay="3"', 'it needs retry="2" or more'),
    ('retry="1" retry-delay="3"', 'it needs retry="2" or more'),
]


@pytest.mark.parametrize(("attrs", "message"), RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_rules_across_options(attrs: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        _parse("bash", attrs)


def test_every_rule_is_exercised() -> None:
    """A rule added to the table without a case here fails this test."""
    cases = [attrs for attrs, _ in RULE_CASES]
    for rule in RULES:
        words = re.findall(r"`([a-z-]+)`", rule.description)
        assert any(all(w in case for w in words) for case in cases), rule.description


def test_describe_writes_what_the_page_would_and_reads_back() -> None:
    attrs = 'timeout="420" retry="24" retry-delay="2.5" exit="any" skip-if="test -f x"'
    options = parse_step_options(WHERE, Kind.BASH, _info("bash", attrs))
    text = describe(options, Kind.BASH)
    assert text == 'timeout="420" exit="any" retry="24" retry-delay="2.5" skip-if="test -f x"'
    again = parse_step_options(WHERE, Kind.BASH, _info("bash", text))
    assert again == options
    assert describe(StepOptions(), Kind.BASH) == ""
    quoted = _info("bash", """skip-if='grep -q "x" f'""")
    assert describe(parse_step_options(WHERE, Kind.BASH, quoted), Kind.BASH) == (
        """skip-if='grep -q "x" f'"""
    )


def test_the_table_of_the_reference_page_is_the_generated_one() -> None:
    """docs/reference.md shows the table through the step_options_table() macro."""
    project = load_project(ROOT / "mkdocs.yml")
    page = next(p for p in project.pages if p.path == "reference.md")
    assert reference_table() in page.markdown
    assert "{{ step_options_table() }}" in REFERENCE.read_text(encoding="utf-8")


def test_the_reference_page_describes_every_option_and_no_other() -> None:
    """Beyond the table, the prose names each option, and its headings name only options."""
    source = REFERENCE.read_text(encoding="utf-8")
    names = {option.name for option in OPTIONS}
    for name in names:
        assert f"`{name}" in source or f' {name}="' in source, f"{name} is not described"
    headed = set(re.findall(r"^### .*?`([a-z-]+)=", source, flags=re.MULTILINE))
    headed |= set(re.findall(r"^### .*? `([a-z-]+)=", source, flags=re.MULTILINE))
    assert headed, "no option headings found"
    assert headed <= names, headed - names


def test_the_examples_of_the_reference_page_are_accepted(tmp_path: Path) -> None:
    """Every step shown as an example (inside ````markdown blocks) parses as written."""
    source = REFERENCE.read_text(encoding="utf-8")
    examples = re.findall(r"^````markdown\n(.*?)^````$", source, flags=re.DOTALL | re.MULTILINE)
    assert len(examples) > 10
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("captures"))
    seen: set[str] = set()
    for number, example in enumerate(examples):
        read_page_steps(f"example-{number}.md", example, docs_dir=tmp_path / "docs")
        for line in example.splitlines():
            if line.startswith("```") and "{" in line:
                seen.update(fences.parse_info(line.strip("`")).attrs)
    assert {o.name for o in OPTIONS if "bash" in o.kinds} <= seen


def test_options_for_each_kind_come_from_the_table() -> None:
    assert set(options_for("python")) == {"timeout", "skip", "skip-if"}
    assert {"url", "image", "wait-for", "width", "height"} <= set(options_for("screenshot"))
    assert set(options_for(EXPECTED)) == {"match", "title"}
