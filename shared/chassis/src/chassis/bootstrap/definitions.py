"""What the bootstrap creates, derived from ``contracts.topology``; pure data, no I/O.

Broker permissions follow RabbitMQ's access rules: declaring a queue or exchange needs *configure* on it;
publishing needs *write* on the exchange; binding needs *write* on the queue and *read* on the source
exchange; consuming needs *read* on the queue; declaring a queue with a dead-letter exchange needs *write*
on that exchange. So each service user gets configure on ``<service>.*`` (its exchanges and queues), write on
``<service>.*`` plus the command exchanges it sends to, and read on ``<service>.*`` plus the exchanges its
queues bind from. No one gets ``amq.default``: retries and parking travel through ``<service>.internal``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chassis.bootstrap.passwords import password_for
from contracts import topology

DEFAULT_PREFIX = "folio"
DEFAULT_VHOST = "folio"


@dataclass(frozen=True, slots=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True, slots=True)
class Exchange:
    name: str
    type: str  # "topic" or "direct"


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    """One service's database, role and broker user."""

    service: str
    role: str  # PostgreSQL login role, owner of `database`
    database: str
    db_password: str
    amqp_user: str
    amqp_password: str
    permissions: Permissions


@dataclass(frozen=True, slots=True)
class Definitions:
    prefix: str
    vhost: str
    # NOLOGIN group of every service role: a handle for pg_hba.conf rules (`+folio_services`).
    group_role: str
    services: tuple[ServiceAccess, ...]
    exchanges: tuple[Exchange, ...]

    def service(self, name: str) -> ServiceAccess:
        return next(s for s in self.services if s.service == name)


def command_types() -> frozenset[str]:
    """Every type someone sends as a command; all other subscribed types are events."""
    return frozenset(t for sent in topology.SENDS_COMMANDS.values() for t in sent)


def source_exchange(message_type: str) -> str:
    owner = topology.owner(message_type)
    if message_type in command_types():
        return topology.commands_exchange(owner)
    return topology.events_exchange(owner)


def exchanges() -> tuple[Exchange, ...]:
    """Every service's events exchange, and a commands exchange for each service that receives commands.

    The bootstrap declares them all (durable) so that start order never matters: a consumer binding to
    another service's exchange finds it even before that service first ran.
    """
    found = {
        topology.events_exchange(s): Exchange(topology.events_exchange(s), "topic") for s in topology.SERVICES
    }
    for message_type in command_types():
        name = topology.commands_exchange(topology.owner(message_type))
        found[name] = Exchange(name, "direct")
    return tuple(found[name] for name in sorted(found))


def _alternatives(own: str, others: set[str]) -> str:
    parts = [rf"{re.escape(own)}\..*", *(re.escape(name) for name in sorted(others))]
    return "^(" + "|".join(parts) + ")$"


def permissions(service: str) -> Permissions:
    sends_to = {source_exchange(t) for t in topology.SENDS_COMMANDS.get(service, ())}
    reads_from = {source_exchange(t) for t in topology.SUBSCRIPTIONS.get(service, ())}
    own_prefix = rf"{re.escape(service)}\."
    return Permissions(
        configure=f"^{own_prefix}",
        write=_alternatives(service, {e for e in sends_to if not e.startswith(f"{service}.")}),
        read=_alternatives(service, {e for e in reads_from if not e.startswith(f"{service}.")}),
    )


def build(
    prefix: str = DEFAULT_PREFIX, vhost: str = DEFAULT_VHOST, env: Mapping[str, str] | None = None
) -> Definitions:
    env = env if env is not None else {}
    if not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise ValueError(f"prefix must be lower-case letters, digits and underscores: {prefix!r}")
    services = []
    for service in topology.SERVICES:
        name = f"{prefix}_{service}"
        services.append(
            ServiceAccess(
                service=service,
                role=name,
                database=name,
                db_password=password_for(service, name, "DB", env),
                amqp_user=name,
                amqp_password=password_for(service, name, "AMQP", env),
                permissions=permissions(service),
            )
        )
    return Definitions(
        prefix=prefix,
        vhost=vhost,
        group_role=f"{prefix}_services",
        services=tuple(services),
        exchanges=exchanges(),
    )
