from datetime import UTC, datetime
from uuid import uuid4

import pytest

from rating.domain.errors import InvalidCustomer
from rating.domain.purchases import VerifiedPurchase

ORDER = uuid4()
AT = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_completed_order_vouches_once_for_each_distinct_book_in_book_order() -> None:
    first, second = sorted([uuid4(), uuid4()])
    purchases = VerifiedPurchase.of_order(
        order_id=ORDER, customer_id="alice", book_ids=[second, first, second], completed_at=AT
    )
    assert [p.book_id for p in purchases] == [first, second]
    assert {(p.customer_id, p.order_id, p.purchased_at) for p in purchases} == {("alice", ORDER, AT)}


def test_an_order_without_books_vouches_for_nothing() -> None:
    assert VerifiedPurchase.of_order(order_id=ORDER, customer_id="alice", book_ids=[], completed_at=AT) == ()


def test_an_order_needs_a_customer() -> None:
    with pytest.raises(InvalidCustomer):
        VerifiedPurchase.of_order(order_id=ORDER, customer_id="", book_ids=[uuid4()], completed_at=AT)
