"""LineMap: a line of the rendered page back to its line in the page file, in linear time."""

from __future__ import annotations

import difflib
import random

import pytest

from meshdemo.guide.linemap import LineMap


def difflib_map(source: str, rendered: str) -> list[int]:
    """The quadratic mapping LineMap replaces, as the reference on small inputs."""
    src, out = source.split("\n"), rendered.split("\n")
    mapping: list[int] = []
    matcher = difflib.SequenceMatcher(None, src, out, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            if tag == "equal":
                mapping.append(i1 + (j - j1))
            elif tag == "replace":
                mapping.append(i1 + min(j - j1, i2 - i1 - 1))
            elif tag == "insert":
                mapping.append(max(0, min(i1, len(src) - 1)))
    return [m + 1 for m in mapping]


def lines_of(line_map: LineMap, rendered: str) -> list[int]:
    return [line_map(j) for j in range(len(rendered.split("\n")))]


CASES = {
    "identical": ("a\nb\nc", "a\nb\nc", [1, 2, 3]),
    "front matter": ("---\ntitle: x\n---\n# T\nbody", "# T\nbody", [4, 5]),
    "a variable changes a line": (
        "# T\n\n``` { .bash #v }\necho {{ v }}\n```\n",
        "# T\n\n``` { .bash #v }\necho 1.2\n```\n",
        [1, 2, 3, 4, 5, 6],
    ),
    "an include becomes many lines": (
        "# T\n{% include 'x.md' %}\n``` { .bash #a }\nls\n```",
        "# T\none\ntwo\nthree\n``` { .bash #a }\nls\n```",
        [1, 2, 2, 2, 3, 4, 5],
    ),
    "a comment goes away": (
        "# T\n{#\n  a note\n#}\n``` { .bash #a }\nls\n```",
        "# T\n\n``` { .bash #a }\nls\n```",
        [1, 2, 5, 6, 7],
    ),
    "lines inserted at the end map to the last line": ("a\nb", "a\nb\nc\nd", [1, 2, 2, 2]),
    "repeated fence markers between changed lines": (
        "```\n{{ x }}\n```\n\n```\n{{ y }}\n```",
        "```\n1\n```\n\n```\n2\n```",
        [1, 2, 3, 4, 5, 6, 7],
    ),
}


@pytest.mark.parametrize(("source", "rendered", "expected"), CASES.values(), ids=CASES.keys())
def test_maps_each_rendered_line_to_the_line_that_made_it(source, rendered, expected) -> None:
    assert lines_of(LineMap(source, rendered), rendered) == expected


def test_past_the_end_is_the_last_line() -> None:
    assert LineMap("a\nb\nc", "a\nb")(10) == 3


def _macro_page(rng: random.Random, blocks: int) -> tuple[str, str]:
    """A page as a guide writes it, and the same page as macros render it."""
    source = ["---", "title: Generated", "---", "# Generated", ""]
    rendered = ["# Generated", ""]
    for n in range(blocks):
        heading = f"## Part {n}"
        source += [heading, "", "Some text.", ""]
        rendered += [heading, "", "Some text.", ""]
        if rng.random() < 0.2:  # an include: one line becomes three
            source += ["{% include 'partial.md' %}", ""]
            rendered += ["Partial one.", "", "Partial two.", ""]
        if rng.random() < 0.2:  # a raw block around a Go template
            source += ["{% raw %}"]
            rendered += [""]
        fence = f'``` {{ .bash #step-{n} timeout="{{{{ t }}}}" }}'
        source += [fence, "echo {{ versions.x }}", "```", ""]
        rendered += [fence.replace("{{ t }}", "30"), "echo 1.2.3", "```", ""]
        if rng.random() < 0.1:  # a Jinja comment over two lines
            source += ["{#", "#}"]
            rendered += [""]
    return "\n".join(source), "\n".join(rendered)


@pytest.mark.parametrize("seed", range(8))
def test_each_fence_maps_to_its_own_line_in_the_file(seed: int) -> None:
    """Even a fence whose options hold an expression, after an include shifted the lines."""
    source, rendered = _macro_page(random.Random(seed), 40)
    ours = lines_of(LineMap(source, rendered), rendered)
    src = source.split("\n")
    out = rendered.split("\n")
    fences = [j for j, line in enumerate(out) if line.startswith("``` {")]
    assert len(fences) == 40
    for j in fences:
        step = out[j].split()[3]  # #step-N
        assert src[ours[j] - 1].startswith(f"``` {{ .bash {step} timeout="), out[j]
        assert src[ours[j]] == "echo {{ versions.x }}"  # and the command under it
    assert ours == sorted(ours)  # the order of the file is kept


def test_where_difflib_finds_the_fences_so_does_the_line_map() -> None:
    """On pages without includes, the quadratic reference finds each fence too: same lines."""
    rng = random.Random(7)
    source, rendered = _macro_page(rng, 30)
    source = source.replace("{% include 'partial.md' %}", "Partial one.\n\nPartial two.")
    rendered_lines = rendered.split("\n")
    fences = [j for j, line in enumerate(rendered_lines) if line.startswith("``` {")]
    reference = difflib_map(source, rendered)
    ours = lines_of(LineMap(source, rendered), rendered)
    assert [ours[j] for j in fences] == [reference[j] for j in fences]


def test_every_line_that_is_unchanged_maps_to_itself() -> None:
    source, rendered = _macro_page(random.Random(99), 200)
    src = source.split("\n")
    line_map = LineMap(source, rendered)
    for j, line in enumerate(rendered.split("\n")):
        if line.startswith(("## Part", "``` {")) and src.count(line) == 1:
            assert src[line_map(j) - 1] == line
