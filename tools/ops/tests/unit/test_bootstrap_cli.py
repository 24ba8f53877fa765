"""``folio-bootstrap``'s offline parts: the environment it prints and the summary it reports."""

from __future__ import annotations

import pytest

from contracts import topology
from folio_ops.bootstrap import cli, rabbitmq
from folio_ops.bootstrap.changes import Change, summary
from folio_ops.bootstrap.definitions import build


def test_print_env_gives_each_service_its_urls(capsys: pytest.CaptureFixture[str]) -> None:
    env = {
        "FOLIO_POSTGRES_ADMIN_URL": "postgresql://admin:x@db.example:6543/postgres",
        "FOLIO_RABBITMQ_AMQP_URL": "amqp://mq.example:5673",
        "FOLIO_CATALOG_DB_PASSWORD": "p@ss word",
    }
    assert cli.run(["--print-env", "--vhost", "shop/main"], env) == 2
    assert "FOLIO_CATALOG_MIGRATION_DB_PASSWORD" in capsys.readouterr().err
    assert cli.run(["--print-env", "--dev", "--vhost", "shop/main"], env) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert set(lines) == {
        f"{s.upper()}_{k}_URL" for s in topology.SERVICES for k in ("DATABASE", "MIGRATION_DATABASE", "AMQP")
    }
    # Percent-encoded, which also makes it safe for a shell and an env file.
    assert (
        lines["CATALOG_DATABASE_URL"]
        == "postgresql://folio_catalog_runtime:p%40ss%20word@db.example:6543/folio_catalog"
    )
    assert lines["CATALOG_MIGRATION_DATABASE_URL"] == (
        "postgresql://folio_catalog:folio_catalog-dev@db.example:6543/folio_catalog"
    )
    assert lines["RATING_AMQP_URL"] == "amqp://folio_rating:folio_rating-dev@mq.example:5673/shop%2Fmain"


def test_service_env_defaults_to_localhost() -> None:
    urls = cli.service_env(build(dev=True), {})
    assert (
        urls["ORDERING_DATABASE_URL"]
        == "postgresql://folio_ordering_runtime:folio_ordering_runtime-dev@127.0.0.1:5432/folio_ordering"
    )
    assert urls["ORDERING_AMQP_URL"] == "amqp://folio_ordering:folio_ordering-dev@127.0.0.1:5672/folio"


def test_apply_is_the_default_command() -> None:
    assert cli.parser().parse_args(["apply", "--dry-run"]).dry_run
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["--dry-run"])  # the parser needs the command; run() supplies it


def test_an_unreachable_database_is_named_with_what_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"FOLIO_POSTGRES_ADMIN_URL": "postgresql://postgres:secret@127.0.0.1:1/postgres"}
    assert cli.run(["--dry-run", "--dev"], env) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "folio-bootstrap: cannot reach PostgreSQL at postgresql://postgres:***@127.0.0.1:1/"
    )
    assert "FOLIO_POSTGRES_ADMIN_URL" in err
    assert "secret" not in err


async def test_an_unreachable_management_api_names_the_plugin() -> None:
    url = "http://guest:guest@127.0.0.1:1"

    async def dry_run() -> None:
        async with cli._reaching_management(url), rabbitmq.management_client(url) as api:
            await rabbitmq.apply(api, build(dev=True), admin_user="guest", dry_run=True)

    with pytest.raises(cli.Unreachable) as unreachable:
        await dry_run()
    message = str(unreachable.value)
    assert "RabbitMQ management API at http://guest:***@127.0.0.1:1" in message
    assert "rabbitmq-plugins enable rabbitmq_management" in message


def test_summary_lists_changes_and_counts() -> None:
    changes = [
        Change("postgres", "role", "folio_catalog", "created"),
        Change("rabbitmq", "user", "folio_catalog", "present"),
    ]
    assert summary(changes) == (
        "     created  postgres role folio_catalog\n1 change(s) (1 created, 1 present)"
    )
    assert summary(changes, dry_run=True).startswith("would create  postgres role folio_catalog")
    assert summary(changes[1:]) == "no changes (1 present)"
