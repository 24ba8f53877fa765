"""Drills on a stack of its own, on a PostgreSQL server of its own: the server restarted under load, and
consumers that start only after their messages were published. Like the other long-fault drills, each ends
with `devstack.invariants.check_recovered`, and undoing the fault is the only step.

Marked ``own_stack``: the module runs before the session's stack starts, alone on the machine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devstack import private_postgres
from devstack.admin import Admin
from devstack.client import Folio, eventually
from devstack.invariants import check_recovered
from devstack.load import SteadyLoad
from devstack.private_postgres import PrivatePostgres
from devstack.stack import Stack
from tests.conftest import running_stack, started_switch
from tests.e2e.drills import (
    RATE,
    READY_TIMEOUT,
    RECOVERY_TIMEOUT,
    all_running,
    outage,
    placed_at_least,
)

pytestmark = [pytest.mark.e2e, pytest.mark.own_stack]

# Held back when the private stack starts: the drill of a consumer's queue absent starts them itself. (Not
# the catalog: on a loaded machine its start could outlast the saga's give-up horizon.)
HELD_BACK = (("rating", "worker"),)


@dataclass(frozen=True)
class PrivateStack:
    stack: Stack
    postgres: PrivatePostgres
    held_back: tuple[tuple[str, str], ...]


@pytest.fixture(scope="module")
def private_stack(request: pytest.FixtureRequest) -> Iterator[PrivateStack]:
    """A stack on a PostgreSQL server of its own (a drill restarts it), with its rating workers not
    started yet."""
    if not private_postgres.available():
        pytest.skip(f"needs initdb and pg_ctl in {private_postgres.BIN}")
    server = PrivatePostgres(Path(tempfile.mkdtemp(prefix="folio-pg-"))).start()
    try:
        with (
            started_switch() as switch,
            running_stack(request, switch, postgres_admin_url=server.url, hold_back=HELD_BACK) as running,
        ):
            yield PrivateStack(running, server, HELD_BACK)
    finally:
        server.remove()


def private_clients(private_stack: PrivateStack) -> tuple[Stack, Folio, Admin]:
    stack: Stack = private_stack.stack
    return stack, Folio(stack.config), Admin(stack.config)


def test_messages_published_before_their_consumers_first_start_arrive_once(
    private_stack: PrivateStack,
) -> None:
    stack, folio, admin = private_clients(private_stack)
    held = [name for service, role in private_stack.held_back for name in stack.replicas(service, role)]
    assert not any(stack.running(name) for name in held), "run this drill on a stack that held them back"
    since = datetime.now(UTC) - timedelta(seconds=1)
    with folio:
        load = SteadyLoad(folio, books=3, stock=300, seed=97)
        with load.running(per_second=RATE):
            placed_at_least(load, 12)
            # BookCreated and the completions go out while rating's worker has not started yet.
            eventually(
                lambda: _published(admin, "folio.ordering.order-completed.v1") >= 2,
                timeout=60,
                what="OrderCompleted published before the rating worker started",
            )
            rating = stack.replicas("rating", "worker")
            stack.start(rating)
            stack.wait_ready(rating, timeout=READY_TIMEOUT)
        outcome = check_recovered(folio, admin, load.ledger, since=since, timeout=RECOVERY_TIMEOUT)
    print(f"consumers started after their messages were published; {outcome}")


def test_postgresql_server_restarted_under_load(private_stack: PrivateStack) -> None:
    stack, folio, admin = private_clients(private_stack)
    stack.start()
    stack.wait_ready(timeout=READY_TIMEOUT)
    down_for = outage(stack.config.extra_env, "retry", "smtp")
    since = datetime.now(UTC) - timedelta(seconds=1)
    with folio:
        load = SteadyLoad(folio, books=4, stock=400, seed=98)
        with load.running(per_second=RATE):
            placed_at_least(load, 15)
            away = private_stack.postgres.restart(down_for=down_for)
            placed_at_least(load, load.placed + 15)
        all_running(stack)
        outcome = check_recovered(folio, admin, load.ledger, since=since, timeout=RECOVERY_TIMEOUT)
    print(f"PostgreSQL away {away:.1f}s; {outcome}; calls repeated by clients {load.repeated}")


def _published(admin: Admin, message_type: str) -> int:
    rows = admin.query(
        "ordering",
        "SELECT count(*) AS n FROM outbox WHERE type = $1 AND published_at IS NOT NULL",
        message_type,
    )
    return int(rows[0]["n"])
