"""Every saga transition end to end: real messages on the real broker, the catalog played by the test."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from contracts.catalog import StockReserved
from contracts.envelope import new_id
from contracts.ordering import OrderCancelled, OrderCompleted, OrderConfirmed, OrderPlaced
from testkit.quiescence import FinishedDeliveries, relay_drained

pytestmark = pytest.mark.integration


async def test_an_order_the_catalog_reserves_is_confirmed_priced_and_announced(ordering, helpers) -> None:
    book = uuid4()
    order_id = await ordering.place((book, 3))

    await ordering.wait_for_status(order_id, "confirmed", "confirmed")

    response = await ordering.client.get(f"/api/v1/orders/{order_id}", headers=helpers.auth("alice"))
    order = response.json()
    assert order["total"] == {"amount": "37.50", "currency": "EUR"}
    assert order["lines"] == [
        {"book_id": str(book), "quantity": 3, "unit_price": {"amount": "12.50", "currency": "EUR"}}
    ]
    await helpers.eventually(lambda: _has(ordering.spy.of(OrderConfirmed, order_id)), what="OrderConfirmed")
    placed = ordering.spy.of(OrderPlaced, order_id)
    assert [p.customer_id for p in placed] == ["alice"]
    assert placed[0].customer_email == "alice@example.com"
    history = await ordering.history(order_id)
    assert [e["change"] for e in history] == ["placed", "confirmed"]
    assert history[1]["cause_type"] == StockReserved.TYPE
    assert history[1]["cause_id"]


async def test_an_order_the_catalog_rejects_ends_rejected_and_is_announced_as_a_rejection(
    ordering, helpers
) -> None:
    ordering.catalog.decide = helpers.always("reject")
    order_id = await ordering.place()

    await ordering.wait_for_status(order_id, "rejected", "rejected")

    await helpers.eventually(lambda: _has(ordering.spy.of(OrderCancelled, order_id)), what="OrderCancelled")
    cancelled = ordering.spy.of(OrderCancelled, order_id)[0]
    assert cancelled.rejected is True
    assert "out_of_stock" in cancelled.reason
    assert ordering.catalog.releases_for(order_id) == []


async def test_a_silent_catalog_is_asked_until_the_horizon_then_the_order_is_cancelled_and_stock_released(
    ordering, helpers
) -> None:
    ordering.catalog.decide = helpers.always("silent")
    order_id = await ordering.place()

    await ordering.wait_for_status(order_id, "cancelled", "abandoned")

    await helpers.eventually(lambda: _has(ordering.catalog.releases_for(order_id)), what="ReleaseStock")
    assert 2 <= len(ordering.catalog.reserves_for(order_id)) <= helpers.max_attempts
    await helpers.eventually(
        lambda: _ends_with(ordering, order_id, ["gave_up", "stock_released"]), what="the release to be noted"
    )
    changes = await ordering.changes(order_id)
    assert changes[0] == "placed"
    assert "reserve_stock_resent" in changes
    # A ReserveStock the relay published late has its deadline moved rather than resent at once.
    assert set(changes[1:-2]) <= {"reserve_stock_resent", "deadline_moved"}
    await helpers.eventually(lambda: _has(ordering.spy.of(OrderCancelled, order_id)), what="OrderCancelled")
    assert ordering.spy.of(OrderCancelled, order_id)[0].rejected is False
    history = await ordering.history(order_id)
    assert {e["cause_type"] for e in history[1:-1]} == {"deadline"}
    # Each ReserveStock went out under the message id the saga recorded for it.
    sent_ids = await ordering.rows(
        "SELECT message_id FROM outbox WHERE type = 'folio.catalog.reserve-stock.v1' ORDER BY id"
    )
    assert len(sent_ids) == len(ordering.catalog.reserves_for(order_id))


async def test_a_reply_arriving_after_its_deadline_still_confirms_and_the_answer_to_the_resend_is_ignored(
    ordering, helpers
) -> None:
    # The first answer comes well after the first deadline, when ReserveStock was already sent again.
    ordering.catalog.decide = lambda command, attempt: ("reserve", helpers.timeout * 1.5)
    order_id = await ordering.place()

    await ordering.wait_for_status(order_id, "confirmed", "confirmed")
    await helpers.eventually(
        lambda: _changes_are(ordering, order_id, ["placed", "reserve_stock_resent", "confirmed", "ignored"]),
        what="the second answer to be ignored",
    )
    assert len(ordering.spy.of(OrderConfirmed, order_id)) == 1
    assert ordering.catalog.releases_for(order_id) == []


async def test_a_duplicate_reply_is_handled_once_and_a_second_reply_is_recorded_and_ignored(
    ordering, helpers
) -> None:
    order_id = await _placed_unanswered(ordering, helpers)
    reply = ordering.catalog.reserved(order_id, ordering.catalog.reserves_for(order_id)[0].lines)

    message_id = new_id()
    deliveries = FinishedDeliveries()
    for _ in range(3):  # the same delivery, redelivered
        await ordering.catalog.publish(reply, message_id=message_id)
    await ordering.wait_for_status(order_id, "confirmed", "confirmed")
    await ordering.catalog.publish(reply)  # the same answer again, as a new message
    await helpers.eventually(
        lambda: _changes_are(ordering, order_id, ["placed", "confirmed", "ignored"]), what="one ignored reply"
    )
    # Every reply finished with and every OrderConfirmed published: only now does "one" mean one.
    await helpers.eventually(lambda: deliveries.at_least(4), what="the four replies finished")
    await helpers.eventually(lambda: relay_drained(ordering.engine), what="the relay drained")
    assert await _changes_without_moves(ordering, order_id) == ["placed", "confirmed", "ignored"]
    assert len(ordering.spy.of(OrderConfirmed, order_id)) == 1


async def test_a_reply_reaching_a_terminal_saga_is_recorded_and_ignored(ordering, helpers) -> None:
    ordering.catalog.decide = helpers.always("reject")
    order_id = await ordering.place()
    await ordering.wait_for_status(order_id, "rejected", "rejected")

    late = ordering.catalog.reserved(order_id, ordering.catalog.reserves_for(order_id)[0].lines)
    await ordering.catalog.publish(late)

    await helpers.eventually(
        lambda: _changes_are(ordering, order_id, ["placed", "rejected", "ignored"]),
        what="the reply to be ignored",
    )
    assert await ordering.status(order_id) == ("rejected", "rejected")
    assert ordering.spy.of(OrderConfirmed, order_id) == []


async def test_a_late_reservation_after_giving_up_is_released_again(ordering, helpers) -> None:
    ordering.catalog.decide = helpers.always("silent")
    order_id = await ordering.place()
    await ordering.wait_for_status(order_id, "cancelled", "abandoned")
    await helpers.eventually(
        lambda: _has(ordering.catalog.releases_for(order_id)), what="the first ReleaseStock"
    )
    # The catalog's answer to that release is handled before the late reservation arrives: both are
    # consumed from different queues, so the history's order would otherwise be a race.
    await helpers.eventually(
        lambda: _ends_with(ordering, order_id, ["gave_up", "stock_released"]), what="the first release noted"
    )

    lines = ordering.catalog.reserves_for(order_id)[0].lines
    await ordering.catalog.publish(ordering.catalog.reserved(order_id, lines))

    await helpers.eventually(
        lambda: _count(ordering.catalog.releases_for(order_id), 2), what="a second ReleaseStock"
    )
    expected = ["gave_up", "stock_released", "late_reservation_released", "stock_released"]
    await helpers.eventually(lambda: _ends_with(ordering, order_id, expected), what="the late release noted")
    assert await ordering.status(order_id) == ("cancelled", "abandoned")
    assert ordering.spy.of(OrderConfirmed, order_id) == []


@pytest.mark.parametrize(
    ("answer", "status", "released"), [("reserve", "cancelled", True), ("reject", "rejected", False)]
)
async def test_a_cancel_while_awaiting_stock_is_remembered_and_applied_when_the_catalog_answers(
    ordering, helpers, answer: str, status: str, released: bool
) -> None:
    order_id = await _placed_unanswered(ordering, helpers)

    response = await ordering.client.post(f"/api/v1/orders/{order_id}/cancel", headers=helpers.auth("alice"))
    assert response.status_code == 202, response.text
    assert (response.json()["status"], response.json()["cancel_requested"]) == ("pending", True)
    assert await ordering.status(order_id) == ("pending", "cancel_requested_awaiting_stock")

    lines = ordering.catalog.reserves_for(order_id)[0].lines
    reply = (
        ordering.catalog.reserved(order_id, lines)
        if answer == "reserve"
        else ordering.catalog.rejected(order_id, lines)
    )
    await ordering.catalog.publish(reply)

    await ordering.wait_for_status(order_id, status)
    await helpers.eventually(lambda: _has(ordering.spy.of(OrderCancelled, order_id)), what="OrderCancelled")
    assert bool(ordering.catalog.releases_for(order_id)) is released
    assert ordering.spy.of(OrderConfirmed, order_id) == []


async def test_cancelling_a_confirmed_order_releases_its_stock_and_then_cancels_it(ordering, helpers) -> None:
    order_id = await ordering.place()
    await ordering.wait_for_status(order_id, "confirmed")

    response = await ordering.client.post(f"/api/v1/orders/{order_id}/cancel", headers=helpers.auth("alice"))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "cancelling"
    assert response.headers["Location"] == f"/api/v1/orders/{order_id}"

    await ordering.wait_for_status(order_id, "cancelled", "cancelled")
    assert len(ordering.catalog.releases_for(order_id)) == 1
    assert await _changes_without_moves(ordering, order_id) == [
        "placed",
        "confirmed",
        "cancelling",
        "cancelled",
    ]
    await helpers.eventually(lambda: _has(ordering.spy.of(OrderCancelled, order_id)), what="OrderCancelled")
    assert ordering.spy.of(OrderCancelled, order_id)[0].rejected is False


async def test_an_admin_completes_a_confirmed_order_which_then_cannot_be_cancelled(ordering, helpers) -> None:
    book = uuid4()
    order_id = await ordering.place((book, 1))
    await ordering.wait_for_status(order_id, "confirmed")

    response = await ordering.client.post(
        f"/api/v1/orders/{order_id}/complete", headers=helpers.auth("root", admin=True)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    await helpers.eventually(lambda: _has(ordering.spy.of(OrderCompleted, order_id)), what="OrderCompleted")
    completed = ordering.spy.of(OrderCompleted, order_id)[0]
    assert completed.book_ids == [book]
    assert str(completed.total) == "12.50 EUR"

    refused = await ordering.client.post(f"/api/v1/orders/{order_id}/cancel", headers=helpers.auth("alice"))
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["order_status"] == "completed"
    assert await ordering.status(order_id) == ("completed", "completed")
    assert ordering.catalog.releases_for(order_id) == []


async def _has(items: list[object]) -> bool:
    return bool(items)


async def _count(items: list[object], n: int) -> bool:
    return len(items) >= n


async def _placed_unanswered(ordering, helpers) -> UUID:
    """An order whose ReserveStock the catalog received and does not answer (yet)."""
    ordering.catalog.decide = helpers.always("silent")
    order_id: UUID = await ordering.place()
    await helpers.eventually(lambda: _has(ordering.catalog.reserves_for(order_id)), what="ReserveStock")
    return order_id


async def _ends_with(ordering, order_id, expected: list[str]) -> bool:
    return (await ordering.changes(order_id))[-len(expected) :] == expected


async def _changes_without_moves(ordering, order_id) -> list[str]:
    # A request the relay published late on a loaded machine has its deadline moved once more.
    return [c for c in await ordering.changes(order_id) if c != "deadline_moved"]


async def _changes_are(ordering, order_id, expected: list[str]) -> bool:
    return await _changes_without_moves(ordering, order_id) == expected


async def test_a_release_the_catalog_does_not_answer_is_resent_until_it_does(ordering, helpers) -> None:
    order_id = await ordering.place()
    await ordering.wait_for_status(order_id, "confirmed")
    ordering.catalog.answer_releases = False

    response = await ordering.client.post(f"/api/v1/orders/{order_id}/cancel", headers=helpers.auth("alice"))
    assert response.status_code == 202, response.text
    # Far past the give-up horizon of a reservation: releasing never gives up.
    await helpers.eventually(
        lambda: _count(ordering.catalog.releases_for(order_id), 4), what="ReleaseStock sent again and again"
    )
    assert await ordering.status(order_id) == ("cancelling", "releasing")

    ordering.catalog.answer_releases = True
    await ordering.wait_for_status(order_id, "cancelled", "cancelled")
    changes = await ordering.changes(order_id)
    assert changes[:3] == ["placed", "confirmed", "cancelling"]
    assert "release_stock_resent" in changes
    assert changes[-1] == "cancelled"


async def test_a_cancel_while_the_catalog_is_slower_than_a_deadline_ends_cancelled_not_abandoned(
    ordering, helpers
) -> None:
    # The catalog frozen past the request's interval (issue 9): the customer's cancel must still end as a
    # cancel, its release chased until answered, whatever the catalog then says to the old ReserveStock.
    order_id = await _placed_unanswered(ordering, helpers)
    response = await ordering.client.post(f"/api/v1/orders/{order_id}/cancel", headers=helpers.auth("alice"))
    assert response.status_code == 202, response.text

    await ordering.wait_for_status(order_id, "cancelled", "cancelled")
    assert len(ordering.catalog.reserves_for(order_id)) == 1
    assert ordering.catalog.releases_for(order_id)
    await helpers.eventually(lambda: _has(ordering.spy.of(OrderCancelled, order_id)), what="OrderCancelled")

    # The catalog wakes up and answers the ReserveStock it held: already released, nothing changes.
    lines = ordering.catalog.reserves_for(order_id)[0].lines
    await ordering.catalog.publish(ordering.catalog.reserved(order_id, lines))
    await helpers.eventually(lambda: _ends_with(ordering, order_id, ["ignored"]), what="the late reply")
    assert await ordering.status(order_id) == ("cancelled", "cancelled")
    assert ordering.spy.of(OrderConfirmed, order_id) == []
