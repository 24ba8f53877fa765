"""The exported files are the bootstrap's one description, in forms compose and a broker at boot load;
the live apply applies the same steps and items."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from contracts import topology
from folio_ops.bootstrap import cli
from folio_ops.bootstrap.definitions import build
from folio_ops.bootstrap.exporters import postgres_init, rabbitmq_definitions
from folio_ops.bootstrap.passwords import RABBIT_HASHING, rabbit_password_matches
from folio_ops.bootstrap.postgres_plan import DEFAULT_DATABASES, literal, steps


def test_rabbitmq_definitions_hold_vhost_users_permissions_and_exchanges() -> None:
    definitions = build(dev=True)
    document = rabbitmq_definitions(definitions)
    assert document["vhosts"] == [{"name": "folio"}]
    users = {u["name"]: u for u in document["users"]}
    assert set(users) == {s.amqp_user for s in definitions.services}
    for service in definitions.services:
        user = users[service.amqp_user]
        assert user["tags"] == []
        assert user["hashing_algorithm"] == RABBIT_HASHING
        assert rabbit_password_matches(user["password_hash"], RABBIT_HASHING, service.amqp_password)
    permissions = {p["user"]: p for p in document["permissions"]}
    assert permissions["folio_ordering"] == {
        "user": "folio_ordering",
        "vhost": "folio",
        "configure": r"^ordering\.",
        "write": r"^(ordering\..*|catalog\.commands)$",
        "read": r"^(ordering\..*|catalog\.events)$",
    }
    exchanges = {e["name"]: e for e in document["exchanges"]}
    assert exchanges["catalog.commands"] == {
        "name": "catalog.commands",
        "vhost": "folio",
        "type": "direct",
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }
    assert exchanges["rating.events"]["type"] == "topic"
    queues = {q["name"]: q for q in document["queues"]}
    assert queues["catalog.reserve_stock"]["arguments"]["x-queue-type"] == "quorum"
    assert {q.name for q in definitions.queues} == set(queues)
    assert {
        "source": "catalog.commands",
        "vhost": "folio",
        "destination": "catalog.reserve_stock",
        "destination_type": "queue",
        "routing_key": "folio.catalog.reserve-stock.v1",
        "arguments": {},
    } in document["bindings"]
    topic = [p for p in document["topic_permissions"] if p["user"] == "folio_rating"]
    assert {p["exchange"] for p in topic} == {f"{s}.events" for s in topology.SERVICES}
    assert rabbitmq_definitions(definitions) == document  # reproducible


def test_rabbitmq_definitions_can_add_an_administrator() -> None:
    document = rabbitmq_definitions(build(dev=True), admin=("admin", "s3cret"))
    admin = document["users"][0]
    assert (admin["name"], admin["tags"]) == ("admin", ["administrator"])
    assert rabbit_password_matches(admin["password_hash"], RABBIT_HASHING, "s3cret")
    assert document["permissions"][0] == {
        "user": "admin",
        "vhost": "folio",
        "configure": ".*",
        "write": ".*",
        "read": ".*",
    }


def statements_outside_do_blocks(script: str) -> list[str]:
    without_blocks = re.sub(r"DO \$folio\$.*?\$folio\$;", "", script, flags=re.S)
    lines = [line for line in without_blocks.splitlines() if line.strip() and not line.startswith("--")]
    return " ".join(lines).split(";")


def test_postgres_init_is_plain_idempotent_sql() -> None:
    definitions = build(dev=True)
    script = postgres_init(definitions)
    # Plain SQL: no psql meta-command (\gexec, \if, \connect) anywhere.
    assert not any(line.lstrip().startswith("\\") for line in script.splitlines())
    assert script.count("$folio$") % 2 == 0
    # Every statement run outside a DO block is safe to repeat.
    repeatable = ("GRANT ", "REVOKE ", "ALTER DATABASE ", "CREATE SCHEMA IF NOT EXISTS ", "DROP SCHEMA ")
    for statement in statements_outside_do_blocks(script):
        if statement.strip():
            assert statement.strip().startswith(repeatable), statement
    for service in definitions.services:
        owner, runtime = service.migration_role, service.runtime_role
        for role in (owner, runtime):
            assert f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}')" in script
            assert f'GRANT "folio_services" TO "{role}";' in script
        assert f"IF NOT EXISTS (SELECT FROM pg_database WHERE datname = '{service.database}')" in script
        assert f'\'CREATE DATABASE "{service.database}" OWNER "{owner}"\'' in script
        assert f'REVOKE ALL ON DATABASE "{service.database}" FROM PUBLIC;' in script
        assert f'GRANT CONNECT, TEMPORARY ON DATABASE "{service.database}" TO "{owner}";' in script
        assert f'GRANT CONNECT ON DATABASE "{service.database}" TO "{runtime}";' in script
        assert f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA public' in script
        # Verifiers only, never a clear-text password.
        assert service.migration_password not in script
        assert service.runtime_password not in script
    assert "SCRAM-SHA-256$4096:" in script
    assert postgres_init(definitions) == script  # reproducible


def test_the_script_runs_every_statement_the_live_apply_may_run() -> None:
    definitions = build(dev=True)
    script = postgres_init(definitions)
    plan = steps(definitions, lock=DEFAULT_DATABASES)
    assert {s.kind for s in plan} == {"role", "database", "grant"}
    for step in plan:
        for statement in (*step.create, *step.statements):
            # Inside a dblink call a statement is a quoted literal.
            assert statement in script or literal(statement)[1:-1] in script, statement


def test_postgres_init_locks_default_databases_unless_told_not_to() -> None:
    locked = postgres_init(build(dev=True))
    assert 'REVOKE CONNECT ON DATABASE "postgres" FROM PUBLIC;' in locked
    assert 'REVOKE CONNECT ON DATABASE "template1" FROM PUBLIC;' in locked
    assert 'DATABASE "postgres"' not in postgres_init(build(dev=True), lock_default_databases=False)


def test_cli_writes_the_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "definitions.json"
    assert cli.run(["export-rabbitmq-definitions", "--vhost", "v", "-o", str(target)], {}) == 2
    assert "--dev" in capsys.readouterr().err
    assert not target.exists()
    assert cli.run(["export-rabbitmq-definitions", "--dev", "--vhost", "v", "-o", str(target)], {}) == 0
    assert json.loads(target.read_text())["vhosts"] == [{"name": "v"}]

    assert cli.run(["export-rabbitmq-definitions", "--dev", "--admin-user", "admin"], {}) == 2
    assert "FOLIO_RABBITMQ_ADMIN_PASSWORD" in capsys.readouterr().err
    env = {"FOLIO_RABBITMQ_ADMIN_PASSWORD": "pw", "FOLIO_BOOTSTRAP_DEV": "1"}
    assert cli.run(["export-rabbitmq-definitions", "--admin-user", "admin"], env) == 0
    assert json.loads(capsys.readouterr().out)["users"][0]["name"] == "admin"

    assert (
        cli.run(["export-postgres-init", "--dev", "--prefix", "shop", "--keep-default-databases-open"], {})
        == 0
    )
    script = capsys.readouterr().out
    assert "shop_catalog" in script
    assert "template1" not in script
