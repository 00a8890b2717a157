"""The offline preview: the resource tree a newcomer sees without an account."""

from __future__ import annotations

import pytest
from zero_downtime.offline.preview import main


def test_preview_prints_the_tree_with_weights_and_health_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staging"]) == 0
    out = capsys.readouterr().out
    assert "BlueGreenService web" in out
    assert "web-prod-rule" in out
    assert "web-blue-tg=100%" in out
    assert "api-green-tg=100%" in out
    assert "health=/api/health" in out


def test_preview_refuses_an_unknown_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert "unknown stack 'nope'" in capsys.readouterr().out
