"""Shared fixtures. Heavy imports (pulumi_aws) stay inside tests and fixtures."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture(autouse=True)
def fresh_event_loop():
    """Each test gets its own event loop: Pulumi's runtime keeps state on the loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)
