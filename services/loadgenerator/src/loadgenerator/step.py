"""One rate step: send its orders, wait for their outcomes, sum them up."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import aiohttp

from loadgenerator.orders import Sent, send_step
from loadgenerator.outcomes import ApiOutcomes, Outcome, OutcomeReader, wait_settled
from loadgenerator.report import StepResult
from loadgenerator.schedule import RateStep
from loadgenerator.stats import Latency
from loadgenerator.target import Target


@dataclass(frozen=True)
class StepRun:
    result: StepResult
    started_at: float  # epoch seconds: the first order sent
    ended_at: float  # the last order settled (or the wait gave up)


def summarize(step: RateStep, sent: Sent, outcomes: list[Outcome]) -> StepResult:
    accepted = [p for p in sent.placements if p.order_id is not None]
    ours = {p.order_id for p in accepted}
    mine = [o for o in outcomes if o.order_id in ours]
    confirmed = [o for o in mine if o.status == "confirmed"]
    first_sent = min(p.sent_at for p in sent.placements)
    last_sent = max(p.sent_at for p in sent.placements)
    confirmed_at = sorted(o.changed_at.timestamp() for o in confirmed)
    last_confirmed = confirmed_at[-1] if confirmed_at else last_sent
    sending = last_sent - first_sent
    confirming = last_confirmed - confirmed_at[0] if confirmed_at else 0.0
    return StepResult(
        rate=step.rate,
        seconds=step.seconds,
        placed=len(sent.placements),
        accepted=len(accepted),
        failed=len(sent.placements) - len(accepted),
        # n orders evenly spaced span (n - 1) intervals
        sent_per_s=(len(accepted) - 1) / sending if sending > 0 else float(len(accepted)),
        confirmed=len(confirmed),
        rejected=sum(1 for o in mine if o.status in ("rejected", "cancelled")),
        unsettled=len(accepted) - sum(1 for o in mine if o.settled),
        confirmed_per_s=(len(confirmed) - 1) / confirming if confirming > 0 else float(len(confirmed)),
        drain_seconds=max(0.0, last_confirmed - last_sent),
        post_ms=Latency.of([p.seconds * 1000 for p in accepted]),
        placed_to_confirmed_ms=Latency.of(
            [(o.changed_at - o.placed_at).total_seconds() * 1000 for o in confirmed]
        ),
        send_lag_ms=sent.worst_lateness * 1000,
        offered_per_s=sent.offered_per_s,
        generator_cpu_percent=sent.cpu_percent,
        shed=sum(p.shed for p in sent.placements),
        failed_statuses=dict(Counter(str(p.status) for p in sent.placements if p.order_id is None)),
    )


async def run_step(
    client: aiohttp.ClientSession,
    target: Target,
    step: RateStep,
    books: list[str],
    *,
    customer: str,
    rng: random.Random,
    settle_timeout: float = 120.0,
    retry_for: float = 30.0,
    reader: OutcomeReader | None = None,
) -> StepRun:
    """Orders as ``customer`` (one per step, so its order list is exactly this step's orders), read back
    through ``reader`` (the ordering API unless given)."""
    token = target.customer_token(customer)
    sent = await send_step(client, target.ordering_url, token, step, books, rng, retry_for=retry_for)
    accepted = sum(1 for p in sent.placements if p.order_id is not None)
    reader = reader or ApiOutcomes(client, target.ordering_url, token)
    outcomes = await wait_settled(reader, customer, expected=accepted, within=settle_timeout)
    result = summarize(step, sent, outcomes)
    started = min(p.sent_at for p in sent.placements)
    settled_at = [o.changed_at.timestamp() for o in outcomes]
    ended = max([*settled_at, max(p.sent_at + p.seconds for p in sent.placements)])
    return StepRun(result, started, ended)
