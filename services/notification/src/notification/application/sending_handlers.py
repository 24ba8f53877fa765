"""Sending recorded notifications: exactly one e-mail per source message, or an honest "unknown".

The guarantee
-------------
**At most once, always; exactly once unless a hand-off is cut short** (the worker stops, or the
connection fails while the message body is with the server).

1. *Claim.* One transaction locks due ``pending`` rows ``FOR UPDATE SKIP LOCKED``, marks them ``sending``
   (attempt counted, ``claimed_at`` and the claim's id set) and **commits before the mail server is
   contacted**. Two workers never claim the same row, and a row is never ``pending`` while an attempt on it
   may be in flight. A claim whose commit fails may still have landed (the connection died with the answer
   on its way): nothing of it was handed over, so the worker puts back ``pending`` the rows that carry its
   claim's id, riding out the outage, before any recovery could take them for a stopped worker's.
2. *Hand-off.* The e-mail goes over SMTP with a ``Message-ID`` derived from the notification id (the same on
   every attempt), bounded by a deadline shorter than the sending lease.
3. *Settle.* One transaction records the outcome: ``sent`` with NotificationSent in the outbox; back to
   ``pending`` after a growing, jittered pause when the server certainly did not take the message and may
   later (no connection, a timeout, a 4xx reply); ``failed`` with NotificationFailed at once on a permanent
   refusal (a 5xx reply, an address the server cannot take) or once the pauses pass the give-up horizon;
   ``uncertain`` with NotificationFailed when the body went out but no answer came back.
4. *Recover.* A row still ``sending`` after the lease belongs to a worker that stopped between 1 and 3.
   The server may have accepted that e-mail, so it is **not sent again**: it becomes ``uncertain`` and
   NotificationFailed says "delivery unknown: worker stopped during SMTP hand-off".

So an e-mail the server accepted is never sent twice; the price is that an e-mail whose hand-off was cut
short is reported as failed (perhaps wrongly) instead of retried. Only steps 2-3 of a stopped worker are
exposed, and a graceful stop finishes its hand-offs first. Should some path still send a copy (an operator
replaying by hand), the constant ``Message-ID`` lets the receiving MTA or client drop it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import TypeVar

from notification.application.commands import ClaimDue, ResolveStuck, SettleAttempt, WithdrawClaim
from notification.application.ports import Mailer, NotificationUow
from notification.domain.delivery import DeliveryOutcome, Unknown
from notification.domain.notification import WORKER_STOPPED, Notification, Status

log = logging.getLogger(__name__)

T = TypeVar("T")

# Recording an outcome fails for good after this many errors other than an outage (pauses doubling from
# SETTLE_FIRST_PAUSE: about six seconds); an outage is waited out, never more than SETTLE_MAX_PAUSE between
# tries, so that the outcome is written soon after the database is back, before any other worker's recovery
# may take the row for abandoned.
SETTLE_ATTEMPTS = 5
SETTLE_FIRST_PAUSE = 0.4
SETTLE_MAX_PAUSE = 1.0


async def claim_due(command: ClaimDue, uow: NotificationUow) -> list[Notification]:
    """Mark up to ``limit`` due notifications ``sending``; once committed they are this worker's to send."""
    due = list(await uow.notifications.lock_due(command.now, command.limit))
    for notification in due:
        notification.start_attempt(command.now, command.claim_id)
    await uow.notifications.save_all(due)
    return due


async def withdraw_claim(command: WithdrawClaim, uow: NotificationUow) -> int:
    """Put back ``pending`` the rows claim ``command.claim_id`` marked ``sending``, if its commit landed."""
    claimed = await uow.notifications.lock_claimed(command.claim_id)
    withdrawn = [n for n in claimed if n.withdraw_claim(command.claim_id, command.now)]
    await uow.notifications.save_all(withdrawn)
    return len(withdrawn)


async def settle_attempt(command: SettleAttempt, uow: NotificationUow) -> Notification | None:
    """Record the outcome of the attempt ``claimed`` made; None when that attempt is no longer current.

    The write is fenced on the row's status and attempt count: should recovery have resolved it meanwhile
    (only possible if a hand-off outlived the lease, which the settings forbid), its verdict stands. While
    the fence holds, the row is still exactly what the claim committed, so the outcome is decided on
    ``claimed`` itself (a copy: a retried settle starts from the claim again) without reading it back.
    """
    claimed = command.claimed
    current = replace(claimed, events=[])
    current.settle(command.outcome, command.now, uow.policy)
    if not await uow.notifications.save_settled(current, attempt=claimed.attempts):
        log.warning(
            "notification %s was resolved elsewhere during attempt %d (now %s); keeping that",
            claimed.id,
            claimed.attempts,
            await uow.notifications.status_of(claimed.id) or "gone",
        )
        return None
    uow.track(current)
    return current


async def resolve_stuck(command: ResolveStuck, uow: NotificationUow) -> list[Notification]:
    """Mark ``uncertain`` what stopped workers left ``sending`` past the lease; never send those again."""
    claimed_before = command.now - uow.policy.sending_lease
    stuck = list(await uow.notifications.lock_stuck(claimed_before, command.limit))
    for notification in stuck:
        log.warning(
            "notification %s was left sending since %s (attempt %d): %s",
            notification.id,
            notification.claimed_at,
            notification.attempts,
            WORKER_STOPPED,
        )
        notification.give_up_unknown(WORKER_STOPPED, command.now)
        uow.track(notification)
    await uow.notifications.save_all(stuck)
    return stuck


async def claim_due_and_next(
    command: ClaimDue, uow: NotificationUow
) -> tuple[list[Notification], datetime | None]:
    """:func:`claim_due`, and when the nearest notification it left ``pending`` is due (past or not; None if
    none is): read in the claim's own transaction, so that the sender's sleep costs no transaction of its own.
    """
    claimed = await claim_due(command, uow)
    return claimed, await uow.notifications.next_due()


def seconds_until(due: datetime | None, *, longest: float, now: datetime) -> float:
    """How long the sender may sleep: until ``due`` (the nearest pending one), at most ``longest``."""
    if due is None:
        return longest
    return min(longest, max(0.0, (due - now).total_seconds()))


async def committed(
    uows: Callable[[], NotificationUow], step: Callable[[NotificationUow], Awaitable[T]]
) -> T:
    """Run ``step`` in a unit of work of its own and commit it: the sender opens each, so it commits each."""
    async with uows() as uow:
        result = await step(uow)
        await uow.commit()
    return result


@dataclass(frozen=True, slots=True)
class PassResult:
    claimed: int
    outcomes: tuple[Status, ...]
    resolved_stuck: int
    # As many were claimed as could be: more may be due, so the next pass need not wait.
    full: bool = False
    # The pass waited out a database outage (recording an outcome): its caller has not seen the database
    # answer since the pass began, and must count a whole lease from now before taking rows for abandoned.
    met_outage: bool = False
    # When the nearest pending notification is due (past or not), as the claim read it, or sooner where this
    # pass put one back to wait out a backoff; None when none is pending. Rows recorded since announce
    # themselves (NOTIFY), and another worker's backoffs are that worker's to wait for.
    next_due: datetime | None = None


async def send_due(
    uows: Callable[[], NotificationUow],
    mailer: Mailer,
    *,
    clock: Callable[[], datetime],
    batch: int,
    recover: bool = True,
    recover_within: float | None = None,
    outage: Callable[[BaseException], bool] = lambda _: False,
) -> PassResult:
    """One pass of the sender: recover stuck rows, claim a batch, hand it over concurrently, settle each.

    The batch is no larger than the mailer's sessions, so every claimed row is handed over at once: none
    waits ``sending`` for a free session, where a crash would report it unknown without it ever being sent.
    ``recover`` is False while the caller has not seen the database answer for a whole lease (after an
    outage, a live worker still holding an outcome must get to record it first); ``recover_within`` bounds
    the recovery step, so that it cannot wait out an outage and run right after it. ``outage`` tells an error
    that means "the database is away" (recording is then retried until it answers) from any other.
    """
    met_outage = False

    def noting(error: BaseException) -> bool:
        nonlocal met_outage
        away = outage(error)
        met_outage = met_outage or away
        return away

    stuck: list[Notification] = []
    if recover:
        # Bounded: a resolution that waited out an outage for its connection would run the moment the
        # database is back, before a live worker recorded what it held. Timing out fails the pass instead.
        resolving = committed(uows, partial(resolve_stuck, ResolveStuck(clock(), batch)))
        stuck = await asyncio.wait_for(resolving, timeout=recover_within)
    claim = ClaimDue(clock(), min(batch, mailer.sessions))
    try:
        claimed, next_due = await committed(uows, partial(claim_due_and_next, claim))
    except Exception:
        withdrawn = await _patiently(
            lambda: committed(uows, partial(withdraw_claim, WithdrawClaim(claim.claim_id, clock()))),
            noting,
            what=f"withdrawing claim {claim.claim_id}",
        )
        if withdrawn:
            log.warning("claim %s committed unheard; %d notification(s) put back", claim.claim_id, withdrawn)
        raise
    if not claimed:
        return PassResult(0, (), len(stuck), next_due=next_due)

    async def hand_over(notification: Notification) -> Notification | None:
        # Each outcome is recorded as soon as its own hand-off ends: a worker killed mid-batch then leaves
        # only the e-mails still in flight `sending` (reported unknown), not every e-mail of the batch.
        try:
            result: DeliveryOutcome | BaseException = await mailer.deliver(notification)
        except Exception as exc:
            result = exc
        outcome = _as_outcome(notification, result)
        settled = await _patiently(
            lambda: committed(uows, partial(settle_attempt, SettleAttempt(notification, outcome, clock()))),
            noting,
            what=f"recording notification {notification.id} ({outcome})",
        )
        return settled

    # Concurrently, so every claimed row is handed over at once and none waits out the lease in a queue.
    recorded = [n for n in await asyncio.gather(*(hand_over(n) for n in claimed)) if n is not None]
    # The claim read what it left pending; what this pass put back pending (a backoff) it knows itself.
    due = [n.next_attempt_at for n in recorded if n.status is Status.PENDING]
    if next_due is not None:
        due.append(next_due)
    next_due = min(due, default=None)
    full = len(claimed) >= claim.limit
    outcomes = tuple(n.status for n in recorded)
    return PassResult(len(claimed), outcomes, len(stuck), full=full, met_outage=met_outage, next_due=next_due)


async def _patiently(
    attempt: Callable[[], Awaitable[T]], outage: Callable[[BaseException], bool], *, what: str
) -> T | None:
    """Run ``attempt`` (a settle or a withdrawal), riding out a database outage of any length: what the
    worker knows now would be lost after.

    Other errors are tried ``SETTLE_ATTEMPTS`` times; then None, and the row is left ``sending`` for recovery
    to report unknown once the lease is over: wrongly pessimistic for an accepted e-mail, never a second one.
    """
    pause, failures = SETTLE_FIRST_PAUSE, 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            away = outage(exc)
            if not away:
                failures += 1
                if failures == SETTLE_ATTEMPTS:
                    log.exception("%s failed for good", what)
                    return None
            log.warning("%s failed; again in %.1fs", what, pause, exc_info=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, SETTLE_MAX_PAUSE) if away else pause * 2


def _as_outcome(notification: Notification, result: DeliveryOutcome | BaseException) -> DeliveryOutcome:
    if not isinstance(result, BaseException):
        return result
    if not isinstance(result, Exception):
        raise result
    # The mailer promises to classify every failure; one it did not could have happened mid-hand-off.
    log.error("mailer failed unexpectedly on notification %s", notification.id, exc_info=result)
    return Unknown(f"delivery unknown: the mailer failed ({type(result).__name__}: {result})")
