"""Drills: faults longer than every retry budget and saga deadline, each under a steady order load spread
over both api replicas (two of every worker: competing consumers, two relays, two deadline scanners, two
senders), each ending with `devstack.invariants.check_recovered`: the system's invariants, no order
abandoned, nothing parked, no message handled twice, every order event's e-mail sent exactly once, and
every message published since the drill began handled by each subscriber. Nobody replays, restarts or
repairs anything between the fault and the checks: undoing the fault is the only step.

The outages are a few seconds longer than the budgets the stack runs with (`conftest.E2E_ENV`): the
consumers' retry delays, the saga's deadlines, the sender's SMTP budget. The database-server restart and
the drill of consumers started late run on a stack of their own (`test_private_server_faults.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from devstack.admin import Admin
from devstack.client import Folio, eventually
from devstack.config import SERVICES
from devstack.faults import SmtpSwitch, refusing_connections, refusing_exchange
from devstack.invariants import check_recovered
from devstack.load import SteadyLoad
from devstack.stack import Stack
from tests.e2e.drills import (
    MARGIN_SECONDS,
    RATE,
    RECOVERY_TIMEOUT,
    all_running,
    hold,
    outage,
    placed_at_least,
)

pytestmark = pytest.mark.e2e

RESERVE_STOCK = "folio.catalog.reserve-stock.v1"


@pytest.fixture
def drill(healthy: Stack, admin: Admin, smtp_switch: SmtpSwitch) -> Iterator[datetime]:
    """The stack, healthy; yields when the drill began. Afterwards every fault is undone (a failed drill
    may leave one) and the parking queues emptied, so that one drill's failure does not fail the next."""
    began = datetime.now(UTC) - timedelta(seconds=1)
    yield began
    smtp_switch.forward()
    for name in healthy.specs:
        if healthy.running(name):
            healthy.resume(name)
    for queue in admin.consumer_queues():
        admin.purge(f"{queue}.dlq")


def test_each_database_refusing_connections_longer_than_every_budget(
    drill: datetime, healthy: Stack, folio: Folio, admin: Admin
) -> None:
    env = healthy.config.extra_env
    away = outage(env, "retry", "smtp")
    load = SteadyLoad(folio, books=4, stock=400, seed=91)
    with load.running(per_second=RATE):
        for service in SERVICES:
            placed_at_least(load, load.placed + 6)
            with refusing_connections(admin, service):
                hold(away)
    all_running(healthy)
    outcome = check_recovered(folio, admin, load.ledger, since=drill, timeout=RECOVERY_TIMEOUT)
    print(f"each database refused {away:.0f}s; {outcome}; calls repeated by clients {load.repeated}")


def test_mail_server_down_longer_than_the_smtp_budget(
    drill: datetime, healthy: Stack, folio: Folio, admin: Admin, smtp_switch: SmtpSwitch
) -> None:
    away = max(10.0, outage(healthy.config.extra_env, "smtp"))
    load = SteadyLoad(folio, books=3, stock=300, seed=92)
    with load.running(per_second=RATE):
        placed_at_least(load, 10)
        smtp_switch.down()
        hold(away)
        smtp_switch.forward()
        placed_at_least(load, load.placed + 10)
    outcome = check_recovered(folio, admin, load.ledger, since=drill, timeout=RECOVERY_TIMEOUT)
    print(f"mail server down {away:.0f}s; {outcome}")


def test_mail_server_throttling_with_421(
    drill: datetime, healthy: Stack, folio: Folio, admin: Admin, smtp_switch: SmtpSwitch
) -> None:
    away = max(10.0, outage(healthy.config.extra_env, "smtp"))
    load = SteadyLoad(folio, books=3, stock=300, seed=93)
    with load.running(per_second=RATE):
        placed_at_least(load, 10)
        throttled = smtp_switch.throttled
        smtp_switch.throttle()
        hold(away)
        smtp_switch.forward()
        placed_at_least(load, load.placed + 10)
    assert smtp_switch.throttled > throttled, "no session met the throttle: the drill proved nothing"
    outcome = check_recovered(folio, admin, load.ledger, since=drill, timeout=RECOVERY_TIMEOUT)
    print(
        f"mail server answered 421 for {away:.0f}s ({smtp_switch.throttled - throttled} sessions); {outcome}"
    )


def test_catalog_frozen_longer_than_a_saga_deadline_abandons_no_order_with_stock(
    drill: datetime, healthy: Stack, folio: Folio, admin: Admin
) -> None:
    env = healthy.config.extra_env
    # Past the first deadline and its resend, well short of the give-up horizon.
    deadline = float(env["ORDERING_SAGA_FIRST_DEADLINE_SECONDS"])
    frozen_for = 2 * deadline + MARGIN_SECONDS - 1
    assert frozen_for < float(env["ORDERING_SAGA_GIVE_UP_AFTER_SECONDS"]), "the horizon leaves no room"
    workers = healthy.replicas("catalog", "worker")
    load = SteadyLoad(folio, books=4, stock=400, seed=94)
    with load.running(per_second=RATE):
        placed_at_least(load, 10)
        for name in workers:
            healthy.pause(name)
        try:
            hold(frozen_for)
        finally:
            for name in workers:
                healthy.resume(name)
        placed_at_least(load, load.placed + 10)
    all_running(healthy)
    outcome = check_recovered(folio, admin, load.ledger, since=drill, timeout=RECOVERY_TIMEOUT)
    print(f"catalog workers frozen {frozen_for:.0f}s; {outcome}")


def test_broker_refusing_one_exchange_to_the_relay_fails_only_its_rows(
    drill: datetime, healthy: Stack, folio: Folio, admin: Admin
) -> None:
    away = outage(healthy.config.extra_env)
    load = SteadyLoad(folio, books=3, stock=300, seed=95)
    # Orders confirmed before the fault, completed during it: their events go out on ordering.events.
    early = SteadyLoad(folio, books=1, stock=50, seed=96)
    with early.running(per_second=RATE):
        placed_at_least(early, 8)
    for order_id in early.ledger.orders:
        folio.wait_status(order_id, {"confirmed", "cancelled", "completed"}, timeout=60)
    confirmed = [o for o in early.ledger.orders if folio.order(o)["status"] == "confirmed"]
    assert confirmed, "no order confirmed before the fault"

    with load.running(per_second=RATE), refusing_exchange(admin, "ordering", "catalog.commands"):
        began = time.monotonic()
        placed_at_least(load, 5)
        for order_id in confirmed:
            folio.complete_order(order_id)

        # The other rows flow meanwhile: the completions reach the notification service and its mail.
        def completions_mailed() -> bool:
            sent = [
                n
                for n in folio.notifications()
                if n["order_id"] in confirmed and n["template"] == "order-completed" and n["status"] == "sent"
            ]
            return len(sent) == len(confirmed)

        eventually(
            completions_mailed, timeout=away, what="completions published while ReserveStock is refused"
        )
        waiting = admin.query(
            "ordering",
            "SELECT count(*) AS n FROM outbox WHERE type = $1 AND published_at IS NULL",
            RESERVE_STOCK,
        )
        assert int(waiting[0]["n"]) > 0, "no ReserveStock waited: the permission was not in the way"
        hold(max(0.0, began + away - time.monotonic()))
    all_running(healthy)
    early.ledger.orders.extend(load.ledger.orders)
    early.ledger.stock.update(load.ledger.stock)
    outcome = check_recovered(folio, admin, early.ledger, since=drill, timeout=RECOVERY_TIMEOUT)
    print(f"ordering refused catalog.commands for {away:.0f}s; {outcome}")
