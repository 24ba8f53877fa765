"""Waiting, together, for a dependency that went away: one probe loop per worker, with growing pauses.

Every consumer of a worker that finds the database unreachable waits on the same :class:`Recovery`: the
first starts a probe loop (tenacity, exponential pauses with jitter), the others join it, and all resume
as soon as one probe passes. Nobody hammers a database that is down, and nobody retries a message into
its parking queue meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

log = logging.getLogger(__name__)

# Pauses between probes: from half a second, doubling (with up to a second of jitter) to 15 s.
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 15.0


class Recovery:
    """Knows whether ``what`` is down, and lets callers wait until a probe of it passes again."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        *,
        what: str = "the database",
        first_pause: float = FIRST_PAUSE,
        longest_pause: float = LONGEST_PAUSE,
    ) -> None:
        self.what = what
        self._probe = probe
        self._first_pause = first_pause
        self._longest_pause = longest_pause
        self._probing: asyncio.Task[None] | None = None

    @property
    def is_down(self) -> bool:
        """True while a probe loop runs: something found ``what`` unreachable and it has not answered yet."""
        return self._probing is not None and not self._probing.done()

    async def wait(self, within: float | None = None) -> bool:
        """Wait until ``what`` answers a probe; False when ``within`` seconds passed first."""
        if not self.is_down:
            log.warning("%s is unreachable; consumers pause until it answers", self.what)
            self._probing = asyncio.create_task(self._probe_until_it_answers(), name=f"probe {self.what}")
        probing = self._probing
        assert probing is not None
        try:
            await asyncio.wait_for(asyncio.shield(probing), within)
        except TimeoutError:
            return False
        return True

    async def _probe_until_it_answers(self) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=self._first_pause, max=self._longest_pause),
            before_sleep=self._log_failed_probe,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._probe()
        log.info("%s answers again; consumers resume", self.what)

    def _log_failed_probe(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        pause = state.next_action.sleep if state.next_action is not None else 0.0
        log.info("%s still unreachable (%s); next probe in %.1fs", self.what, error, pause)

    async def close(self) -> None:
        """Stop probing (the worker is stopping)."""
        if self._probing is not None and not self._probing.done():
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probing
