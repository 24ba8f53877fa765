"""The bootstrap's definitions follow the topology: each user reaches its own names and what it must."""

from __future__ import annotations

import re

import pytest

from contracts import topology
from contracts.routing import address
from folio_ops.bootstrap.definitions import (
    MissingPasswords,
    build,
    exchanges,
    permissions,
    retry_delays,
    topic_permissions,
)


def allows(pattern: str, name: str) -> bool:
    # RabbitMQ matches permissions as unanchored regular expressions (re:run).
    return re.search(pattern, name) is not None


def test_names_and_development_passwords_follow_the_prefix() -> None:
    definitions = build("folio_x", "vx", {}, dev=True)
    catalog = definitions.service("catalog")
    assert (catalog.migration_role, catalog.database, catalog.amqp_user) == ("folio_x_catalog",) * 3
    assert catalog.runtime_role == "folio_x_catalog_runtime"
    assert catalog.migration_password == catalog.amqp_password == "folio_x_catalog-dev"
    assert catalog.runtime_password == "folio_x_catalog_runtime-dev"
    assert definitions.vhost == "vx"
    assert definitions.group_role == "folio_x_services"
    assert [s.service for s in definitions.services] == list(topology.SERVICES)


def test_passwords_come_from_the_environment_when_set() -> None:
    env = {
        "FOLIO_ORDERING_DB_PASSWORD": "db-secret",
        "FOLIO_ORDERING_MIGRATION_DB_PASSWORD": "ddl-secret",
        "FOLIO_ORDERING_AMQP_PASSWORD": "mq-secret",
    }
    ordering = build(env=env, dev=True).service("ordering")
    assert (ordering.runtime_password, ordering.migration_password, ordering.amqp_password) == (
        "db-secret",
        "ddl-secret",
        "mq-secret",
    )


def test_outside_development_no_password_is_invented() -> None:
    env = {f"FOLIO_{s.upper()}_{k}_PASSWORD": "x" for s in topology.SERVICES for k in ("DB", "AMQP")}
    with pytest.raises(MissingPasswords) as missing:
        build(env=env)
    assert missing.value.names == tuple(f"FOLIO_{s.upper()}_MIGRATION_DB_PASSWORD" for s in topology.SERVICES)
    env |= {f"FOLIO_{s.upper()}_MIGRATION_DB_PASSWORD": "y" for s in topology.SERVICES}
    assert build(env=env).service("rating").migration_password == "y"


@pytest.mark.parametrize("prefix", ["Folio", "folio-x", "1folio", ""])
def test_a_prefix_must_be_a_plain_identifier(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        build(prefix, dev=True)


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
    sends_to = {address(t).exchange for t in topology.SENDS_COMMANDS[service]}
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
    commands = {t for sent in topology.SENDS_COMMANDS.values() for t in sent}
    for message_type in topology.SUBSCRIPTIONS[service]:
        # The topology's table agrees with the contracts' models: what is sent as a command is one.
        assert (address(message_type).exchange_type == "direct") == (message_type in commands)
        assert allows(p.read, address(message_type).exchange)
    subscribed = {address(t).exchange for t in topology.SUBSCRIPTIONS[service]}
    for exchange in exchanges():
        if not exchange.name.startswith(f"{service}."):
            assert allows(p.read, exchange.name) == (exchange.name in subscribed)


def test_every_exchange_anyone_uses_is_declared_with_its_type() -> None:
    declared = {e.name: e.type for e in exchanges()}
    assert {f"{s}.events" for s in topology.SERVICES} <= set(declared)
    used = {address(t).exchange for types in topology.SUBSCRIPTIONS.values() for t in types}
    used |= {address(t).exchange for types in topology.SENDS_COMMANDS.values() for t in types}
    assert used <= set(declared)
    assert {name for name, kind in declared.items() if kind == "direct"} == {
        "catalog.commands",
        *(f"{s}.internal" for s in topology.SERVICES),
    }
    assert all(kind == "topic" for name, kind in declared.items() if name.endswith(".events"))


def test_topic_permissions_let_a_service_publish_its_own_events_and_bind_what_it_consumes() -> None:
    rating = {p.exchange: p for p in topic_permissions("rating")}
    assert set(rating) == {f"{s}.events" for s in topology.SERVICES}
    assert allows(rating["catalog.events"].read, "folio.catalog.book-created.v1")
    assert not allows(rating["catalog.events"].read, "folio.catalog.stock-reserved.v1")
    assert not allows(rating["catalog.events"].read, "#")
    assert not allows(rating["catalog.events"].write, "folio.catalog.book-created.v1")
    assert allows(rating["rating.events"].write, "folio.rating.feedback-submitted.v1")
    assert not allows(rating["rating.events"].write, "folio.rating.feedback-submitted.v10")
    assert not allows(rating["notification.events"].read, "folio.notification.anything.v1")


def test_retry_queues_take_the_delays_the_workers_run_with() -> None:
    assert retry_delays("catalog", {}) == (1.0, 5.0, 30.0)
    assert retry_delays("catalog", {"FOLIO_RETRY_DELAYS": "0.2,0.5"}) == (0.2, 0.5)
    assert retry_delays("catalog", {"FOLIO_RETRY_DELAYS": "1", "CATALOG_RETRY_DELAYS": "[2, 3]"}) == (
        2.0,
        3.0,
    )
    definitions = build(env={"FOLIO_RETRY_DELAYS": "0.2,0.5"}, dev=True)
    ttls = {q.name: q.arguments.get("x-message-ttl") for q in definitions.queues}
    assert (ttls["catalog.reserve_stock.retry.1"], ttls["catalog.reserve_stock.retry.2"]) == (200, 500)
    assert "catalog.reserve_stock.retry.3" not in ttls
