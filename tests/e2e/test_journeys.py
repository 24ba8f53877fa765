"""The customer journeys over HTTP: the four ways an order ends, feedback that becomes a verified purchase
and moves the catalog's average, and one e-mail per order event."""

from __future__ import annotations

from collections import Counter

import pytest

from devstack.admin import Admin
from devstack.client import Customer, Folio, Json, eventually
from devstack.demo import Demo
from devstack.invariants import Ledger, check

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def shelf(folio: Folio) -> dict[str, Json]:
    author = folio.create_author("Octavia E. Butler")
    category = folio.create_category(f"Journeys {Customer.named('x').subject}")
    return {
        "kindred": folio.create_book(
            "Kindred", price="11.00", stock=4, author_ids=[author], category_id=category
        ),
        "dawn": folio.create_book("Dawn", price="7.25", stock=2, author_ids=[author], category_id=category),
    }


@pytest.fixture(scope="module")
def ledger(shelf: dict[str, Json]) -> Ledger:
    books = Ledger()
    for book in shelf.values():
        books.add_book(book)
    return books


def stock(folio: Folio, book: Json) -> int:
    return int(folio.book(book["id"])["stock"])


def wait_stock(folio: Folio, book: Json, expected: int) -> None:
    eventually(
        lambda: stock(folio, book) == expected, timeout=TIMEOUT, what=f"{book['title']} stock {expected}"
    )


def changes(folio: Folio, order_id: str) -> list[str]:
    return [entry["change"] for entry in folio.history(order_id)]


def test_order_confirmed_priced_by_the_catalog(folio: Folio, shelf: dict[str, Json], ledger: Ledger) -> None:
    kindred = shelf["kindred"]
    order_id = folio.place_order(Customer.named("Ada"), {kindred["id"]: 2})
    ledger.orders.append(order_id)

    order = folio.wait_status(order_id, {"confirmed"}, TIMEOUT)

    assert order["total"] == {"amount": "22.00", "currency": "EUR"}
    assert [line["unit_price"] for line in order["lines"]] == [{"amount": "11.00", "currency": "EUR"}]
    wait_stock(folio, kindred, 2)
    assert changes(folio, order_id) == ["placed", "confirmed"]


def test_order_rejected_for_stock_holds_nothing(folio: Folio, shelf: dict[str, Json], ledger: Ledger) -> None:
    dawn, kindred = shelf["dawn"], shelf["kindred"]
    before = stock(folio, kindred)
    order_id = folio.place_order(Customer.named("Ben"), {kindred["id"]: 1, dawn["id"]: 3})
    ledger.orders.append(order_id)

    order = folio.wait_status(order_id, {"rejected"}, TIMEOUT)

    assert "out_of_stock" in (order["reason"] or "")
    assert order["total"] is None
    assert stock(folio, dawn) == 2
    assert stock(folio, kindred) == before, "all lines or none: the line in stock is not held either"


def test_order_cancelled_gives_the_stock_back(folio: Folio, shelf: dict[str, Json], ledger: Ledger) -> None:
    dawn = shelf["dawn"]
    customer = Customer.named("Cleo")
    order_id = folio.place_order(customer, {dawn["id"]: 2})
    ledger.orders.append(order_id)
    folio.wait_status(order_id, {"confirmed"}, TIMEOUT)
    wait_stock(folio, dawn, 0)

    folio.cancel_order(customer, order_id)

    order = folio.wait_status(order_id, {"cancelled"}, TIMEOUT)
    assert order["reason"]
    wait_stock(folio, dawn, 2)
    assert changes(folio, order_id) == ["placed", "confirmed", "cancelling", "cancelled"]


def test_order_completed_then_verified_feedback_moves_the_average(
    folio: Folio, shelf: dict[str, Json], ledger: Ledger
) -> None:
    kindred = shelf["kindred"]
    buyer, browser = Customer.named("Dora"), Customer.named("Eli")
    order_id = folio.place_order(buyer, {kindred["id"]: 1})
    ledger.orders.append(order_id)
    folio.wait_status(order_id, {"confirmed"}, TIMEOUT)

    assert folio.complete_order(order_id)["status"] == "completed"

    folio.give_feedback(browser, kindred["id"], 1, "Too grim for me.")
    eventually(
        lambda: folio.book(kindred["id"])["rating_count"] == 1,
        timeout=TIMEOUT,
        what="catalog counts 1 rating",
    )
    assert folio.book(kindred["id"])["average_rating"] == 1.0

    folio.give_feedback(buyer, kindred["id"], 5, "Unforgettable.")

    verified = eventually(
        lambda: [f for f in folio.feedback(kindred["id"]) if f["verified_purchase"]],
        timeout=TIMEOUT,
        what="the buyer's feedback is a verified purchase",
    )
    assert [f["stars"] for f in verified] == [5]
    assert [f["verified_purchase"] for f in folio.feedback(kindred["id"]) if f["stars"] == 1] == [False]
    book = eventually(
        lambda: (b := folio.book(kindred["id"]))["rating_count"] == 2 and b,
        timeout=TIMEOUT,
        what="the catalog counts 2 ratings",
    )
    assert book["average_rating"] == 3.0
    summary = folio.rating_summary(kindred["id"])
    assert summary["count"] == 2


def test_one_email_per_order_event(folio: Folio, admin: Admin, ledger: Ledger) -> None:
    """Runs after the journeys above (file order): their orders, their e-mails, and the invariants."""
    assert len(ledger.orders) == 4, "run the whole module: this test checks the journeys' e-mails"

    outcome = check(folio, admin, ledger, timeout=60)

    assert outcome.statuses == Counter({"confirmed": 1, "rejected": 1, "cancelled": 1, "completed": 1})
    # confirmed 1 + rejected 1 + cancelled 2 (confirmed, cancelled) + completed 2 (confirmed, completed)
    assert outcome.emails == 6
    mails = {m["notification_id"]: m for m in folio.mails()}
    for order_id in ledger.orders:
        order = folio.order(order_id)
        for note in folio.notifications(order_id):
            mail = mails[note["id"]]
            assert mail["rcpt_tos"] == [order["customer_email"]]
            assert mail["subject"] == note["subject"]


def test_the_demo_runs_against_the_stack(folio: Folio) -> None:
    """`make demo` is this scenario against the `make up` stack."""
    Demo(folio, timeout=TIMEOUT).main()
