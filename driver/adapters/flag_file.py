"""FlagStore on a local file: the flag document the rehearsal's app reads (its file provider).

A write goes to a temporary file in the same directory, is flushed to disk, and replaces the
document in one rename, so a reader sees the old document or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ...contract import ContractError
from ...contract import flags as flag_doc
from ..core.errors import PortError


class FileFlagStore:
    """The document at `path` is the one the service reads: what is written is served."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.writes: list[tuple[str, int]] = []

    def _doc(self) -> dict:
        try:
            return flag_doc.parse_document(self.path.read_bytes(), str(self.path))
        except OSError as exc:
            raise PortError(f"cannot read the flag document {self.path}: {exc}") from exc
        except ContractError as exc:
            raise PortError(str(exc)) from exc

    def percentage(self, flag: str) -> int:
        try:
            return flag_doc.percentage_of(self._doc(), flag, str(self.path))
        except ContractError as exc:
            raise PortError(str(exc)) from exc

    def set_percentage(self, flag: str, percentage: int) -> None:
        try:
            text = flag_doc.with_percentage(self._doc(), flag, percentage)
        except ContractError as exc:
            raise PortError(str(exc)) from exc
        fd, tmp = tempfile.mkstemp(prefix=".flags-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise PortError(f"cannot write the flag document {self.path}: {exc}") from exc
        self.writes.append((flag, percentage))
