"""Gauges of the order sagas still under way: how many in each state, and how long the oldest has waited.

Only the states that are not terminal are counted (terminal sagas pile up for ever). A saga "waits" when it
expects an answer from another service: every such state but ``confirmed``, where an order may rest for
days. Its age is the time since it last moved (a resend counts), so a saga that nothing moves any more (no
deadline, a stopped scanner) grows old and alerts.
"""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select

from chassis import Resources
from ordering.adapters.tables import sagas
from ordering.domain.saga import SagaState

UNDER_WAY = tuple(state for state in SagaState if not state.is_terminal)
WAITING = frozenset(state for state in UNDER_WAY if state is not SagaState.CONFIRMED)

SAGA_INSTANCES = Gauge("folio_saga_instances", "Order sagas not yet finished, by state", ["state"])
OLDEST_ACTIVE_AGE = Gauge(
    "folio_saga_oldest_active_age_seconds",
    "Time since the oldest saga waiting on another service (not confirmed, not finished) last moved",
)


async def collect_sagas(resources: Resources) -> None:
    """The worker's backlog task calls this every ``metrics_interval_seconds``."""
    oldest_age = func.extract("epoch", func.now() - func.min(sagas.c.updated_at))
    by_state = (
        select(sagas.c.state, func.count(), oldest_age)
        .where(sagas.c.state.in_([state.value for state in UNDER_WAY]))
        .group_by(sagas.c.state)
    )
    async with resources.engine.connect() as connection:
        rows = (await connection.execute(by_state)).all()
    counts = dict.fromkeys(UNDER_WAY, 0)
    waited = [0.0]
    for state, count, age in rows:
        counts[SagaState(state)] = count
        if SagaState(state) in WAITING:
            waited.append(float(age))
    for state, count in counts.items():
        SAGA_INSTANCES.labels(state.value).set(count)
    OLDEST_ACTIVE_AGE.set(max(waited))
