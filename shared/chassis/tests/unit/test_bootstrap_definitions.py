"""The bootstrap's definitions follow the topology: each user reaches its own names and what it must."""

from __future__ import annotations

import re

import pytest

from chassis.bootstrap.definitions import build, exchanges, permissions, source_exchange
from contracts import ALL_MESSAGES, topology


def allows(pattern: str, name: str) -> bool:
    # RabbitMQ matches permissions as unanchored regular expressions (re:run).
    return re.search(pattern, name) is not None


def test_names_and_default_passwords_follow_the_prefix() -> None:
    definitions = build("folio_x", "vx", {})
    catalog = definitions.service("catalog")
    assert (catalog.role, catalog.database, catalog.amqp_user) == ("folio_x_catalog",) * 3
    assert catalog.db_password == catalog.amqp_password == "folio_x_catalog-dev"
    assert definitions.vhost == "vx"
    assert definitions.group_role == "folio_x_services"
    assert [s.service for s in definitions.services] == list(topology.SERVICES)


def test_passwords_come_from_the_environment_when_set() -> None:
    env = {"FOLIO_ORDERING_DB_PASSWORD": "db-secret", "FOLIO_ORDERING_AMQP_PASSWORD": "mq-secret"}
    ordering = build(env=env).service("ordering")
    assert (ordering.db_password, ordering.amqp_password) == ("db-secret", "mq-secret")


@pytest.mark.parametrize("prefix", ["Folio", "folio-x", "1folio", ""])
def test_a_prefix_must_be_a_plain_identifier(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        build(prefix)


def test_permissions_are_exactly_derived() -> None:
    ordering = permissions("ordering")
    assert ordering.configure == r"^ordering\."
    assert ordering.write == r"^(ordering\..*|catalog\.commands)$"
    assert ordering.read == r"^(ordering\..*|catalog\.events)$"
    assert permissions("rating").read == r"^(rating\..*|catalog\.events|ordering\.events)$"
    assert permissions("catalog").write == r"^(catalog\..*)$"


@pytest.mark.parametrize("service", topology.SERVICES)
def test_a_service_configures_and_writes_only_its_own_names_and_the_commands_it_sends(service: str) -> None:
    p = permissions(service)
    for own in (f"{service}.events", f"{service}.internal", f"{service}.handler", f"{service}.handler.dlq"):
        assert allows(p.configure, own)
        assert allows(p.write, own)
        assert allows(p.read, own)
    sends_to = {source_exchange(t) for t in topology.SENDS_COMMANDS[service]}
    for other in topology.SERVICES:
        if other == service:
            continue
        assert not allows(p.configure, f"{other}.events")
        assert not allows(p.configure, f"{other}.handler")
        assert not allows(p.write, f"{other}.events")
        assert not allows(p.read, f"{other}.handler")
        assert allows(p.write, f"{other}.commands") == (f"{other}.commands" in sends_to)
    for never in ("amq.default", "", f"{service}x.events", f"x{service}.events", "amq.topic"):
        assert not allows(p.write, never)
        assert not allows(p.configure, never)


@pytest.mark.parametrize("service", topology.SERVICES)
def test_a_service_reads_every_exchange_it_subscribes_from(service: str) -> None:
    p = permissions(service)
    by_type = {m.TYPE: m for m in ALL_MESSAGES}
    for message_type in topology.SUBSCRIPTIONS[service]:
        # The topology's reading agrees with the contracts' own: commands to commands exchanges.
        assert source_exchange(message_type) == by_type[message_type].exchange()
        assert allows(p.read, source_exchange(message_type))
    subscribed = {source_exchange(t) for t in topology.SUBSCRIPTIONS[service]}
    for exchange in exchanges():
        if not exchange.name.startswith(f"{service}."):
            assert allows(p.read, exchange.name) == (exchange.name in subscribed)


def test_every_exchange_anyone_uses_is_declared_with_its_type() -> None:
    declared = {e.name: e.type for e in exchanges()}
    assert {f"{s}.events" for s in topology.SERVICES} <= set(declared)
    used = {source_exchange(t) for types in topology.SUBSCRIPTIONS.values() for t in types}
    used |= {source_exchange(t) for types in topology.SENDS_COMMANDS.values() for t in types}
    assert used <= set(declared)
    assert {name: kind for name, kind in declared.items() if kind == "direct"} == {
        "catalog.commands": "direct"
    }
    assert all(kind == "topic" for name, kind in declared.items() if name.endswith(".events"))
