"""What must hold once a stack has recovered from anything: the end-to-end tests' invariants.

- every order placed is confirmed or terminal, and the catalog agrees (a held reservation exactly for the
  confirmed and completed orders): no message between them was lost;
- every order event produced exactly one notification and at most one e-mail, and every notification sent
  arrived in the mail sink: no e-mail lost or doubled;
- for every book, stock plus held reservations equals the initial stock plus restocks;
- nothing is parked.

`check_recovered` adds what a drill (a long fault, `tests/e2e/test_long_faults.py`) must also end with: no
e-mail of unknown fate; no order the saga gave up on (a cancel while the catalog is slow releases and
cancels, never abandons); each order's changes (but resends and ignored late answers) and each of its
e-mails (by order and kind, as the mail sink received them) exactly once; and every message published since
the drill began handled by every service that subscribes to it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from devstack.admin import Admin
from devstack.client import SETTLED, Folio, Json, eventually

TEMPLATES = {
    "confirmed": "order-confirmed",
    "cancelled": "order-cancelled",
    "rejected": "order-cancelled",
    "completed": "order-completed",
}


# Saga steps a long fault may rightly repeat: a request resent on its ladder, a deadline moved while the
# request waits in the outbox, a late or duplicate answer noted and ignored. Every other change of an order
# (placed, confirmed, cancelled, ...) happens once.
REPEATABLE = frozenset(
    {
        "deadline_moved",
        "reserve_stock_resent",
        "release_stock_resent",
        "ignored",
        "cancel_repeated",
        "stock_released",
        "late_reservation_released",
    }
)


@dataclass
class Ledger:
    """What a test did: the stock it put on the shelves and the orders it placed."""

    stock: dict[str, int] = field(default_factory=dict)
    orders: list[str] = field(default_factory=list)

    def add_book(self, book: Json) -> str:
        book_id = str(book["id"])
        self.stock[book_id] = int(book["stock"])
        return book_id

    def restocked(self, book_id: str, quantity: int) -> None:
        self.stock[book_id] += quantity


@dataclass
class Outcome:
    statuses: Counter[str]
    emails: int
    # Notifications a killed worker left mid hand-off (reported NotificationFailed, never retried), and how
    # many of those e-mails the mail server had in fact accepted.
    uncertain: int
    uncertain_arrived: int

    def __str__(self) -> str:
        return (
            f"orders {dict(self.statuses)}, e-mails {self.emails}, uncertain {self.uncertain}"
            f" (of which arrived {self.uncertain_arrived})"
        )


def expected_templates(history: list[Json], status: str) -> list[str]:
    """The e-mails an order's life asks for: one per OrderConfirmed, OrderCancelled, OrderCompleted."""
    templates = []
    if status in ("confirmed", "completed", "cancelled") and any(e["status"] == "confirmed" for e in history):
        templates.append(TEMPLATES["confirmed"])
    if status != "confirmed":
        templates.append(TEMPLATES[status])
    return sorted(templates)


def wait_settled(folio: Folio, ledger: Ledger, timeout: float) -> dict[str, str]:
    """Every order of the ledger confirmed or terminal; returns their statuses."""
    wanted = set(ledger.orders)

    def probe() -> dict[str, str] | None:
        statuses = {
            str(o["id"]): str(o["status"])
            for o in folio.pages("ordering", "/orders")
            if str(o["id"]) in wanted
        }
        missing = wanted - statuses.keys()
        assert not missing, f"orders not listed: {sorted(missing)[:5]}"
        unsettled = Counter(s for s in statuses.values() if s not in SETTLED)
        assert not unsettled, f"orders still on their way: {dict(unsettled)}"
        return statuses

    return eventually(probe, timeout=timeout, what=f"{len(wanted)} orders confirmed or terminal")


def check(
    folio: Folio, admin: Admin, ledger: Ledger, *, timeout: float = 90, uncertain_allowed: int = 0
) -> Outcome:
    """Wait for the stack to settle and go quiet, then assert every invariant for ``ledger``."""
    statuses = wait_settled(folio, ledger, timeout)
    # Sagas of this ledger's orders only: one stranded by an earlier test is that test's failure.
    admin.wait_quiet(timeout, orders=ledger.orders)

    # The catalog and ordering agree on every order.
    reservations = admin.reservations()
    for order_id, status in statuses.items():
        held = reservations.get(order_id) == "held"
        if status in ("confirmed", "completed"):
            assert held, f"order {order_id} is {status} but the catalog holds {reservations.get(order_id)}"
        else:
            assert not held, f"order {order_id} is {status} but the catalog still holds its stock"

    # Stock is conserved.
    held_stock = admin.held_stock()
    for book_id, shelved in ledger.stock.items():
        stock = int(folio.book(book_id)["stock"])
        holding = held_stock.get(book_id, 0)
        assert stock + holding == shelved, f"book {book_id}: stock {stock} + held {holding} != {shelved}"

    # One notification per order event, one e-mail per notification.
    notes: dict[str, list[Json]] = {}
    for note in folio.notifications():
        notes.setdefault(str(note["order_id"]), []).append(note)
    received = folio.mails()
    mails = Counter(str(m["notification_id"]) for m in received)
    sources = Counter(str(m["source_message_id"]) for m in received)
    doubled = {key: n for key, n in (mails + sources).items() if n > 1}
    assert not doubled, f"e-mails received more than once: {doubled}"
    uncertain = arrived = 0
    for order_id, status in statuses.items():
        mine = notes.get(order_id, [])
        expected = expected_templates(folio.history(order_id), status)
        got = sorted(str(n["template"]) for n in mine)
        assert got == expected, f"order {order_id} ({status}): notifications {got}, expected {expected}"
        for note in mine:
            if note["status"] == "uncertain":
                uncertain += 1
                arrived += mails[str(note["id"])]
                continue
            assert note["status"] == "sent", f"notification {note['id']} is {note['status']}"
            assert mails[str(note["id"])] == 1, f"notification {note['id']} sent but not in the mail sink"
    assert uncertain <= uncertain_allowed, (
        f"{uncertain} e-mails of unknown fate (allowed {uncertain_allowed})"
    )

    # Nothing parked.
    parking = [name + ".dlq" for name in admin.consumer_queues()]
    parked = {name: n for name, n in admin.depths(parking).items() if n}
    assert not parked, f"messages parked: {parked}"
    return Outcome(
        statuses=Counter(statuses.values()),
        emails=sum(mails[str(n["id"])] for order_id in statuses for n in notes.get(order_id, [])),
        uncertain=uncertain,
        uncertain_arrived=arrived,
    )


def check_recovered(
    folio: Folio, admin: Admin, ledger: Ledger, *, since: datetime, timeout: float = 90
) -> Outcome:
    """:func:`check`, and what a drill adds (see the module's docstring)."""
    outcome = check(folio, admin, ledger, timeout=timeout)

    states = admin.saga_states(ledger.orders)
    abandoned = sorted(order for order, state in states.items() if state == "abandoned")
    assert not abandoned, f"{len(abandoned)} orders the saga gave up on: {abandoned[:5]}"

    wanted = set(ledger.orders)
    statuses = {
        str(o["id"]): str(o["status"]) for o in folio.pages("ordering", "/orders") if str(o["id"]) in wanted
    }
    kinds = {
        str(n["id"]): (str(n["order_id"]), str(n["template"]))
        for n in folio.notifications()
        if str(n["order_id"]) in wanted
    }
    received = Counter(
        kinds[str(m["notification_id"])] for m in folio.mails() if m["notification_id"] in kinds
    )
    for order_id in ledger.orders:
        history = folio.history(order_id)
        changes = Counter(str(entry["change"]) for entry in history if entry["change"] not in REPEATABLE)
        doubled = {change: n for change, n in changes.items() if n > 1}
        assert not doubled, f"order {order_id} changed twice: {doubled}"
        for template in expected_templates(history, statuses[order_id]):
            got = received[(order_id, template)]
            assert got == 1, f"order {order_id}: {got} e-mails {template}, expected exactly one"

    undelivered = admin.undelivered(since)
    assert not undelivered, f"{len(undelivered)} messages never handled: {undelivered[:5]}"
    return outcome
