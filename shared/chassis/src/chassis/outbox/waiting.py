"""Waiting for the first of several events, with a timeout."""

from __future__ import annotations

import asyncio


async def wait_any(*events: asyncio.Event, at_most: float | None = None) -> bool:
    """Wait until one of ``events`` is set or ``at_most`` seconds pass; True when an event was set."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return bool(done)
