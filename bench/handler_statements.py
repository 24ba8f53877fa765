"""SQL round trips and CPU per handler on one order's path (not a test).

    .venv/bin/python bench/handler_statements.py [--calls 200] [--only catalog,ordering,notification]

Each service's handler runs as its consumer or sender runs it, in a throwaway migrated database (removed
afterwards), with no broker: catalog's reserve_stock (two lines) and ordering's handle_reply (StockReserved)
and notification's recording each behind an inbox claim in one unit of work; ordering's place_order without
its HTTP route; one sender pass for one e-mail (a mailer that accepts at once; its claim also reads when the
next one is due). For each it prints the statements of one call, as SQLAlchemy sends them (an executemany
is one), the pool checkouts, BEGINs, COMMITs and ROLLBACKs (each a round trip too; a checkout pings), and the
CPU time of this process per call (``time.process_time``) over ``--calls`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from catalog.adapters.unit_of_work import uow_factory as catalog_uows
from catalog.application import book_handlers, party_handlers, stock_handlers
from catalog.application.commands import CreateAuthor, CreateBook, PriceInput, ReserveStock
from catalog.domain.isbn import check_digit
from catalog.domain.reservation import RequestedLine
from catalog.entrypoints.definition import MIGRATIONS_DIR as CATALOG_MIGRATIONS
from chassis.db import create_engine, session_factory
from chassis.inbox import claim
from chassis.migrations import upgrade_to_head
from contracts.envelope import new_id
from notification.adapters.unit_of_work import uow_factory as notification_uows
from notification.application.commands import RecordNotification
from notification.application.recording_handlers import record_notification
from notification.application.sending_handlers import send_due
from notification.domain.content import EmailContent
from notification.domain.delivery import Accepted, DeliveryPolicy
from notification.domain.notification import Notification
from notification.entrypoints.definition import MIGRATIONS_DIR as NOTIFICATION_MIGRATIONS
from ordering.adapters.unit_of_work import uow_factory as ordering_uows
from ordering.application import order_handlers
from ordering.application.commands import PlaceOrder
from ordering.application.ports import Cause
from ordering.domain import triggers
from ordering.domain.lines import OrderLine, PricedLine
from ordering.domain.money import Money
from ordering.domain.saga import SagaPolicy
from ordering.entrypoints.definition import MIGRATIONS_DIR as ORDERING_MIGRATIONS
from testkit.resources import fresh_database

Setup = Callable[[], Awaitable[Any]]
Run = Callable[[Any], Awaitable[None]]


class RoundTrips:
    """Counts what the engine sends: statements, checkouts, BEGIN, COMMIT and ROLLBACK."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counts: Counter[str] = Counter()
        self.statements: list[str] = []
        sync = engine.sync_engine

        def statement(_c: Any, _cur: Any, sql: str, _p: Any, _ctx: Any, many: bool) -> None:
            self.counts["statements"] += 1
            self.statements.append(" ".join(sql.split())[:100] + (" (executemany)" if many else ""))

        event.listen(sync, "before_cursor_execute", statement)
        for name in ("begin", "commit", "rollback"):
            event.listen(sync, name, lambda *_, name=name: self.counts.update([name]))
        event.listen(sync.pool, "checkout", lambda *_: self.counts.update(["checkouts"]))

    def clear(self) -> None:
        self.counts.clear()
        self.statements.clear()


async def measure(title: str, trips: RoundTrips, setup: Setup, run: Run, calls: int) -> None:
    first = await setup()
    trips.clear()
    await run(first)
    print(f"== {title}")
    for sql in trips.statements:
        print(f"   {sql}")
    counts = dict(trips.counts)
    cpu = 0.0
    for _ in range(calls):
        argument = await setup()
        start = time.process_time()
        await run(argument)
        cpu += time.process_time() - start
    print(f"   per call: {counts}; CPU {cpu / calls * 1e6:,.0f} µs")


@asynccontextmanager
async def migrated(name: str, migrations: Any) -> AsyncIterator[AsyncEngine]:
    """An engine on a throwaway database of ``name``, migrated to head; all removed afterwards."""
    async with fresh_database(f"handler_bench_{name}") as url:
        await upgrade_to_head(migrations, url)
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


def _isbn() -> str:
    twelve = "978" + "".join(random.choices("0123456789", k=9))
    return twelve + str(check_digit(twelve))


async def catalog(calls: int) -> None:
    async with migrated("catalog", CATALOG_MIGRATIONS) as engine:
        uows = catalog_uows(session_factory(engine))
        async with uows() as uow:
            names = [await party_handlers.create_author(CreateAuthor(n), uow) for n in ("A", "B")]
            await uow.commit()
        books: list[UUID] = []
        for title in ("First", "Second"):
            command = CreateBook(
                isbn=_isbn(),
                title=title,
                description="",
                price=PriceInput(Decimal("10.00"), "EUR"),
                stock=1_000_000,
                author_ids=tuple(names),
                category_id=None,
                publisher_id=None,
            )
            async with uows() as uow:
                books.append(await book_handlers.create_book(command, uow))
                await uow.commit()

        async def setup() -> ReserveStock:
            return ReserveStock(uuid4(), (RequestedLine(books[0], 1), RequestedLine(books[1], 2)))

        async def reserve(command: ReserveStock) -> None:
            async with uows() as uow:
                await claim(
                    uow.session, consumer="catalog.reserve_stock", message_id=new_id(), message_type="t"
                )
                await stock_handlers.reserve_stock(command, uow)
                await uow.commit()

        await measure("catalog reserve_stock (2 lines)", RoundTrips(engine), setup, reserve, calls)


async def ordering(calls: int) -> None:
    async with migrated("ordering", ORDERING_MIGRATIONS) as engine:
        uows = ordering_uows(session_factory(engine), SagaPolicy())
        trips = RoundTrips(engine)
        first, second = uuid4(), uuid4()
        reply = triggers.StockReserved(
            (
                PricedLine(first, 1, Money(Decimal("10.00"), "EUR")),
                PricedLine(second, 2, Money(Decimal("2.50"), "EUR")),
            )
        )

        async def new_order() -> PlaceOrder:
            lines = (OrderLine(first, 1), OrderLine(second, 2))
            return PlaceOrder(uuid4(), "customer-1", "customer@example.com", lines)

        async def place(command: PlaceOrder) -> None:
            async with uows() as uow:
                await order_handlers.place_order(command, uow)
                await uow.commit()

        async def placed() -> UUID:
            command = await new_order()
            await place(command)
            return command.order_id

        async def handle(order_id: UUID) -> None:
            async with uows() as uow:
                await claim(
                    uow.session, consumer="ordering.stock_reserved", message_id=new_id(), message_type="t"
                )
                await order_handlers.handle_reply(order_id, reply, Cause("stock-reserved"), uow)
                await uow.commit()

        await measure("ordering place_order (the handler, no HTTP)", trips, new_order, place, calls)
        await measure("ordering handle_reply (StockReserved)", trips, placed, handle, calls)


class AcceptingMailer:
    sessions = 4

    async def deliver(self, notification: Notification) -> Accepted:
        return Accepted("250 queued")


async def notification(calls: int) -> None:
    async with migrated("notification", NOTIFICATION_MIGRATIONS) as engine:
        uows = notification_uows(session_factory(engine), DeliveryPolicy())
        trips = RoundTrips(engine)
        content = EmailContent(subject="Your order", text="t" * 500, html="<p>" + "h" * 800 + "</p>")

        def clock() -> datetime:
            return datetime.now(UTC)

        async def asked() -> RecordNotification:
            return RecordNotification(
                notification_id=new_id(),
                source_message_id=new_id(),
                source_type="folio.ordering.order-confirmed.v1",
                order_id=uuid4(),
                customer_id="customer-1",
                recipient="customer@example.com",
                template="order_confirmed",
                content=content,
                at=clock(),
            )

        async def record(command: RecordNotification) -> None:
            async with uows() as uow:
                await claim(
                    uow.session, consumer="notification.order_emails", message_id=new_id(), message_type="t"
                )
                await record_notification(command, uow)
                await uow.commit()

        async def recorded() -> None:
            await record(await asked())

        def one_pass(recover: bool) -> Callable[[None], Awaitable[None]]:
            async def run(_: None) -> None:
                result = await send_due(uows, AcceptingMailer(), clock=clock, batch=4, recover=recover)
                assert result.claimed == 1, result

            return run

        await measure("notification record_notification", trips, asked, record, calls)
        while (await send_due(uows, AcceptingMailer(), clock=clock, batch=100)).full:
            pass
        # The worker's sender recovers stuck rows once an idle interval (RecoverySchedule), not every pass.
        for recover, which in ((False, "as most run"), (True, "with the recovery")):
            what = f"notification sender pass, one e-mail, {which}"
            await measure(what, trips, recorded, one_pass(recover), calls)


HANDLERS = {"catalog": catalog, "ordering": ordering, "notification": notification}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", default=",".join(HANDLERS), help="comma-separated services")
    args = parser.parse_args()

    async def run() -> None:
        for name in args.only.split(","):
            await HANDLERS[name](args.calls)

    asyncio.run(run())


if __name__ == "__main__":
    main()
