"""What the bootstrap creates, derived from ``contracts.topology``; pure data, no I/O.

Per service: a migration role that owns the database (DDL), a runtime role with DML on the tables the
migration role creates (granted as default privileges), a broker user with its permissions and topic
permissions, and the service's whole broker topology (exchanges, consumer queues with their retry and
parking queues, bindings), built by the same chassis functions the worker declares with, so a message
published before its consumer first starts waits in its queue and the worker's own declaration agrees.

Broker permissions follow RabbitMQ's access rules: declaring a queue or exchange needs *configure* on it;
publishing needs *write* on the exchange; binding needs *write* on the queue and *read* on the source
exchange; consuming needs *read* on the queue; declaring a queue with a dead-letter exchange needs *write*
on that exchange. So each service user gets configure on ``<service>.*`` (its exchanges and queues), write on
``<service>.*`` plus the command exchanges it sends to, and read on ``<service>.*`` plus the exchanges its
queues bind from. No one gets ``amq.default``: retries and parking travel through ``<service>.internal``.
Topic permissions narrow the topic (events) exchanges to routing keys: a user publishes only its own event
types and binds only the types it consumes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chassis import defaults
from chassis.messaging.consumer import Subscription
from chassis.messaging.topology import ServiceTopology, consumer_queues
from chassis.messaging.worker import takes_commands
from chassis.settings import ServiceSettings
from contracts import ALL_MESSAGES, topology
from contracts.registry import message_class
from contracts.routing import address, events_exchange
from folio_ops.bootstrap.passwords import password_for

DEFAULT_PREFIX = defaults.PREFIX
DEFAULT_VHOST = defaults.VHOST
# Matches no routing key a Folio message has: a topic permission that grants nothing.
NOTHING = "^$"


class MissingPasswords(ValueError):
    """Passwords were not given and inventing development ones was not allowed."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(", ".join(names))
        self.names = tuple(names)


@dataclass(frozen=True, slots=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True, slots=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True, slots=True)
class Exchange:
    name: str
    type: str  # "topic" or "direct"


@dataclass(frozen=True, slots=True)
class Queue:
    """A durable quorum queue; ``arguments`` as the worker declares them (``x-queue-type`` included)."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class QueueBinding:
    source: str
    queue: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    """One service's database roles and broker user."""

    service: str
    database: str
    # Owns the database and its schema; `migrate` connects as it.
    migration_role: str
    migration_password: str
    # DML on the migration role's tables only; `api` and `worker` connect as it.
    runtime_role: str
    runtime_password: str
    amqp_user: str
    amqp_password: str
    permissions: Permissions
    topic_permissions: tuple[TopicPermission, ...]


@dataclass(frozen=True, slots=True)
class Definitions:
    prefix: str
    vhost: str
    # NOLOGIN group of every service role: a handle for pg_hba.conf rules (`+folio_services`).
    group_role: str
    services: tuple[ServiceAccess, ...]
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[QueueBinding, ...]

    def service(self, name: str) -> ServiceAccess:
        return next(s for s in self.services if s.service == name)


async def _never_called(message: Any, uow: Any) -> None:  # pragma: no cover - the bootstrap handles nothing
    raise NotImplementedError


def service_topology(service: str, delays: Sequence[float]) -> ServiceTopology:
    """What ``service``'s worker declares on start with retry ``delays``, from ``topology.QUEUES``."""
    subscriptions = [
        Subscription(handler, tuple(message_class(t) for t in types), _never_called)
        for handler, types in topology.QUEUES.get(service, {}).items()
    ]
    consumers = tuple(consumer_queues(service, s.handler, s.messages, delays=delays) for s in subscriptions)
    return ServiceTopology(service, takes_commands(service, subscriptions), consumers)


def retry_delays(service: str, env: Mapping[str, str]) -> tuple[float, ...]:
    """The retry delays ``service`` runs with: ``<SERVICE>_RETRY_DELAYS``, else ``FOLIO_RETRY_DELAYS``.

    They set the retry queues' TTLs, which must equal what the worker declares: a queue declared with other
    arguments makes the worker's declaration fail (PRECONDITION_FAILED).
    """
    raw = env.get(f"{service.upper()}_RETRY_DELAYS") or env.get("FOLIO_RETRY_DELAYS")
    if raw is None:
        return defaults.RETRY_DELAYS
    # The settings' own parsing and validation, without reading the process environment.
    return ServiceSettings.model_validate({"retry_delays": raw}).retry_delays


def topologies(env: Mapping[str, str]) -> tuple[ServiceTopology, ...]:
    return tuple(service_topology(s, retry_delays(s, env)) for s in topology.SERVICES)


def exchanges(env: Mapping[str, str] | None = None) -> tuple[Exchange, ...]:
    """Every exchange of every service (events, internal, and commands where it takes them).

    The bootstrap declares them all (durable) so that start order never matters: a consumer binding to
    another service's exchange finds it even before that service first ran.
    """
    found = {e.name: Exchange(e.name, e.type.value) for t in topologies(env or {}) for e in t.own_exchanges()}
    return tuple(found[name] for name in sorted(found))


def queues_and_bindings(
    services: Iterable[ServiceTopology],
) -> tuple[tuple[Queue, ...], tuple[QueueBinding, ...]]:
    queues: list[Queue] = []
    bindings: list[QueueBinding] = []
    for service in services:
        for consumer in service.consumers:
            queues.extend(Queue(q.name, dict(q.arguments or {})) for q in consumer.queues())
            bindings.extend(QueueBinding(b.exchange.name, b.queue, b.routing_key) for b in consumer.bindings)
    return tuple(queues), tuple(bindings)


def _alternatives(own: str, others: set[str]) -> str:
    parts = [rf"{re.escape(own)}\..*", *(re.escape(name) for name in sorted(others))]
    return "^(" + "|".join(parts) + ")$"


def permissions(service: str) -> Permissions:
    sends_to = {address(t).exchange for t in topology.SENDS_COMMANDS.get(service, ())}
    reads_from = {address(t).exchange for t in topology.SUBSCRIPTIONS.get(service, ())}
    own_prefix = rf"{re.escape(service)}\."
    return Permissions(
        configure=f"^{own_prefix}",
        write=_alternatives(service, {e for e in sends_to if not e.startswith(f"{service}.")}),
        read=_alternatives(service, {e for e in reads_from if not e.startswith(f"{service}.")}),
    )


def _exactly(keys: Iterable[str]) -> str:
    keys = sorted(set(keys))
    return "^(" + "|".join(re.escape(k) for k in keys) + ")$" if keys else NOTHING


def topic_permissions(service: str) -> tuple[TopicPermission, ...]:
    """On every events exchange: write only the service's own event types, read (bind) only what it consumes.

    RabbitMQ allows every routing key on an exchange the user has no topic permission for, so each user gets
    one on every topic exchange.
    """
    published = [address(m) for m in ALL_MESSAGES if service == m.OWNER]
    consumed = [address(t) for t in topology.SUBSCRIPTIONS.get(service, ())]
    out = []
    for owner in topology.SERVICES:
        exchange = events_exchange(owner)
        out.append(
            TopicPermission(
                exchange=exchange,
                write=_exactly(a.routing_key for a in published if a.exchange == exchange),
                read=_exactly(a.routing_key for a in consumed if a.exchange == exchange),
            )
        )
    return tuple(out)


def build(
    prefix: str = DEFAULT_PREFIX,
    vhost: str = DEFAULT_VHOST,
    env: Mapping[str, str] | None = None,
    *,
    dev: bool = False,
) -> Definitions:
    """The definitions for ``prefix`` and ``vhost``; passwords from ``env``.

    A password missing from ``env`` is a development one (``<role>-dev``) when ``dev``, else
    :class:`MissingPasswords` names every variable to set.
    """
    env = env if env is not None else {}
    if not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise ValueError(f"prefix must be lower-case letters, digits and underscores: {prefix!r}")
    missing: list[str] = []

    def password(service: str, name: str, kind: str) -> str:
        found = password_for(service, name, kind, env, dev=dev)
        if found is None:
            missing.append(f"FOLIO_{service.upper()}_{kind}_PASSWORD")
            return ""
        return found

    services = []
    for service in topology.SERVICES:
        name = f"{prefix}_{service}"
        runtime = f"{name}_runtime"
        services.append(
            ServiceAccess(
                service=service,
                database=name,
                migration_role=name,
                migration_password=password(service, name, "MIGRATION_DB"),
                runtime_role=runtime,
                runtime_password=password(service, runtime, "DB"),
                amqp_user=name,
                amqp_password=password(service, name, "AMQP"),
                permissions=permissions(service),
                topic_permissions=topic_permissions(service),
            )
        )
    if missing:
        raise MissingPasswords(missing)
    service_topologies = topologies(env)
    queues, bindings = queues_and_bindings(service_topologies)
    return Definitions(
        prefix=prefix,
        vhost=vhost,
        group_role=f"{prefix}_services",
        services=tuple(services),
        exchanges=exchanges(env),
        queues=queues,
        bindings=bindings,
    )
