"""Where a stack's pieces live: names, ports and the environment each process gets."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SERVICES: tuple[str, ...] = ("catalog", "ordering", "rating", "notification")


def bin_path(name: str) -> str:
    """A console script of this environment (the venv the stack runs from)."""
    return str(Path(sys.executable).with_name(name))


@dataclass(frozen=True)
class StackConfig:
    """One stack: its databases and vhost are named by ``prefix``/``vhost``; ports by ``api_port``."""

    prefix: str = "folio"
    vhost: str = "folio"
    run_dir: Path = Path(".run")
    # APIs listen on api_port + i (catalog, ordering, rating, notification), worker probes on worker_port + i.
    api_port: int = 8001
    worker_port: int = 9001
    smtp_port: int = 1025
    mail_http_port: int = 8025
    host: str = "127.0.0.1"
    # Saga timing, small enough for tests to watch a deadline pass.
    extra_env: dict[str, str] = field(default_factory=dict)

    def api_url(self, service: str) -> str:
        return f"http://{self.host}:{self.api_port + SERVICES.index(service)}"

    def worker_url(self, service: str) -> str:
        return f"http://{self.host}:{self.worker_port + SERVICES.index(service)}"

    @property
    def mail_url(self) -> str:
        return f"http://{self.host}:{self.mail_http_port}"

    @property
    def mail_dir(self) -> Path:
        return self.run_dir / "mail"

    def secret(self) -> str:
        """The local JWT key, made once per run directory so tokens outlive a restart."""
        path = self.run_dir / "auth-secret"
        if not path.exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()


def bootstrap_env(config: StackConfig) -> dict[str, str]:
    """Each service's database and broker URLs, as the bootstrap defines them."""
    out = subprocess.run(
        [bin_path("folio-bootstrap"), "--print-env", "--prefix", config.prefix, "--vhost", config.vhost],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def stack_variables(config: StackConfig, urls: dict[str, str]) -> dict[str, str]:
    """What the stack sets for every process, on top of the caller's environment."""
    env = dict(urls)
    env["FOLIO_AUTH_LOCAL_SECRET"] = config.secret()
    env["FOLIO_HTTP_HOST"] = config.host
    env["FOLIO_LOG_JSON"] = "true"
    env["NOTIFICATION_SMTP_HOST"] = config.host
    env["NOTIFICATION_SMTP_PORT"] = str(config.smtp_port)
    for i, service in enumerate(SERVICES):
        env[f"{service.upper()}_HTTP_PORT"] = str(config.api_port + i)
    env.update(config.extra_env)
    return env


def service_env(config: StackConfig, urls: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **stack_variables(config, urls)}
