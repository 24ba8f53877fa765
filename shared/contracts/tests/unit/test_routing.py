"""``contracts.routing.address``: the one answer to which exchange and routing key a message travels with."""

from __future__ import annotations

import pytest

from contracts import ALL_MESSAGES, Message, UnknownMessageType, topology
from contracts.catalog import BookCreated, ReleaseStock, ReserveStock
from contracts.ordering import OrderPlaced
from contracts.routing import Address, address


def test_an_event_goes_to_its_owners_topic_exchange_by_its_type() -> None:
    assert address(BookCreated) == Address("catalog.events", "folio.catalog.book-created.v1", "topic")
    assert address(OrderPlaced) == Address("ordering.events", "folio.ordering.order-placed.v1", "topic")


def test_a_command_goes_to_its_receivers_direct_exchange_by_its_type() -> None:
    assert address(ReserveStock) == Address("catalog.commands", "folio.catalog.reserve-stock.v1", "direct")
    assert address(ReleaseStock).exchange_type == "direct"


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.TYPE)
def test_a_known_type_is_routed_as_its_model(model: type[Message]) -> None:
    assert address(model.TYPE) == address(model)
    assert (model.exchange(), model.routing_key()) == (address(model).exchange, address(model).routing_key)


def test_a_type_the_contracts_do_not_know_has_no_address() -> None:
    with pytest.raises(UnknownMessageType):
        address("folio.test.pinged.v1")


def test_every_command_the_topology_sends_is_a_command_of_the_contracts() -> None:
    for sent in topology.SENDS_COMMANDS.values():
        for message_type in sent:
            assert address(message_type).exchange == topology.commands_exchange(topology.owner(message_type))
