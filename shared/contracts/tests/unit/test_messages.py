import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts.base import Message
from contracts.catalog import BookCreated, ReserveStock, StockReservationRejected, StockReserved
from contracts.examples import BOOK, NOW, ORDER, every_message, example
from contracts.money import Money
from contracts.ordering import OrderConfirmed, OrderPlaced
from contracts.rating import FeedbackSubmitted
from contracts.registry import ALL_MESSAGES

EXAMPLES = every_message()
ids = [message.TYPE for message in EXAMPLES]
TYPE_RE = re.compile(r"^folio\.(?P<owner>[a-z]+)\.[a-z]+(-[a-z]+)*\.v[1-9][0-9]*$")


def data_of(model: type[Message]) -> dict[str, Any]:
    return example(model).to_data()


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_every_message_has_an_example(model: type[Message]) -> None:
    assert type(example(model)) is model


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_type_names_its_owner_and_version(model: type[Message]) -> None:
    match = TYPE_RE.match(model.TYPE)
    assert match, model.TYPE
    assert match["owner"] == model.OWNER
    assert model.routing_key() == model.TYPE


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_subject_is_a_field_of_the_message(model: type[Message]) -> None:
    assert model.SUBJECT in model.model_fields


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_no_field_shadows_a_message_attribute(model: type[Message]) -> None:
    assert not set(model.model_fields) & set(dir(Message))


def test_subjects_are_the_book_order_or_feedbacks_book() -> None:
    subjects = {message.TYPE: message.subject_value() for message in EXAMPLES}
    assert subjects["folio.catalog.book-created.v1"] == str(BOOK)
    assert subjects["folio.rating.feedback-submitted.v1"] == str(BOOK)
    assert subjects["folio.catalog.stock-reserved.v1"] == str(ORDER)
    assert subjects["folio.ordering.order-placed.v1"] == str(ORDER)
    assert subjects["folio.notification.notification-sent.v1"] == str(ORDER)


def test_commands_go_to_catalogs_command_exchange_and_events_to_their_owners_topic() -> None:
    assert ReserveStock.KIND == "command"
    assert ReserveStock.exchange() == "catalog.commands"
    assert BookCreated.exchange() == "catalog.events"
    assert OrderPlaced.exchange() == "ordering.events"


@pytest.mark.parametrize("message", EXAMPLES, ids=ids)
def test_every_message_round_trips_through_its_wire_form(message: Message) -> None:
    assert type(message).from_wire(message.to_json()) == message


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_producers_refuse_an_unknown_field(model: type[Message]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**data_of(model), "surprise": 1})


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_consumers_ignore_an_unknown_field(model: type[Message]) -> None:
    received = model.from_wire({**data_of(model), "surprise": 1})
    assert received == example(model)


def test_producers_refuse_an_unknown_field_in_a_nested_model() -> None:
    data = data_of(StockReserved)
    data["lines"][0]["discount"] = "1.00"
    data["total"]["rate"] = 1
    with pytest.raises(ValidationError) as error:
        StockReserved.model_validate(data)
    locations = {err["loc"] for err in error.value.errors()}
    assert locations == {("lines", 0, "discount"), ("total", "rate")}


def test_consumers_ignore_an_unknown_field_in_a_nested_model_from_bytes_and_dicts() -> None:
    data = data_of(StockReserved)
    data["lines"][0]["discount"] = "1.00"
    data["lines"][0]["unit_price"]["rate"] = 1
    data["total"]["rate"] = 1

    assert StockReserved.from_wire(data) == example(StockReserved)
    assert StockReserved.from_wire(json.dumps(data).encode()) == example(StockReserved)


def test_consumers_still_refuse_a_missing_field() -> None:
    data = data_of(OrderPlaced)
    del data["customer_email"]
    with pytest.raises(ValidationError):
        OrderPlaced.from_wire(data)


def test_messages_are_immutable() -> None:
    message = example(OrderPlaced)
    with pytest.raises(ValidationError):
        message.order_id = BOOK  # type: ignore[misc]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        OrderPlaced.model_validate({**data_of(OrderPlaced), "placed_at": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError, match="timezone"):
        OrderPlaced.from_wire({**data_of(OrderPlaced), "placed_at": "2026-01-01T10:00:00"})


def test_times_with_an_offset_are_normalised_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    message = OrderPlaced.model_validate({**data_of(OrderPlaced), "placed_at": NOW.astimezone(paris)})
    assert message.placed_at == NOW
    assert message.placed_at.utcoffset() == timedelta(0)
    assert message.to_data()["placed_at"] == "2026-11-23T10:00:00Z"


def test_ids_are_uuids() -> None:
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate({**data_of(OrderPlaced), "order_id": "order-1"})
    assert isinstance(example(OrderPlaced).order_id, UUID)


@pytest.mark.parametrize("isbn", ["978030640615", "97803064061570", "978-0306406157", "97803064061\u06657"])
def test_isbn_is_thirteen_ascii_digits(isbn: str) -> None:
    with pytest.raises(ValidationError):
        BookCreated.model_validate({**data_of(BookCreated), "isbn": isbn})


@pytest.mark.parametrize("email", ["ada", "ada@", "@example.com", "a da@example.com", "a@b@c"])
def test_customer_email_must_look_like_an_address(email: str) -> None:
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate({**data_of(OrderPlaced), "customer_email": email})


def test_a_local_address_is_an_acceptable_email() -> None:
    assert OrderPlaced.model_validate({**data_of(OrderPlaced), "customer_email": "admin@localhost"})


def test_book_category_may_be_absent() -> None:
    data = data_of(BookCreated)
    del data["category"]
    assert BookCreated.model_validate(data).category is None


def test_reserve_stock_needs_at_least_one_line() -> None:
    with pytest.raises(ValidationError):
        ReserveStock(order_id=ORDER, lines=[])


def test_reserve_stock_refuses_the_same_book_on_two_lines() -> None:
    line = {"book_id": BOOK, "quantity": 1}
    with pytest.raises(ValidationError, match="more than one line"):
        ReserveStock.model_validate({"order_id": ORDER, "lines": [line, line]})


def test_line_quantity_is_at_least_one() -> None:
    with pytest.raises(ValidationError):
        ReserveStock.model_validate({"order_id": ORDER, "lines": [{"book_id": BOOK, "quantity": 0}]})


def test_rejection_needs_a_reason_from_the_known_list() -> None:
    reason = {"book_id": BOOK, "reason": "too_expensive", "requested": 1, "available": 0}
    with pytest.raises(ValidationError):
        StockReservationRejected.model_validate({"order_id": ORDER, "reasons": [reason]})
    with pytest.raises(ValidationError):
        StockReservationRejected.model_validate({"order_id": ORDER, "reasons": []})


@pytest.mark.parametrize("model", [StockReserved, OrderConfirmed])
def test_a_priced_total_must_be_the_sum_of_its_lines(model: type[Message]) -> None:
    with pytest.raises(ValidationError, match="not the sum of the lines"):
        model.model_validate({**data_of(model), "total": {"amount": "29.99", "currency": "EUR"}})


@pytest.mark.parametrize("model", [StockReserved, OrderConfirmed])
def test_a_priced_total_must_be_in_the_lines_currency(model: type[Message]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**data_of(model), "total": {"amount": "30.00", "currency": "USD"}})


def test_a_priced_line_knows_its_subtotal() -> None:
    line = example(StockReserved).lines[0]
    assert line.subtotal == Money.of("25.00", "EUR")


@pytest.mark.parametrize("stars", [0, 6])
def test_feedback_stars_are_one_to_five(stars: int) -> None:
    with pytest.raises(ValidationError):
        FeedbackSubmitted.model_validate({**data_of(FeedbackSubmitted), "stars": stars})


def test_feedback_comment_is_at_most_2000_characters_and_optional() -> None:
    with pytest.raises(ValidationError):
        FeedbackSubmitted.model_validate({**data_of(FeedbackSubmitted), "comment": "x" * 2001})
    data = data_of(FeedbackSubmitted)
    del data["comment"]
    assert FeedbackSubmitted.model_validate(data).comment is None


def test_feedback_version_is_required_and_positive() -> None:
    data = data_of(FeedbackSubmitted)
    with pytest.raises(ValidationError):
        FeedbackSubmitted.model_validate({**data, "version": 0})
    del data["version"]
    with pytest.raises(ValidationError):
        FeedbackSubmitted.model_validate(data)


def test_a_type_knows_its_version_and_name() -> None:
    assert FeedbackSubmitted.type_version() == 1
    assert FeedbackSubmitted.type_name() == "feedback-submitted"
