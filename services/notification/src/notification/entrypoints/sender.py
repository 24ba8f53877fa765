"""The sender: a worker task handing recorded notifications to the mail server (``sending_handlers``).

Any number of workers may run it at once: claims are taken ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from chassis import AppResources, asyncpg_dsn, is_unreachable, listen, wait_any
from notification.adapters.smtp import SmtpMailer
from notification.adapters.tables import NOTIFICATION_CHANNEL
from notification.adapters.unit_of_work import NotificationUnitOfWork
from notification.application.sending_handlers import PassResult, seconds_until, send_due
from notification.entrypoints import metrics
from notification.entrypoints.settings import NotificationSettings

log = logging.getLogger(__name__)

# After a failed pass (database unreachable), wait this much longer than usual before the next.
FAILURE_PAUSE_FACTOR = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class RecoverySchedule:
    """When a pass may look for rows stopped workers left ``sending`` (monotonic seconds).

    Not before every pass has reached the database for a whole ``lease``: after an outage, a live worker
    first records what it holds. Then once an ``interval``, not on every pass: a row is stuck only once a
    whole lease has passed since its claim, so looking once an idle interval still resolves it within a
    lease and an idle interval, for one transaction per interval instead of one per pass.
    """

    lease: float
    interval: float
    # Since when every pass reached the database; None after a failed one.
    reachable_since: float | None = None
    last_recovery: float | None = None

    def due(self, now: float) -> bool:
        if self.reachable_since is None or now - self.reachable_since < self.lease:
            return False
        return self.last_recovery is None or now - self.last_recovery >= self.interval

    def failed(self) -> None:
        self.reachable_since = None

    def succeeded(self, now: float, *, recovered: bool, met_outage: bool) -> None:
        # A pass that waited out an outage to record its outcomes ends with the database back: another
        # worker's rows left `sending` meanwhile may still be being recorded by it.
        if self.reachable_since is None or met_outage:
            self.reachable_since = now
        if recovered:
            self.last_recovery = now


async def send_notifications(resources: AppResources[NotificationSettings, NotificationUnitOfWork]) -> None:
    """Send due notifications until the worker stops; a full batch is followed at once by the next.

    Between passes it sleeps until the next pending row is due, a notification is recorded (NOTIFY on
    ``NOTIFICATION_CHANNEL``) or the idle interval ends (the poll interval while it cannot listen).
    """
    wake, listening = asyncio.Event(), asyncio.Event()
    dsn = asyncpg_dsn(resources.engine.url)
    listener = asyncio.create_task(
        listen(
            dsn,
            wake,
            resources.stop,
            channel=NOTIFICATION_CHANNEL,
            listening=listening,
            # Not the relay's name: an operator (or a drill) telling the two connections apart.
            application_name="folio-notification-listener",
        )
    )
    try:
        await _send_until_stopped(resources, wake, listening)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    log.info("sender stopped")


async def _send_until_stopped(
    resources: AppResources[NotificationSettings, NotificationUnitOfWork],
    wake: asyncio.Event,
    listening: asyncio.Event,
) -> None:
    settings = resources.settings
    mailer = SmtpMailer(settings.smtp_config())
    log.info(
        "sender started: SMTP %s:%d (%s), at most %d sessions",
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_tls,
        mailer.sessions,
    )
    try:
        await _run_passes(resources, mailer, wake, listening)
    finally:
        # The pooled sessions are QUIT, so that a stopping worker leaves no SMTP connection behind.
        await mailer.close()


async def _run_passes(
    resources: AppResources[NotificationSettings, NotificationUnitOfWork],
    mailer: SmtpMailer,
    wake: asyncio.Event,
    listening: asyncio.Event,
) -> None:
    settings = resources.settings
    uows = resources.uow_factory
    lease = settings.sending_lease_seconds
    recovery = RecoverySchedule(lease, interval=settings.sender_idle_poll_interval_seconds)
    while not resources.stop.is_set():
        wake.clear()
        pause = settings.sender_poll_interval_seconds
        recover = recovery.due(time.monotonic())
        try:
            result = await send_due(
                uows,
                mailer,
                clock=utcnow,
                batch=settings.sender_batch_size,
                recover=recover,
                recover_within=lease / 2,
                outage=is_unreachable,
            )
        except Exception:
            recovery.failed()
            log.exception("sending pass failed; trying again shortly")
            pause *= FAILURE_PAUSE_FACTOR
        else:
            recovery.succeeded(time.monotonic(), recovered=recover, met_outage=result.met_outage)
            metrics.record(result)
            if result.claimed:
                log.info("sender pass: %d handed over, outcomes %s", result.claimed, list(result.outcomes))
            if result.full:
                continue
            pause = _idle_pause(settings, listening, result)
        await wait_any(resources.stop, wake, at_most=pause)


def _idle_pause(settings: NotificationSettings, listening: asyncio.Event, result: PassResult) -> float:
    """After a good pass: until the next row is due, at most the idle interval (the poll one if deaf)."""
    poll = settings.sender_poll_interval_seconds
    longest = max(poll, settings.sender_idle_poll_interval_seconds) if listening.is_set() else poll
    pause = seconds_until(result.next_due, longest=longest, now=utcnow())
    # A row due that this pass did not claim is another worker's (locked) or just came due: no spinning.
    return pause if result.claimed or pause > 0 else poll
