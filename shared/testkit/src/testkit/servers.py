"""Where the test servers are.

Tests take PostgreSQL and RabbitMQ from environment URLs. Where none is given and a Docker engine answers,
testcontainers starts them instead; otherwise the local defaults are used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class TestServers:
    # An admin connection to PostgreSQL, e.g. postgresql://postgres@127.0.0.1:5432/postgres
    postgres_url: str
    # An AMQP URL for an admin user, without vhost, e.g. amqp://guest:guest@127.0.0.1:5672/
    amqp_url: str
    # The RabbitMQ management API with admin credentials, e.g. http://guest:guest@127.0.0.1:15672
    rabbitmq_management_url: str


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@cache
def test_servers() -> TestServers:
    env = os.environ
    if "FOLIO_TEST_POSTGRES_URL" not in env and "FOLIO_TEST_AMQP_URL" not in env and _docker_available():
        return _start_containers()
    return TestServers(
        postgres_url=env.get("FOLIO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        amqp_url=env.get("FOLIO_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        rabbitmq_management_url=env.get(
            "FOLIO_TEST_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672"
        ),
    )


def _start_containers() -> TestServers:  # pragma: no cover - needs a Docker engine
    import atexit

    from testcontainers.postgres import PostgresContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    postgres = PostgresContainer("postgres:15", driver=None).start()
    rabbit = RabbitMqContainer("rabbitmq:3-management").with_exposed_ports(5672, 15672).start()
    atexit.register(postgres.stop)
    atexit.register(rabbit.stop)
    host = rabbit.get_container_host_ip()
    return TestServers(
        postgres_url=postgres.get_connection_url(),
        amqp_url=f"amqp://guest:guest@{host}:{rabbit.get_exposed_port(5672)}/",
        rabbitmq_management_url=f"http://guest:guest@{host}:{rabbit.get_exposed_port(15672)}",
    )
