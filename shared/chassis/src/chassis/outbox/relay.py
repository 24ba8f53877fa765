"""The outbox relay: publishes committed outbox rows to RabbitMQ and marks them published.

One pass takes a batch of due rows ``FOR UPDATE SKIP LOCKED``, publishes them all with publisher confirms in
flight together, marks the confirmed ones published and the failed ones for a later retry (with exponential
backoff), and commits. The row locks last until that commit, so a second relay on the same outbox never
publishes a row concurrently. A crash after the publish and before the commit republishes the batch on the
next pass: delivery is at-least-once, and consumers' inboxes make the effect single.

Each row fails on its own (see ``publisher``). A row that failed ``max_attempts`` times gets ``failed_at`` and
is no longer taken until an operator retries it (``store.retry_failed``).
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from chassis.db import asyncpg_dsn
from chassis.outbox import metrics
from chassis.outbox.listener import listen
from chassis.outbox.options import RelayOptions, retry_delay
from chassis.outbox.pruning import prune_inbox, prune_outbox
from chassis.outbox.publisher import BatchResult, BrokerUnavailable, Publisher
from chassis.outbox.store import (
    Failure,
    driver_connection,
    mark_failed,
    mark_published,
    take_batch,
    transaction,
)
from chassis.outbox.waiting import wait_any

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# The relay's own retry when the broker or the database is down: quick at first, never more than this.
_MAX_OUTAGE_DELAY = 30.0
# Seconds past a failed row's retry delay before the pass that retries it.
_RETRY_MARGIN = 0.05


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, amqp_url: str, options: RelayOptions | None = None) -> None:
        self.engine = engine
        self.options = options or RelayOptions()
        self._publisher = Publisher(
            amqp_url,
            max_in_flight=self.options.max_in_flight,
            publish_timeout=self.options.publish_timeout,
            max_body_bytes=self.options.max_body_bytes,
            exchange_check_ttl=self.options.recheck_interval,
        )
        self._wake = asyncio.Event()
        self._listening = asyncio.Event()
        # When the earliest row this relay failed comes due again (monotonic), if any is waiting.
        self._retry_due: float | None = None
        # Rows this relay has published since it started (for tests, benchmarks and logs).
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set: on each NOTIFY, on a fallback poll, and while a backlog lasts."""
        options = self.options
        dsn = asyncpg_dsn(self.engine.url)
        listener = asyncio.create_task(listen(dsn, self._wake, stop, listening=self._listening))
        log.info(
            "outbox relay started (batch %d, poll %.1fs, %.1fs while listening)",
            options.batch_size,
            options.poll_interval,
            options.idle_poll_interval,
        )
        outages = 0
        next_prune = 0.0
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.publish_pending(stop)
                    outages = 0
                    pause = self._idle_pause()
                except Exception as exc:
                    outages += 1
                    pause = retry_delay(outages, base=0.5, maximum=_MAX_OUTAGE_DELAY)
                    if isinstance(exc, BrokerUnavailable):
                        log.warning("outbox relay: broker unavailable (%s); retrying in %.1fs", exc, pause)
                    else:
                        log.exception("outbox relay pass failed; retrying in %.1fs", pause)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + options.prune_interval
                    await self._prune_logged()
                # An outage pause is not cut short by a NOTIFY: new rows would only fail the same way.
                wake_on = (stop,) if outages else (stop, self._wake)
                await wait_any(*wake_on, at_most=pause)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self.close()
            log.info("outbox relay stopped")

    async def publish_pending(self, stop: asyncio.Event | None = None) -> int:
        """Publish due rows batch after batch until none is left; returns how many were published."""
        total = 0
        if self._retry_due is not None and self._retry_due <= time.monotonic():
            self._retry_due = None
        while stop is None or not stop.is_set():
            taken, published = await self._publish_batch()
            total += published
            if taken < self.options.batch_size:
                break
        return total

    def _idle_pause(self) -> float:
        """After a good pass: poll soon while no one listens, else seldom or when a retry comes due."""
        options = self.options
        if not self._listening.is_set():
            return options.poll_interval
        pause = max(options.poll_interval, options.idle_poll_interval)
        if self._retry_due is not None:
            pause = min(pause, max(0.0, self._retry_due - time.monotonic()))
        return pause

    async def prune(self) -> tuple[int, int]:
        """Delete outbox (published) and inbox rows past their retention; returns both counts."""
        options = self.options
        chunk = options.prune_chunk
        pruned_outbox = await prune_outbox(self.engine, older_than=options.retention, chunk=chunk)
        pruned_inbox = 0
        if options.inbox_retention is not None:
            pruned_inbox = await prune_inbox(self.engine, older_than=options.inbox_retention, chunk=chunk)
        return pruned_outbox, pruned_inbox

    async def close(self) -> None:
        await self._publisher.close()

    async def __aenter__(self) -> OutboxRelay:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _publish_batch(self) -> tuple[int, int]:
        # Connect before locking rows: no transaction should wait on a broker that is not there.
        await self._publisher.connect()
        with tracer.start_as_current_span("outbox.publish_batch") as span:
            async with self.engine.connect() as pooled:
                connection = await driver_connection(pooled)
                async with transaction(connection):
                    rows = await take_batch(connection, self.options.batch_size)
                    if not rows:
                        return 0, 0
                    result = await self._publisher.publish(rows)
                    given_up = await self._record(connection, result)
            span.set_attribute("outbox.taken", len(rows))
            span.set_attribute("outbox.published", len(result.confirmed))
            span.set_attribute("outbox.failed", len(result.failed) + len(result.interrupted))
        self._observe(result, given_up)
        if result.interrupted:
            raise BrokerUnavailable(f"connection lost with {len(result.interrupted)} publishes unconfirmed")
        return len(rows), len(result.confirmed)

    async def _record(self, connection: asyncpg.Connection, result: BatchResult) -> set[int]:
        """Mark the batch's outcome in its transaction (which commits right after).

        Returns the ids of the rows given up on now.
        """
        await mark_published(connection, [row.id for row, _ in result.confirmed])
        base, maximum = self.options.retry_base, self.options.retry_max
        failures = [
            Failure(row, error, retry_delay(row.attempts + 1, base=base, maximum=maximum))
            for row, error in result.failed
        ]
        given_up = await mark_failed(connection, failures, max_attempts=self.options.max_attempts)
        retries = [f.delay for f in failures if f.row.id not in given_up]
        if retries:
            # A little after the database's clock says the row is due, so that the pass finds it.
            due = time.monotonic() + min(retries) + _RETRY_MARGIN
            self._retry_due = due if self._retry_due is None else min(self._retry_due, due)
        return given_up

    def _observe(self, result: BatchResult, given_up: set[int]) -> None:
        self.published += len(result.confirmed)
        metrics.PUBLISHED.inc(len(result.confirmed))
        metrics.PUBLISH_FAILURES.inc(len(result.failed) + len(result.interrupted))
        for row, confirmed_at in result.confirmed:
            metrics.LAG.observe(max(0.0, confirmed_at - row.created_at.timestamp()))
        for row, error in result.failed:
            if row.id in given_up:
                # Logged once: the row is not taken again unless an operator retries it.
                log.error(
                    "outbox row %d (message %s, type %s, exchange %r) failed %d times and is given up on;"
                    " it stays in the outbox with failed_at set until retried: %s",
                    row.id,
                    row.message_id,
                    row.type,
                    row.exchange,
                    row.attempts + 1,
                    error,
                )
                continue
            log.warning(
                "outbox publish failed (row %d, message %s, exchange %r, attempt %d): %s",
                row.id,
                row.message_id,
                row.exchange,
                row.attempts + 1,
                error,
            )

    async def _prune_logged(self) -> None:
        try:
            pruned_outbox, pruned_inbox = await self.prune()
        except Exception:
            log.exception("pruning the outbox and inbox failed")
            return
        if pruned_outbox or pruned_inbox:
            log.info("pruned %d outbox and %d inbox rows", pruned_outbox, pruned_inbox)
