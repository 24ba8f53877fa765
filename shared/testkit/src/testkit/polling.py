"""Waiting for a condition in a test: poll it until a deadline, never sleep and hope."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float = 20.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """Call ``probe`` until it passes and return what it returned.

    A probe says "not yet" by returning False or raising AssertionError, so both a predicate
    (``lambda: count() == 3``) and a block of asserts work; True, None or any other true value passes and is
    returned.
    After ``within`` seconds an AssertionError names ``what`` (or the probe) and the last answer seen.
    """
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + within
    while True:
        try:
            result = await probe()
        except AssertionError as error:
            last: object = error
        else:
            if result is not False and result is not None and not result:
                # An empty list or a zero would pass here and fail under `while not check()`: say which.
                raise TypeError(f"{probe!r} returned {result!r}: return a bool, or assert")
            if result is not False:
                return result
            last = result
        if loop.time() >= give_up_at:
            name = what or getattr(probe, "__qualname__", repr(probe))
            raise AssertionError(f"{name}: not reached within {within:g}s (last: {last!r})") from (
                last if isinstance(last, AssertionError) else None
            )
        await asyncio.sleep(interval)
