"""Every relative link in README.md and docs/**/*.md leads somewhere.

A link to a file must name a file or folder of the checkout; a link with `#anchor` into a Markdown
file (or into the same page) must name a heading of that file, slugged the way GitHub slugs them.
Links inside code blocks and code spans are text, not links, and external URLs are not fetched.
The last tests feed the checker pages with deliberate mistakes, so a checker that sees nothing
cannot pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.paths import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]
EXPECTED_PAGES = [
    "README.md",
    "docs/architecture.md",
    "docs/DEVELOPING.md",
    "docs/driver.md",
    "docs/policies.md",
    "docs/rehearsal.md",
    "docs/stack-config.md",
    "docs/reference/components.md",
]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"<a\s+(?:[^>]*\s)?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")  # http:, https:, mailto:, ...


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading (github-slugger): the rendered text, lowercased, with every
    character that is not a letter, digit, `_`, `-` or space removed, and each space made a `-`."""
    rendered: list[str] = []
    start = 0
    for span in [*CODE_SPAN.finditer(heading), None]:
        prose = heading[start : span.start() if span else len(heading)]
        prose = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", prose)  # a link's text stays, its target goes
        prose = re.sub(r"<[^>]+>", "", prose)  # inline HTML is markup, not text
        rendered.append(prose.replace("*", ""))
        if span:
            rendered.append(span.group(2).strip())  # a code span's text stays, `<name>` included
            start = span.end()
    return re.sub(r"[^\w\- ]", "", "".join(rendered).lower()).replace(" ", "-")


def _prose_lines(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            continue
        if fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        yield number, line


def anchors(markdown: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs (repeats get -1, -2 ...) and HTML ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(markdown):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(markdown: str) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside code."""
    found: list[tuple[int, str]] = []
    for number, line in _prose_lines(markdown):
        prose = CODE_SPAN.sub("", line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(prose)]
        definition = REFERENCE_DEFINITION.match(prose)
        if definition:
            targets.append(definition.group(1))
        found += [(number, target.strip("<>")) for target in targets]
    return found


def broken_links(page: Path, root: Path) -> list[str]:
    """What is wrong with the relative links of `page`, one line per broken link."""
    problems: list[str] = []
    for number, target in links(page.read_text(encoding="utf-8")):
        if EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        where = f"{page.relative_to(root)}:{number}: {target}"
        destination = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not destination.is_relative_to(root.resolve()):
            problems.append(f"{where}: leaves the repository")
            continue
        if not destination.exists():
            problems.append(f"{where}: no such file")
            continue
        if not anchor or destination.suffix != ".md" or not destination.is_file():
            continue  # an anchor into code (`file.py#L10`) is GitHub's business, not a heading
        if unquote(anchor) not in anchors(destination.read_text(encoding="utf-8")):
            problems.append(f"{where}: {destination.name} has no heading #{anchor}")
    return problems


def test_every_page_of_the_docs_exists() -> None:
    missing = [page for page in EXPECTED_PAGES if not (REPO_ROOT / page).is_file()]
    assert not missing, f"missing pages: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = broken_links(page, REPO_ROOT)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_the_readme_links_every_page() -> None:
    readme_targets = {target.partition("#")[0] for _, target in links((REPO_ROOT / "README.md").read_text())}
    unlinked = [page for page in EXPECTED_PAGES[1:] if page not in readme_targets]
    assert not unlinked, f"README.md does not link {unlinked}"


# -- the checker itself ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("The release driver (`zdd-release`)", "the-release-driver-zdd-release"),
        ("Config reference: `fleets.<name>`", "config-reference-fleetsname"),
        ("What was exercised here, and what was not", "what-was-exercised-here-and-what-was-not"),
        ("Runbook: a **paused** release", "runbook-a-paused-release"),
        ("From CloudFormation's rolling update", "from-cloudformations-rolling-update"),
        ("PENDING → SUCCEEDED", "pending--succeeded"),
        ("`snake_case` names", "snake_case-names"),
        ("See [the driver](driver.md)", "see-the-driver"),
    ],
)
def test_slugs_follow_github(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def _page(tmp_path: Path, text: str) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Known limits\n\n## Known limits\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(text)
    return page


def test_the_checker_catches_a_missing_file(tmp_path: Path) -> None:
    page = _page(tmp_path, "# Page\n\nSee [the driver](driver.md) and [ok](other.md).\n")
    assert broken_links(page, tmp_path) == ["docs/page.md:3: driver.md: no such file"]


def test_the_checker_catches_a_missing_heading(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "# Page\n\n## Local part\n\n"
        "[a](other.md#known-limits) [b](other.md#known-limits-1) [c](#local-part)\n"
        "[d](other.md#known-limits-2) [e](#nowhere)\n",
    )
    assert broken_links(page, tmp_path) == [
        "docs/page.md:6: other.md#known-limits-2: other.md has no heading #known-limits-2",
        "docs/page.md:6: #nowhere: page.md has no heading #nowhere",
    ]


def test_the_checker_catches_reference_links_images_and_escapes(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "# Page\n\n![chart](img/missing.png)\n\n[ref]: ../nothing.md\n\n[out](../../outside.md)\n",
    )
    assert broken_links(page, tmp_path) == [
        "docs/page.md:3: img/missing.png: no such file",
        "docs/page.md:5: ../nothing.md: no such file",
        "docs/page.md:7: ../../outside.md: leaves the repository",
    ]


def test_the_checker_ignores_code_and_external_links(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "# Page\n\n```markdown\n[in a fence](missing.md)\n```\n\n"
        "`[in a span](missing.md)` [web](https://example.com/x.md) [mail](mailto:a@b.c)\n",
    )
    assert broken_links(page, tmp_path) == []
