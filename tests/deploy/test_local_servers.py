"""`make infra`'s first step on a fresh machine: a stopped RabbitMQ with its management plugin off.

Shown on a private node of the test's own (the machine's shared broker is never stopped or reconfigured):
scripts/local_servers.sh starts it and switches the plugin on, and the management API then answers.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from testkit import servers as test_servers_module
from testkit.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_servers.sh"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None,
        reason="needs a RabbitMQ installed on this machine",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="a second node runs as the rabbitmq user: needs root"),
]


@pytest.fixture
def private_node() -> Iterator[tuple[dict[str, str], int]]:
    """Env selecting a stopped node of our own with no plugin enabled, and its management port."""
    # Not under pytest's temporary directory: the rabbitmq user must reach it.
    base = Path(tempfile.mkdtemp(prefix="folio-rabbit-"))
    management_port, amqp_port, dist_port = free_port(), free_port(), free_port()
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text(
        f"management.tcp.port = {management_port}\nmanagement.tcp.ip = 127.0.0.1\n"
    )
    (base / "rabbitmq-env.conf").write_text("")
    rabbit = pwd.getpwnam("rabbitmq")
    for path in (base, *base.iterdir()):
        os.chown(path, rabbit.pw_uid, rabbit.pw_gid)
    base.chmod(0o755)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "RABBITMQ_NODENAME": f"folio_t{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "FOLIO_RABBITMQ_MANAGEMENT_URL": f"http://guest:guest@127.0.0.1:{management_port}",
        # The shared server answers already: the script only checks it.
        "FOLIO_POSTGRES_ADMIN_URL": test_servers_module.test_servers().postgres_url,
    }
    try:
        yield env, management_port
    finally:
        # This node only: RABBITMQ_NODENAME names the private node.
        subprocess.run(["rabbitmqctl", "-q", "stop"], env=env, capture_output=True, timeout=120, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_a_stopped_broker_with_the_management_plugin_off_is_started_and_switched_on(
    private_node: tuple[dict[str, str], int],
) -> None:
    env, management_port = private_node
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{management_port}/api/overview", timeout=2)

    result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False)

    assert result.returncode == 0, result.stderr
    assert "starting it (rabbitmq-server -detached)" in result.stderr
    assert "enabling it (rabbitmq-plugins enable rabbitmq_management)" in result.stderr
    overview = httpx.get(
        f"http://127.0.0.1:{management_port}/api/overview", auth=("guest", "guest"), timeout=10
    )
    assert overview.status_code == 200
    assert overview.json()["node"] == env["RABBITMQ_NODENAME"]
    # Run again, it finds everything in place and says nothing.
    again = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (again.returncode, again.stderr) == (0, "")
