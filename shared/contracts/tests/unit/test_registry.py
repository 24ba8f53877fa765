from typing import Any, ClassVar
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts import topology
from contracts.base import Event
from contracts.catalog import BookCreated, BookDeleted
from contracts.examples import BOOK, NOW, every_message, example
from contracts.registry import (
    ALL_MESSAGES,
    REGISTRY,
    InvalidMessage,
    MessageRegistry,
    UnknownMessageType,
    message_class,
    parse,
)
from contracts.upcasting import Upcasters, UpcastFailed
from contracts.values import UtcDateTime


class BookDeletedV2(Event):
    """A test-only v2: adds why the book was deleted."""

    TYPE: ClassVar[str] = "folio.catalog.book-deleted.v2"
    OWNER: ClassVar[str] = "catalog"
    SUBJECT: ClassVar[str] = "book_id"

    book_id: UUID
    why: str
    occurred_at: UtcDateTime


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "why": "unknown (v1)"}


def registry_with_v2() -> MessageRegistry:
    upcasters = Upcasters()
    upcasters.register(BookDeleted.TYPE, BookDeletedV2.TYPE, v1_to_v2)
    return MessageRegistry((*ALL_MESSAGES, BookDeletedV2), upcasters)


def test_every_message_is_found_by_its_type() -> None:
    for model in ALL_MESSAGES:
        assert message_class(model.TYPE) is model


def test_an_unknown_type_is_named_in_the_error() -> None:
    with pytest.raises(UnknownMessageType, match=r"'folio\.catalog\.nope\.v1'.*known types: folio\."):
        message_class("folio.catalog.nope.v1")


def test_unknown_types_and_bad_bodies_are_value_errors_so_consumers_park_them() -> None:
    assert issubclass(UnknownMessageType, InvalidMessage)
    assert issubclass(InvalidMessage, ValueError)
    assert issubclass(ValidationError, ValueError)


def test_a_type_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        MessageRegistry((BookCreated, BookCreated))


@pytest.mark.parametrize("message", every_message(), ids=lambda m: m.TYPE)
def test_parse_reads_every_message_from_bytes(message: Any) -> None:
    assert parse(message.TYPE, message.to_json()) == message


def test_parse_reads_a_dict_and_ignores_unknown_fields() -> None:
    data = {**example(BookCreated).to_data(), "added_later": True}
    assert parse(BookCreated.TYPE, data) == example(BookCreated)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", "null"])
def test_parse_refuses_a_body_that_is_not_a_json_object(body: bytes | str) -> None:
    with pytest.raises(InvalidMessage):
        parse(BookCreated.TYPE, body)


def test_parse_refuses_an_invalid_body_with_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse(BookCreated.TYPE, b'{"book_id": "nope"}')


def test_parse_upcasts_an_old_version_before_validating() -> None:
    old = BookDeleted(book_id=BOOK, occurred_at=NOW)
    parsed = registry_with_v2().parse(BookDeleted.TYPE, old.to_json())
    assert parsed == BookDeletedV2(book_id=BOOK, why="unknown (v1)", occurred_at=NOW)


def test_parse_reads_the_new_version_directly() -> None:
    new = BookDeletedV2(book_id=BOOK, why="withdrawn", occurred_at=NOW)
    assert registry_with_v2().parse(BookDeletedV2.TYPE, new.to_json()) == new


def test_parse_reports_a_failing_upcaster_as_invalid() -> None:
    upcasters = Upcasters()
    upcasters.register(BookDeleted.TYPE, BookDeletedV2.TYPE, lambda data: {**data, "why": data["missing"]})
    registry = MessageRegistry((*ALL_MESSAGES, BookDeletedV2), upcasters)
    with pytest.raises(UpcastFailed):
        registry.parse(BookDeleted.TYPE, {"book_id": str(BOOK), "occurred_at": "2026-01-01T00:00:00Z"})


def test_an_isolated_registry_leaves_the_default_one_alone() -> None:
    registry_with_v2()
    assert BookDeletedV2.TYPE not in REGISTRY.types
    assert REGISTRY.parse(BookDeleted.TYPE, example(BookDeleted).to_json()) == example(BookDeleted)


def test_every_type_in_the_topology_has_a_model() -> None:
    listed = {t for types in topology.SUBSCRIPTIONS.values() for t in types}
    listed |= {t for types in topology.SENDS_COMMANDS.values() for t in types}
    assert listed - set(REGISTRY.types) == set()


def test_every_command_in_the_topology_is_a_command_owned_by_its_receiver() -> None:
    for service, types in topology.SUBSCRIPTIONS.items():
        for message_type in types:
            model = message_class(message_type)
            if model.KIND == "command":
                assert service == model.OWNER
    for types in topology.SENDS_COMMANDS.values():
        assert all(message_class(t).KIND == "command" for t in types)


def test_every_event_is_owned_by_one_of_the_services() -> None:
    assert {model.OWNER for model in ALL_MESSAGES} == set(topology.SERVICES)
