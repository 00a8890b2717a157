"""Where the checkout is, for tests that read its files or run commands in it."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
