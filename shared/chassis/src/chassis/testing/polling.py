"""Waiting for a condition in a test: poll it until a deadline, never sleep and hope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 15.0, every: float = 0.05
) -> None:
    """Return once ``check()`` is true; AssertionError after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)
