"""Faults, each followed by the invariants of `devstack.invariants.check` once the system recovered:
every order placed is confirmed or terminal and the catalog agrees, no message lost (nothing parked, every
order event notified), no e-mail doubled, and stock + held reservations == initial stock + restocks.

Held reservations are read from the catalog's database as the PostgreSQL superuser: no API shows them.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from chassis.messaging.parked import ParkedMessage
from devstack.admin import Admin
from devstack.client import Customer, Folio, eventually
from devstack.faults import BusDuplicator, poison, refusing_connections, restart_rabbitmq
from devstack.invariants import Ledger, check, wait_settled
from devstack.stack import Stack

pytestmark = pytest.mark.e2e

RECOVERY_TIMEOUT = 120.0
# A restart under load on a busy machine takes minutes.
READY_TIMEOUT = 300.0


class Workload:
    """Books of a test's own and orders for them, placed from a background thread at a steady pace."""

    def __init__(self, folio: Folio, *, books: int, stock: int, customers: int, seed: int) -> None:
        self.folio = folio
        self.ledger = Ledger()
        self.rng = random.Random(seed)
        author = folio.create_author(f"Fault author {seed}")
        self.books = [
            self.ledger.add_book(
                folio.create_book(f"Fault book {seed}-{i}", price="5.00", stock=stock, author_ids=[author])
            )
            for i in range(books)
        ]
        self.customers = [Customer.named(f"c{i}") for i in range(customers)]
        self.owner: dict[str, Customer] = {}
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []

    @property
    def placed(self) -> int:
        with self._lock:
            return len(self.ledger.orders)

    def place_one(self) -> str:
        customer = self.rng.choice(self.customers)
        chosen = self.rng.sample(self.books, min(len(self.books), self.rng.choice((1, 1, 2))))
        order_id = self.folio.place_order(customer, {book: self.rng.randint(1, 3) for book in chosen})
        with self._lock:
            self.ledger.orders.append(order_id)
            self.owner[order_id] = customer
        return order_id

    @contextmanager
    def placing(self, count: int, per_second: float) -> Iterator[threading.Thread]:
        """Place ``count`` orders in the background at ``per_second``; waits for them on exit."""

        def run() -> None:
            began = time.monotonic()
            for i in range(count):
                try:
                    self.place_one()
                except Exception as error:
                    self.errors.append(error)
                time.sleep(max(0.0, began + (i + 1) / per_second - time.monotonic()))

        thread = threading.Thread(target=run, name="placing orders", daemon=True)
        thread.start()
        try:
            yield thread
        finally:
            thread.join(300)
        assert not self.errors, f"placing orders failed: {self.errors[:3]}"

    def finish(self, statuses: dict[str, str], *, per_second: float) -> threading.Thread:
        """Complete about half of the confirmed orders and cancel the others, in the background."""
        confirmed = sorted(o for o, s in statuses.items() if s == "confirmed")

        def run() -> None:
            began = time.monotonic()
            for i, order_id in enumerate(confirmed):
                try:
                    if i % 2:
                        self.folio.cancel_order(self.owner[order_id], order_id)
                    else:
                        self.folio.complete_order(order_id)
                except Exception as error:
                    self.errors.append(error)
                time.sleep(max(0.0, began + (i + 1) / per_second - time.monotonic()))

        thread = threading.Thread(target=run, name="finishing orders", daemon=True)
        thread.start()
        return thread


def kill_and_restart(stack: Stack, service: str) -> None:
    """SIGKILL every replica of ``service``'s worker at once, then start them again."""
    names = stack.replicas(service, "worker")
    for name in names:
        stack.kill(name)
    stack.start(names)
    stack.wait_ready(names, timeout=READY_TIMEOUT)


def test_sigkill_each_worker_in_turn_with_200_orders_in_flight(
    healthy: Stack, folio: Folio, admin: Admin
) -> None:
    load = Workload(folio, books=5, stock=60, customers=20, seed=1)
    with load.placing(200, per_second=12):
        for service, after in (("catalog", 20), ("ordering", 80), ("notification", 140)):
            eventually(lambda after=after: load.placed >= after, timeout=60, what=f"{after} orders placed")
            kill_and_restart(healthy, service)
        folio.restock(load.books[0], 10)
        load.ledger.restocked(load.books[0], 10)
    statuses = wait_settled(folio, load.ledger, RECOVERY_TIMEOUT)
    assert Counter(statuses.values())["confirmed"] > 10, (
        f"too few orders confirmed to go on: {Counter(statuses.values())}"
    )

    finishing = load.finish(statuses, per_second=15)
    for service in ("rating", "notification"):
        time.sleep(0.5)  # pacing only: let some completions and cancels go out before the kill
        kill_and_restart(healthy, service)
    finishing.join(120)
    assert not load.errors, load.errors[:3]

    # Each kill of a notification worker may leave the batch it had claimed of unknown fate.
    batch = int(healthy.config.extra_env["NOTIFICATION_SENDER_BATCH_SIZE"])
    kills = 2 * healthy.config.replicas
    outcome = check(folio, admin, load.ledger, timeout=RECOVERY_TIMEOUT, uncertain_allowed=kills * batch)
    assert sum(outcome.statuses.values()) == 200
    print(outcome)


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl for a local broker")
def test_rabbitmq_restarted_under_load(healthy: Stack, folio: Folio, admin: Admin) -> None:
    load = Workload(folio, books=4, stock=40, customers=10, seed=2)
    with load.placing(100, per_second=10):
        eventually(lambda: load.placed >= 25, timeout=60, what="25 orders placed")
        away = restart_rabbitmq(admin)
    print(f"RabbitMQ was away {away:.1f}s")
    # Every process reconnects by itself: nobody restarts them.
    exited = [name for name in healthy.specs if not healthy.running(name)]
    assert not exited, f"exited after the broker restart: {exited} (see {healthy.log_dir})"
    healthy.wait_ready(timeout=READY_TIMEOUT)
    # Orders waiting in outboxes while the broker was away may have outlived the saga's deadline; new
    # ones, placed once the broker is back, go through (a book of their own has stock for all).
    shelf = load.ledger.add_book(folio.create_book("After the restart", price="3.00", stock=50))
    after = [folio.place_order(load.customers[0], {shelf: 1}) for _ in range(5)]
    load.ledger.orders.extend(after)
    load.owner.update(dict.fromkeys(after, load.customers[0]))
    statuses = wait_settled(folio, load.ledger, RECOVERY_TIMEOUT)
    late = {o: folio.history(o) for o in after if statuses[o] != "confirmed"}
    assert not late, f"orders placed after the restart not confirmed: {late}"

    load.finish(statuses, per_second=30).join(120)
    assert not load.errors, load.errors[:3]

    outcome = check(folio, admin, load.ledger, timeout=RECOVERY_TIMEOUT)
    assert sum(outcome.statuses.values()) == 105
    print(outcome)


def test_catalog_down_past_the_last_deadline(
    healthy: Stack, folio: Folio, admin: Admin, last_deadline: float
) -> None:
    load = Workload(folio, books=2, stock=20, customers=3, seed=3)
    catalog = [*healthy.replicas("catalog", "api"), *healthy.replicas("catalog", "worker")]
    healthy.stop(catalog)
    began = time.monotonic()
    for _ in range(10):
        load.place_one()

    # The saga gives up: every order is cancelled, none stays pending.
    statuses = wait_settled(folio, load.ledger, timeout=last_deadline + 30)
    assert set(statuses.values()) == {"cancelled"}, statuses
    assert time.monotonic() - began >= last_deadline * 0.9

    healthy.start(catalog)
    healthy.wait_ready(catalog, timeout=READY_TIMEOUT)

    # The catalog answers the ReserveStock it finds waiting, late; the saga records it and compensates.
    def answered_late() -> bool:
        for order_id in load.ledger.orders:
            causes = [e["cause_type"] for e in folio.history(order_id)]
            assert any(c.startswith("folio.catalog.") for c in causes), f"{order_id}: {causes}"
        return True

    eventually(answered_late, timeout=RECOVERY_TIMEOUT, what="the catalog's late replies reach the saga")
    outcome = check(folio, admin, load.ledger, timeout=RECOVERY_TIMEOUT)
    assert outcome.statuses == Counter({"cancelled": 10})
    for book in load.books:
        assert folio.book(book)["stock"] == 20


def test_every_message_delivered_twice_has_single_effects(healthy: Stack, folio: Folio, admin: Admin) -> None:
    duplicator = BusDuplicator(admin)
    duplicator.start()
    try:
        load = Workload(folio, books=3, stock=4, customers=4, seed=4)
        for _ in range(12):
            load.place_one()
        statuses = wait_settled(folio, load.ledger, RECOVERY_TIMEOUT)
        load.finish(statuses, per_second=20).join(60)
        assert not load.errors, load.errors[:3]
        completed = [
            o for o, s in wait_settled(folio, load.ledger, RECOVERY_TIMEOUT).items() if s == "completed"
        ]
        assert completed, "no order completed: nothing to give feedback on"
        buyer = load.owner[completed[0]]
        book = str(folio.order(completed[0])["lines"][0]["book_id"])
        folio.give_feedback(buyer, book, 4, "Read it twice, reviewed it once.")
        eventually(
            lambda: [f for f in folio.feedback(book) if f["verified_purchase"]],
            timeout=60,
            what="verified feedback",
        )
        admin.wait_quiet(RECOVERY_TIMEOUT)
    finally:
        duplicator.stop()

    copied = {t.split(".")[2] for t in duplicator.copies}
    for kind in ("reserve-stock", "stock-reserved", "order-placed", "order-confirmed", "order-completed",
                 "feedback-submitted", "book-created", "notification-sent"):  # fmt: skip
        assert kind in copied, f"no copy of {kind} was injected: {dict(duplicator.copies)}"

    check(folio, admin, load.ledger, timeout=RECOVERY_TIMEOUT)
    for order_id in load.ledger.orders:
        changes = Counter(e["change"] for e in folio.history(order_id))
        assert all(n == 1 for n in changes.values()), f"{order_id}: {changes}"
    feedback = folio.feedback(book)
    assert [f["stars"] for f in feedback] == [4]
    assert folio.book(book)["rating_count"] == 1
    assert folio.book(book)["average_rating"] == 4.0


def test_a_delivery_held_for_its_database_is_work_under_way(
    healthy: Stack, folio: Folio, admin: Admin
) -> None:
    """A consumer holding a delivery until its database answers leaves it in no queue's ready count and in
    no table, for up to a probe's pause after the database is back: the backlog counts it from the workers'
    gauges, so that no check runs before the held message was handled."""
    load = Workload(folio, books=1, stock=5, customers=1, seed=6)
    with refusing_connections(admin, "notification"):
        order_id = load.place_one()

        def notification_holds() -> list[str]:
            # Its database refuses the superuser too: only the workers' gauges can be read meanwhile.
            return [name for name, n in admin.held().items() if n and name.startswith("notification-")]

        eventually(notification_holds, timeout=60, what="the notification worker holds a delivery")
    check(folio, admin, load.ledger, timeout=RECOVERY_TIMEOUT)
    assert folio.order(order_id)["status"] == "confirmed"


def test_poison_in_every_queue_is_parked_and_the_rest_flows(
    healthy: Stack, folio: Folio, admin: Admin
) -> None:
    queues = admin.consumer_queues()
    assert len(queues) == 9, queues
    injected = {queue: poison(admin, queue) for queue in queues}

    load = Workload(folio, books=1, stock=5, customers=1, seed=5)
    order_id = load.place_one()
    folio.wait_status(order_id, {"confirmed"}, 30)
    folio.complete_order(order_id)
    buyer = load.owner[order_id]
    folio.give_feedback(buyer, load.books[0], 5, "Fine, despite the poison.")
    eventually(
        lambda: folio.book(load.books[0])["rating_count"] == 1,
        timeout=60,
        what="the catalog counts the rating",
    )

    for queue, ids in injected.items():

        def both_parked(queue: str = queue, ids: list[str] = ids) -> dict[str, ParkedMessage] | None:
            found = {p.id or "": p for p in admin.parked(queue)}
            return found if set(ids) <= found.keys() else None

        parked = eventually(both_parked, timeout=60, what=f"both poison messages parked in {queue}.dlq")
        invalid_body, no_envelope = (parked[i] for i in ids)
        assert "validation error" in (invalid_body.error or ""), invalid_body
        assert no_envelope.error_type == "InvalidEnvelope", no_envelope
        assert "invalid envelope" in (no_envelope.error or ""), no_envelope
        admin.purge(f"{queue}.dlq")

    check(folio, admin, load.ledger, timeout=RECOVERY_TIMEOUT)
