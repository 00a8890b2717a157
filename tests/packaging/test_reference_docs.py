"""The README's component reference is the analyzer's current view of the components."""

import subprocess
import sys
from pathlib import Path

import pytest

from provider.catalog import REPO_ROOT, component_classes
from provider.reference import END, START, render, replace_block

DOC = REPO_ROOT / "README.md"


def test_reference_covers_every_component() -> None:
    reference = render()
    for cls in component_classes():
        assert f"#### {cls.__name__} (`zero-downtime:index:{cls.__name__}`" in reference


def test_readme_reference_is_current() -> None:
    text = DOC.read_text()
    assert replace_block(text, render()) == text, (
        "the component reference is stale: python -m provider.reference --write README.md"
    )


def test_write_replaces_only_the_block(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\n{START}old text\n{END}\n\nAfter.\n")
    result = subprocess.run(
        [sys.executable, "-m", "provider.reference", "--write", str(doc)],
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
        [sys.executable, "-m", "provider.reference", "--write", str(doc)],
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
