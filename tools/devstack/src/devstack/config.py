"""Where a stack's pieces live: names, ports and the environment each process gets."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from chassis import defaults
from contracts import topology

# Every service of the system, in the order of the one list the bootstrap and `make new-service` use too:
# a generated service is appended there, so `make up` migrates and starts it without an edit here, and the
# existing services keep their ports (each port is by position in this list).
SERVICES: tuple[str, ...] = topology.SERVICES
STATE_FILE = "stack.json"


def bin_path(name: str) -> str:
    """A console script of this environment (the venv the stack runs from)."""
    return str(Path(sys.executable).with_name(name))


@dataclass(frozen=True)
class StackConfig:
    """One stack: its databases and vhost are named by ``prefix``/``vhost``; ports by ``api_port``."""

    prefix: str = defaults.PREFIX
    vhost: str = defaults.VHOST
    run_dir: Path = Path(".run")
    # Processes per service and role (`make up` runs one; the end-to-end tests run two, as deploy/base does).
    replicas: int = 1
    # APIs listen on api_port + r * n + i (replica r, n services, i the service's place in SERVICES: catalog,
    # ordering, rating, notification, then any added), worker probes on worker_port + r * n + i.
    api_port: int = 8001
    worker_port: int = 9001
    smtp_port: int = 1025
    mail_http_port: int = 8025
    host: str = "127.0.0.1"
    # Set for every process on top of the stack's own variables (tests shrink the saga's timeouts here).
    extra_env: dict[str, str] = field(default_factory=dict)
    # The PostgreSQL superuser the stack bootstraps its databases with; None: the test servers' (or the
    # bootstrap's default). A drill that restarts PostgreSQL points this at a private server.
    postgres_admin_url: str | None = None

    def api_http_port(self, service: str, replica: int = 0) -> int:
        return self.api_port + replica * len(SERVICES) + SERVICES.index(service)

    def worker_http_port(self, service: str, replica: int = 0) -> int:
        return self.worker_port + replica * len(SERVICES) + SERVICES.index(service)

    def api_url(self, service: str, replica: int = 0) -> str:
        return f"http://{self.host}:{self.api_http_port(service, replica)}"

    def worker_url(self, service: str, replica: int = 0) -> str:
        return f"http://{self.host}:{self.worker_http_port(service, replica)}"

    @property
    def mail_url(self) -> str:
        return f"http://{self.host}:{self.mail_http_port}"

    @property
    def mail_dir(self) -> Path:
        return self.run_dir / "mail"

    def ports(self) -> list[int]:
        count = len(SERVICES) * self.replicas
        return [
            *range(self.api_port, self.api_port + count),
            *range(self.worker_port, self.worker_port + count),
            self.smtp_port,
            self.mail_http_port,
        ]

    def secret(self) -> str:
        """The local JWT key, made once per run directory so tokens outlive a restart."""
        path = self.run_dir / "auth-secret"
        if not path.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def save(self) -> None:
        """Remember where this stack listens, for ``folio-stack demo|status`` and other clients."""
        data = {**asdict(self), "run_dir": str(self.run_dir)}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / STATE_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> StackConfig | None:
        """The stack last started from ``run_dir``, or None if none was."""
        path = run_dir / STATE_FILE
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return replace(cls(**{**data, "run_dir": Path(data["run_dir"])}), run_dir=run_dir)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def with_free_ports(config: StackConfig, *, low: int = 20000, high: int = 32000) -> StackConfig:
    """``config`` moved to a block of ports nobody listens on (tests run beside a `make up` stack).

    Below Linux's ephemeral range (32768 and up): a process that starts slowly must not find its port
    taken meanwhile by the local end of somebody's outgoing connection.
    """
    count = len(SERVICES) * config.replicas
    rng = secrets.SystemRandom()
    for _ in range(200):
        base = rng.randrange(low, high - 3 * count, 10)
        moved = replace(
            config,
            api_port=base,
            worker_port=base + count,
            smtp_port=base + 2 * count,
            mail_http_port=base + 2 * count + 1,
        )
        if all(port_free(port, config.host) for port in moved.ports()):
            return moved
    raise RuntimeError("found no block of free ports")


def bootstrap_env(config: StackConfig) -> dict[str, str]:
    """Each service's database and broker URLs, as the bootstrap defines them."""
    out = subprocess.run(
        [
            bin_path("folio-bootstrap"),
            "apply",
            "--print-env",
            "--dev",
            "--prefix",
            config.prefix,
            "--vhost",
            config.vhost,
        ],
        check=True,
        capture_output=True,
        text=True,
        env=bootstrap_process_env(config),
    ).stdout
    values: dict[str, str] = {}
    for line in out.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            # --print-env quotes for a shell where a value needs it.
            values[key] = shlex.split(value)[0] if value else value
    return values


def bootstrap_process_env(config: StackConfig) -> dict[str, str]:
    """The environment folio-bootstrap runs with: the caller's, pointed at the stack's PostgreSQL."""
    env = dict(os.environ)
    if config.postgres_admin_url is not None:
        env["FOLIO_POSTGRES_ADMIN_URL"] = config.postgres_admin_url
    return env


def stack_variables(config: StackConfig, urls: dict[str, str]) -> dict[str, str]:
    """What the stack sets for every process, on top of the caller's environment."""
    env = dict(urls)
    env["FOLIO_AUTH_LOCAL_SECRET"] = config.secret()
    env["FOLIO_HTTP_HOST"] = config.host
    env["FOLIO_LOG_JSON"] = "true"
    env["NOTIFICATION_SMTP_HOST"] = config.host
    env["NOTIFICATION_SMTP_PORT"] = str(config.smtp_port)
    for service in SERVICES:
        env[f"{service.upper()}_HTTP_PORT"] = str(config.api_http_port(service))
    env.update(config.extra_env)
    return env


def service_env(config: StackConfig, urls: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **stack_variables(config, urls)}
