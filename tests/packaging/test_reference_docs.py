"""docs/reference/components.md is the analyzer's current view of the components."""

import subprocess
import sys
from pathlib import Path

import pytest
from zero_downtime.provider.catalog import component_classes
from zero_downtime.provider.reference import DEFAULT_DOC, END, START, main, render, replace_block

from tests.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "reference" / "components.md"
COMMAND = "python -m zero_downtime.provider.reference --write docs/reference/components.md"


def test_reference_covers_every_component() -> None:
    reference = render()
    for cls in component_classes():
        assert f"#### {cls.__name__} (`zero-downtime:index:{cls.__name__}`" in reference


def test_reference_page_is_current() -> None:
    text = DOC.read_text()
    assert replace_block(text, render()) == text, f"the component reference is stale: {COMMAND}"


def test_the_reference_left_the_readme() -> None:
    assert START.strip() not in (REPO_ROOT / "README.md").read_text()


def test_write_defaults_to_the_reference_page() -> None:
    assert DEFAULT_DOC == DOC


def test_a_stale_page_is_caught_and_rewritten(tmp_path: Path) -> None:
    # What the staleness test compares, on a copy: a page whose block lags the components differs
    # from its regenerated self, and `--write` brings it back to the current reference.
    stale = tmp_path / "components.md"
    stale.write_text(replace_block(DOC.read_text(), "#### OldComponent\n"))
    assert replace_block(stale.read_text(), render()) != stale.read_text()
    assert main(["--write", str(stale)]) == 0
    assert stale.read_text() == replace_block(DOC.read_text(), render())


def test_write_replaces_only_the_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\n{START}old text\n{END}\n\nAfter.\n")
    result = subprocess.run(
        [sys.executable, "-m", "zero_downtime.provider.reference", "--write", str(doc)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = doc.read_text()
    assert text.startswith("# Title\n\n" + START + "#### ")
    assert text.endswith(END + "\n\nAfter.\n")
    assert "old text" not in text


def test_write_refuses_a_file_without_markers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# No markers\n")
    result = subprocess.run(
        [sys.executable, "-m", "zero_downtime.provider.reference", "--write", str(doc)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--write" in result.stderr and "reference:start" in result.stderr
    assert doc.read_text() == "# No markers\n"


def test_replace_block_rejects_reversed_markers() -> None:
    with pytest.raises(ValueError, match="expected one"):
        replace_block(f"{END}\n{START}", "x")
