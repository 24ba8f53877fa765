"""A stack seen from the operator's side: its databases as the PostgreSQL superuser, its vhost as the broker
administrator. End-to-end tests read here what no API shows (held reservations, backlogs, parked messages).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from chassis.messaging.parked import ParkedMessage, list_parked
from contracts import topology
from devstack.config import SERVICES, StackConfig
from devstack.processes import process_name
from testkit.resources import with_database, with_vhost
from testkit.servers import test_servers

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` from synchronous code (the demo and the e2e tests are synchronous)."""
    return asyncio.run(coroutine)


@dataclass(frozen=True)
class Backlog:
    """Work still under way somewhere: a stack is quiet when every count is zero."""

    queued: dict[str, int]
    unpublished: dict[str, int]
    mail_in_flight: int
    sagas_in_flight: int
    # Deliveries each worker process holds for a dependency: unacked, so in no queue's ready count, and not
    # yet in any table (a consumer waits out its database's recovery, pausing up to 15 s between probes).
    held: dict[str, int]

    @property
    def quiet(self) -> bool:
        return (
            not any(self.queued.values())
            and not any(self.unpublished.values())
            and not (self.mail_in_flight or self.sagas_in_flight)
            and not any(self.held.values())
        )

    def __str__(self) -> str:
        queued = {name: n for name, n in self.queued.items() if n}
        unpublished = {name: n for name, n in self.unpublished.items() if n}
        held = {name: n for name, n in self.held.items() if n}
        return (
            f"queued {queued}, unpublished {unpublished}, mail in flight {self.mail_in_flight}, "
            f"sagas in flight {self.sagas_in_flight}, held {held}"
        )


def held_deliveries(metrics: str) -> int:
    """The sum of ``folio_consumer_deliveries_held`` over a worker's queues, from its Prometheus text."""
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(metrics)
            if family.name == "folio_consumer_deliveries_held"
            for sample in family.samples
        )
    )


class Admin:
    def __init__(self, config: StackConfig) -> None:
        servers = test_servers()
        self.config = config
        self.postgres_url = config.postgres_admin_url or servers.postgres_url
        self.amqp_url = with_vhost(servers.amqp_url, config.vhost)
        parts = urlsplit(servers.rabbitmq_management_url)
        self.management_url = urlunsplit(
            (parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "", "", "")
        )
        self.management_auth = (parts.username or "guest", parts.password or "guest")

    # --- PostgreSQL -------------------------------------------------------------------------------------

    def database_url(self, service: str) -> str:
        return with_database(self.postgres_url, f"{self.config.prefix}_{service}")

    async def fetch(self, service: str, sql: str, *args: object) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.database_url(service))
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
            return rows
        finally:
            await connection.close()

    def query(self, service: str, sql: str, *args: object) -> list[asyncpg.Record]:
        return run(self.fetch(service, sql, *args))

    def execute(self, sql: str, *args: object) -> None:
        """Run ``sql`` as the superuser on the server's ``postgres`` database (not a service's)."""
        run(self._execute(sql, *args))

    async def _execute(self, sql: str, *args: object) -> None:
        connection = await asyncpg.connect(self.postgres_url)
        try:
            await connection.execute(sql, *args)
        finally:
            await connection.close()

    def held_stock(self) -> dict[str, int]:
        """Copies held by reservations per book: catalog has no API for them, so read its database."""
        rows = self.query(
            "catalog",
            "SELECT l.book_id, sum(l.quantity) AS held FROM stock_reservation_lines l"
            " JOIN stock_reservations r USING (order_id) WHERE r.status = 'held' GROUP BY l.book_id",
        )
        return {str(row["book_id"]): int(row["held"]) for row in rows}

    def reservations(self) -> dict[str, str]:
        """The catalog's reservation status (held, rejected, released) per order id."""
        rows = self.query("catalog", "SELECT order_id, status FROM stock_reservations")
        return {str(row["order_id"]): str(row["status"]) for row in rows}

    def saga_states(self, order_ids: Sequence[str]) -> dict[str, str]:
        """Each order's saga state (``abandoned`` tells a give-up apart from a customer's cancel)."""
        rows = self.query(
            "ordering",
            "SELECT order_id::text AS id, state FROM order_sagas WHERE order_id::text = ANY($1)",
            list(order_ids),
        )
        return {str(row["id"]): str(row["state"]) for row in rows}

    def undelivered(self, since: datetime) -> list[str]:
        """Messages published since ``since`` that a subscribing service has not handled (no inbox row)."""
        return run(self._undelivered(since))

    async def _undelivered(self, since: datetime) -> list[str]:
        handled: dict[str, set[str]] = {}
        for service in SERVICES:
            rows = await self.fetch(
                service, "SELECT DISTINCT message_id::text AS id FROM inbox WHERE received_at >= $1", since
            )
            handled[service] = {str(row["id"]) for row in rows}
        missing = []
        for publisher in SERVICES:
            rows = await self.fetch(
                publisher,
                "SELECT message_id::text AS id, type FROM outbox WHERE created_at >= $1",
                since,
            )
            for row in rows:
                for subscriber, types in topology.SUBSCRIPTIONS.items():
                    if row["type"] in types and row["id"] not in handled[subscriber]:
                        missing.append(f"{row['type']} {row['id']} never reached {subscriber}")
        return missing

    # --- RabbitMQ ---------------------------------------------------------------------------------------

    def management(self) -> httpx.Client:
        return httpx.Client(base_url=self.management_url, auth=self.management_auth, timeout=30)

    def queue_names(self) -> list[str]:
        with self.management() as api:
            response = api.get(f"/api/queues/{quote(self.config.vhost, safe='')}", params={"columns": "name"})
            response.raise_for_status()
            return sorted(str(q["name"]) for q in response.json())

    def consumer_queues(self) -> list[str]:
        """Every service's consumer queues (``<service>.<handler>``, not their delay or parking queues)."""
        return [
            name for name in self.queue_names() if name.split(".", 1)[0] in SERVICES and name.count(".") == 1
        ]

    def bindings(self, queue: str) -> list[dict[str, Any]]:
        with self.management() as api:
            vhost = quote(self.config.vhost, safe="")
            response = api.get(f"/api/queues/{vhost}/{quote(queue, safe='')}/bindings")
            response.raise_for_status()
            found: list[dict[str, Any]] = response.json()
            return found

    async def queue_depths(self, names: Sequence[str]) -> dict[str, int]:
        """Ready messages per queue, exact and current (a passive declare, not the sampled statistics)."""
        connection = await aio_pika.connect(self.amqp_url)
        try:
            depths = {}
            for name in names:
                channel = await connection.channel()
                queue = await channel.declare_queue(name, passive=True)
                depths[name] = queue.declaration_result.message_count or 0
                await channel.close()
            return depths
        finally:
            await connection.close()

    def depths(self, names: Sequence[str]) -> dict[str, int]:
        return run(self.queue_depths(names))

    def parked(self, queue: str) -> list[ParkedMessage]:
        return run(list_parked(self.amqp_url, queue))

    def purge(self, queue: str) -> None:
        with self.management() as api:
            vhost = quote(self.config.vhost, safe="")
            api.delete(f"/api/queues/{vhost}/{quote(queue, safe='')}/contents").raise_for_status()

    def permissions(self, user: str) -> dict[str, str]:
        """``user``'s configure, write and read patterns on the stack's vhost."""
        with self.management() as api:
            vhost = quote(self.config.vhost, safe="")
            response = api.get(f"/api/permissions/{vhost}/{quote(user, safe='')}")
            response.raise_for_status()
            found = response.json()
            return {key: str(found[key]) for key in ("configure", "write", "read")}

    def set_permissions(self, user: str, permissions: dict[str, str]) -> None:
        with self.management() as api:
            vhost = quote(self.config.vhost, safe="")
            api.put(f"/api/permissions/{vhost}/{quote(user, safe='')}", json=permissions).raise_for_status()

    def close_connections(self, user: str, name: str | None = None) -> int:
        """Close ``user``'s connections to the stack's vhost (only those called ``name``, if given).

        A channel caches the permissions it has checked: only a new connection sees a changed permission.
        """
        closed = 0
        with self.management() as api:
            vhost = quote(self.config.vhost, safe="")
            response = api.get(f"/api/vhosts/{vhost}/connections")
            response.raise_for_status()
            for connection in response.json():
                properties = connection.get("client_properties") or {}
                if connection.get("user") != user:
                    continue
                if name is not None and properties.get("connection_name") != name:
                    continue
                api.delete(
                    f"/api/connections/{quote(str(connection['name']), safe='')}",
                    headers={"X-Reason": "e2e: permissions changed"},
                )
                closed += 1
        return closed

    # --- the whole system -------------------------------------------------------------------------------

    def backlog(self, orders: Sequence[str] | None = None) -> Backlog:
        """What is still under way; sagas in flight counted among ``orders`` only, when given."""
        return run(self._backlog(orders))

    async def _backlog(self, orders: Sequence[str] | None) -> Backlog:
        queues = [n for n in self.queue_names() if n.split(".", 1)[0] in SERVICES and not n.endswith(".dlq")]
        unpublished = {}
        for service in SERVICES:
            rows = await self.fetch(service, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
            unpublished[service] = int(rows[0]["n"])
        mail = await self.fetch(
            "notification", "SELECT count(*) AS n FROM notifications WHERE status IN ('pending', 'sending')"
        )
        sagas = await self.fetch(
            "ordering",
            "SELECT count(*) AS n FROM order_sagas"
            " WHERE state IN ('awaiting_stock', 'cancel_requested_awaiting_stock', 'releasing')"
            " AND ($1::text[] IS NULL OR order_id::text = ANY($1))",
            None if orders is None else list(orders),
        )
        return Backlog(
            queued=await self.queue_depths(queues),
            unpublished=unpublished,
            mail_in_flight=int(mail[0]["n"]),
            sagas_in_flight=int(sagas[0]["n"]),
            held=await self._held(),
        )

    def held(self) -> dict[str, int]:
        """Deliveries held by each worker process (named as the process list names it), from its metrics."""
        return run(self._held())

    async def _held(self) -> dict[str, int]:
        workers = {
            process_name(self.config, service, "worker", replica): self.config.worker_url(service, replica)
            for service in SERVICES
            for replica in range(self.config.replicas)
        }
        async with httpx.AsyncClient(timeout=5) as client:
            counts = await asyncio.gather(*(self._held_by(client, url) for url in workers.values()))
        return dict(zip(workers, counts, strict=True))

    @staticmethod
    async def _held_by(client: httpx.AsyncClient, worker_url: str) -> int:
        try:
            response = await client.get(f"{worker_url}/metrics")
            response.raise_for_status()
        except httpx.ConnectError:
            # Not running: whatever it held, the broker gave back to a queue (counted there).
            return 0
        except httpx.HTTPError:
            # Stopped (SIGSTOP) or failing: it may hold deliveries, so it cannot count as quiet.
            return 1
        return held_deliveries(response.text)

    def wait_quiet(
        self,
        timeout: float,
        *,
        settle: float = 1.0,
        sleep: Callable[[float], None] | None = None,
        orders: Sequence[str] | None = None,
    ) -> None:
        """Wait until nothing is queued, unpublished or in flight, twice in a row ``settle`` seconds apart
        (sagas: those of ``orders`` only, when given)."""
        pause = sleep or time.sleep
        deadline = time.monotonic() + timeout
        quiet_once = False
        backlog = None
        while time.monotonic() < deadline:
            backlog = self.backlog(orders)
            if backlog.quiet and quiet_once:
                return
            quiet_once = backlog.quiet
            pause(settle if quiet_once else 0.5)
        raise TimeoutError(f"the system is not quiet after {timeout:.0f}s: {backlog}")
