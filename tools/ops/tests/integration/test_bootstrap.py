"""The bootstrap against the real servers: idempotent, and each service isolated from the others.

Every run works under a unique prefix and vhost and tears them down, so it never touches ``folio``.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import aiormq
import asyncpg
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from folio_ops.bootstrap import cli, exporters, postgres, postgres_plan
from folio_ops.bootstrap.changes import Change
from folio_ops.bootstrap.definitions import Definitions, build
from folio_ops.bootstrap.passwords import scram_verifier
from testkit import servers as test_servers_module
from testkit.resources import fresh_database, management_client, with_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    servers = test_servers_module.test_servers()
    return {
        "FOLIO_POSTGRES_ADMIN_URL": servers.postgres_url,
        "FOLIO_RABBITMQ_MANAGEMENT_URL": servers.rabbitmq_management_url,
        "FOLIO_RABBITMQ_AMQP_URL": servers.amqp_url,
        # Not the default: the retry queues must follow the workers' settings.
        "FOLIO_RETRY_DELAYS": "0.5,2",
    }


def unique_definitions(env: dict[str, str]) -> Definitions:
    name = f"folio_t{uuid.uuid4().hex[:10]}"
    return build(prefix=name, vhost=name, env=env, dev=True)


@pytest.fixture(scope="module")
async def applied(env: dict[str, str]) -> AsyncIterator[tuple[Definitions, list[Change]]]:
    definitions = unique_definitions(env)
    try:
        changes = await cli.apply(definitions, env)
        yield definitions, changes
    finally:
        await cli.teardown(definitions, env)


@pytest.fixture(scope="module")
def urls(applied: tuple[Definitions, list[Change]], env: dict[str, str]) -> dict[str, str]:
    return cli.service_env(applied[0], env)


async def test_first_run_creates_everything_and_second_run_changes_nothing(
    applied: tuple[Definitions, list[Change]], env: dict[str, str]
) -> None:
    definitions, first = applied
    created = {(c.kind, c.name) for c in first if c.action == "created"}
    assert ("database", f"{definitions.prefix}_catalog") in created
    assert ("user", f"{definitions.prefix}_rating") in created
    assert ("exchange", f"catalog.commands@{definitions.vhost}") in created
    assert ("role", f"{definitions.prefix}_rating_runtime") in created
    assert ("queue", f"catalog.reserve_stock.retry.2@{definitions.vhost}") in created
    assert ("topic-permissions", f"{definitions.prefix}_rating@{definitions.vhost}") in created

    second = await cli.apply(definitions, env)

    assert [c for c in second if c.changed] == []
    assert len(second) == len(first)


async def test_dry_run_reports_and_creates_nothing(env: dict[str, str]) -> None:
    definitions = unique_definitions(env)
    try:
        planned = await cli.apply(definitions, env, dry_run=True)
        assert {c.action for c in planned} == {"created", "updated"}
        assert {c.kind for c in planned if c.action == "updated"} == {"grant"}
        after = await cli.teardown(definitions, env, dry_run=True)
        assert {c.action for c in after} == {"absent"}
    finally:
        await cli.teardown(definitions, env)


async def test_a_changed_password_is_updated(
    applied: tuple[Definitions, list[Change]], env: dict[str, str]
) -> None:
    definitions, _ = applied
    changed = build(
        definitions.prefix,
        definitions.vhost,
        {**env, "FOLIO_NOTIFICATION_DB_PASSWORD": "s3cret"},
        dev=True,
    )
    try:
        changes = await cli.apply(changed, env)
        assert {(c.kind, c.name) for c in changes if c.changed} == {
            ("role", f"{definitions.prefix}_notification_runtime")
        }
    finally:
        await cli.apply(definitions, env)


async def test_a_password_postgres_hashed_itself_is_recognised(
    applied: tuple[Definitions, list[Change]], env: dict[str, str]
) -> None:
    """PostgreSQL's own SCRAM verifier (random salt) checks out: the bootstrap computes SCRAM like it."""
    definitions, _ = applied
    rating = definitions.service("rating")
    admin = await asyncpg.connect(env["FOLIO_POSTGRES_ADMIN_URL"])
    try:
        await admin.execute("SET password_encryption = 'scram-sha-256'")
        await admin.execute(
            f"ALTER ROLE {postgres_plan.ident(rating.runtime_role)}"
            f" PASSWORD {postgres_plan.literal(rating.runtime_password)}"
        )
        stored = await admin.fetchval(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1", rating.runtime_role
        )
        assert stored != scram_verifier(rating.runtime_role, rating.runtime_password)
    finally:
        await admin.close()
    changes = await postgres.apply(env["FOLIO_POSTGRES_ADMIN_URL"], definitions)
    assert [c for c in changes if c.changed] == []


async def test_a_service_role_connects_to_its_own_database_only(urls: dict[str, str]) -> None:
    for key in ("RATING_DATABASE_URL", "RATING_MIGRATION_DATABASE_URL"):
        own = await asyncpg.connect(urls[key])
        try:
            assert await own.fetchval("SELECT current_user") == urls[key].split("//")[1].split(":")[0]
        finally:
            await own.close()
        catalog_database = urls["CATALOG_DATABASE_URL"].rsplit("/", 1)[1]
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for database"):
            await asyncpg.connect(with_database(urls[key], catalog_database))


async def test_the_runtime_role_reads_and_writes_the_migrated_tables_and_changes_no_schema(
    urls: dict[str, str],
) -> None:
    migration = await asyncpg.connect(urls["CATALOG_MIGRATION_DATABASE_URL"])
    runtime = await asyncpg.connect(urls["CATALOG_DATABASE_URL"])
    try:
        # The migration role owns the schema: migrations create tables.
        await migration.execute(
            "CREATE TABLE bootstrap_probe (id bigint GENERATED BY DEFAULT AS IDENTITY, x int)"
        )
        await migration.execute("CREATE TABLE bootstrap_serial (id serial, x int)")
        # The runtime role reads and writes them, through default privileges.
        await runtime.execute("INSERT INTO bootstrap_probe (x) VALUES (1)")
        await runtime.execute("INSERT INTO bootstrap_serial (x) VALUES (1)")
        await runtime.execute("UPDATE bootstrap_probe SET x = 2")
        assert await runtime.fetchval("SELECT x FROM bootstrap_probe") == 2
        await runtime.execute("DELETE FROM bootstrap_probe")
        for ddl in (
            "CREATE TABLE intruder (id int)",
            "CREATE TEMPORARY TABLE intruder (id int)",
            "CREATE SCHEMA intruder",
            "ALTER TABLE bootstrap_probe ADD COLUMN y int",
            "DROP TABLE bootstrap_probe",
            "TRUNCATE bootstrap_probe",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await runtime.execute(ddl)
    finally:
        await runtime.close()
        await migration.close()


async def test_locked_databases_refuse_service_roles(
    applied: tuple[Definitions, list[Change]], urls: dict[str, str]
) -> None:
    """What ``--lock-default-databases`` does to ``postgres``, shown on a stand-in (this server is shared)."""
    definitions, _ = applied
    async with fresh_database("folio_t_standin") as standin_url:
        standin = standin_url.rsplit("/", 1)[1]
        as_rating = with_database(urls["RATING_DATABASE_URL"], standin)
        await (await asyncpg.connect(as_rating)).close()  # open to PUBLIC, like postgres here

        admin_url = test_servers_module.test_servers().postgres_url
        first = await postgres.apply(admin_url, definitions, lock=(standin,))
        again = await postgres.apply(admin_url, definitions, lock=(standin,))

        assert [c.name for c in first if c.changed] == [f"{standin} (no PUBLIC connect)"]
        assert [c for c in again if c.changed] == []
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(as_rating)


@pytest.fixture
async def broker(urls: dict[str, str]) -> AsyncIterator[Callable[[str], Awaitable[AbstractRobustConnection]]]:
    connections: list[AbstractRobustConnection] = []

    async def connect(service: str) -> AbstractRobustConnection:
        connection = await aio_pika.connect_robust(urls[f"{service.upper()}_AMQP_URL"])
        connections.append(connection)
        return connection

    yield connect
    for connection in connections:
        await connection.close()


async def publish(
    connection: AbstractRobustConnection, exchange: str, routing_key: str = "folio.test.probe.v1"
) -> None:
    channel = await connection.channel(publisher_confirms=True)
    try:
        target = await channel.get_exchange(exchange, ensure=False) if exchange else channel.default_exchange
        await target.publish(aio_pika.Message(b"{}"), routing_key=routing_key)
    finally:
        if not channel.is_closed:
            await channel.close()


async def ignore(message: AbstractIncomingMessage) -> None:
    pass


async def refused(
    action: Callable[[AbstractChannel], Awaitable[Any]], connection: AbstractRobustConnection
) -> None:
    channel = await connection.channel()
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await action(channel)


async def test_a_service_publishes_its_own_events_and_nothing_else(broker: Any) -> None:
    rating = await broker("rating")
    await publish(rating, "rating.events", "folio.rating.feedback-submitted.v1")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(rating, "catalog.events", "folio.catalog.book-created.v1")
    # Its own exchange, another service's event type: refused by the topic permissions.
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(rating, "rating.events", "folio.catalog.book-created.v1")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(rating, "rating.events", "folio.rating.feedback-submitted.v1.extra")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(rating, "")  # the default exchange


async def test_only_the_sender_of_commands_may_publish_to_the_command_exchange(broker: Any) -> None:
    await publish(await broker("ordering"), "catalog.commands")
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(await broker("rating"), "catalog.commands")


async def test_a_service_binds_to_what_it_subscribes_to_and_nothing_else(broker: Any) -> None:
    rating = await broker("rating")
    channel = await rating.channel()
    queue = await channel.declare_queue("rating.bootstrap-probe", auto_delete=True)
    catalog_events = await channel.get_exchange("catalog.events", ensure=False)
    await queue.bind(catalog_events, routing_key="folio.catalog.book-created.v1")

    async def bind_to_notification_events(channel: AbstractChannel) -> None:
        queue = await channel.get_queue("rating.bootstrap-probe", ensure=False)
        await queue.bind(await channel.get_exchange("notification.events", ensure=False), routing_key="#")

    await refused(bind_to_notification_events, rating)

    async def bind_to_a_catalog_event_it_does_not_consume(channel: AbstractChannel) -> None:
        queue = await channel.get_queue("rating.bootstrap-probe", ensure=False)
        exchange = await channel.get_exchange("catalog.events", ensure=False)
        await queue.bind(exchange, routing_key="folio.catalog.stock-reserved.v1")

    # Read permission on catalog.events, but topic permissions only for the types rating consumes.
    await refused(bind_to_a_catalog_event_it_does_not_consume, rating)

    async def bind_to_every_catalog_event(channel: AbstractChannel) -> None:
        queue = await channel.get_queue("rating.bootstrap-probe", ensure=False)
        await queue.bind(await channel.get_exchange("catalog.events", ensure=False), routing_key="#")

    await refused(bind_to_every_catalog_event, rating)

    async def declare_outside_own_names(channel: AbstractChannel) -> None:
        await channel.declare_queue("catalog.bootstrap-probe", auto_delete=True)

    await refused(declare_outside_own_names, rating)


async def test_a_service_cannot_read_anothers_queue(
    applied: tuple[Definitions, list[Change]], broker: Any
) -> None:
    definitions, _ = applied
    admin = await aio_pika.connect(
        f"{test_servers_module.test_servers().amqp_url.rstrip('/')}/{definitions.vhost}"
    )
    try:
        channel = await admin.channel()
        catalog_queue = await channel.declare_queue("catalog.bootstrap-probe", durable=True)
        await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=catalog_queue.name)
        rating = await broker("rating")

        async def consume(channel: AbstractChannel) -> None:
            queue = await channel.get_queue("catalog.bootstrap-probe", ensure=False)
            await queue.consume(ignore)

        async def get(channel: AbstractChannel) -> None:
            queue = await channel.get_queue("catalog.bootstrap-probe", ensure=False)
            await queue.get(no_ack=True, fail=False)

        await refused(consume, rating)
        await refused(get, rating)
        # The catalog's own user reads it.
        catalog_channel = await (await broker("catalog")).channel()
        queue = await catalog_channel.get_queue("catalog.bootstrap-probe", ensure=False)
        assert await queue.get(no_ack=True, fail=False) is not None
    finally:
        await admin.close()


async def test_the_document_a_broker_loads_at_boot_is_what_apply_leaves(env: dict[str, str]) -> None:
    definitions = unique_definitions(env)
    document = exporters.rabbitmq_definitions(definitions)
    try:
        async with management_client() as api:
            (await api.post("/api/definitions", json=document)).raise_for_status()
        # The bootstrap recognises the exported password hashes and permissions as its own.
        changes = await cli.apply(definitions, env)
        assert [c for c in changes if c.changed and c.server == "rabbitmq"] == []
        urls = cli.service_env(definitions, env)
        ordering = await aio_pika.connect(urls["ORDERING_AMQP_URL"])
        try:
            await publish(ordering, "catalog.commands")  # type: ignore[arg-type]
        finally:
            await ordering.close()
    finally:
        await cli.teardown(definitions, env)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql runs init scripts, as in the postgres image")
async def test_the_init_script_runs_twice_and_leaves_what_apply_leaves(env: dict[str, str]) -> None:
    definitions = unique_definitions(env)
    # Not the default databases: this server is shared.
    script = exporters.postgres_init(definitions, lock_default_databases=False)
    try:
        async with fresh_database("folio_t_init") as run_in:
            for _ in range(2):
                psql = await asyncio.create_subprocess_exec(
                    "psql",
                    run_in,
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-q",
                    "-f",
                    "-",
                    stdin=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                _, stderr = await psql.communicate(script.encode())
                assert psql.returncode == 0, stderr.decode()
            admin = await asyncpg.connect(run_in)
            try:
                assert not await admin.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'dblink'")
            finally:
                await admin.close()
        changes = await postgres.apply(test_servers_module.test_servers().postgres_url, definitions)
        assert [c for c in changes if c.changed] == []
        urls = cli.service_env(definitions, env)
        await (await asyncpg.connect(urls["CATALOG_DATABASE_URL"])).close()
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(
                with_database(urls["CATALOG_DATABASE_URL"], definitions.service("rating").database)
            )
    finally:
        await cli.teardown(definitions, env)
