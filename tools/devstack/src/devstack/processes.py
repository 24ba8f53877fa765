"""The processes of a stack: each service's api and worker, and the SMTP sink. One list serves the
Procfile of `make up` and the end-to-end tests, so both run the system the same way."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field

from devstack.config import SERVICES, StackConfig, bin_path

# How long `make down` lets each process stop gracefully before it is killed (the chassis gives a worker's
# consumers 15 s to finish the deliveries in hand).
GRACEFUL_STOP_SECONDS = 25


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    # Added to the stack's environment for this process only.
    env: dict[str, str] = field(default_factory=dict)
    # Polled until it answers 200; None for processes without probes.
    ready_url: str | None = None


def process_specs(config: StackConfig) -> list[ProcessSpec]:
    specs = [
        ProcessSpec(
            name="mail",
            argv=(
                sys.executable, "-m", "folio_ops.mail_sink",
                "--host", config.host, "--smtp-port", str(config.smtp_port),
                "--http-port", str(config.mail_http_port), "--maildir", str(config.mail_dir),
            ),
            ready_url=f"{config.mail_url}/health",
        )
    ]  # fmt: skip
    for service in SERVICES:
        script = bin_path(f"folio-{service}")
        port = f"{service.upper()}_HTTP_PORT"
        for replica in range(config.replicas):
            specs.append(
                ProcessSpec(
                    name=process_name(config, service, "api", replica),
                    argv=(script, "api"),
                    env={port: str(config.api_http_port(service, replica))},
                    ready_url=f"{config.api_url(service, replica)}/health/ready",
                )
            )
            specs.append(
                ProcessSpec(
                    name=process_name(config, service, "worker", replica),
                    argv=(script, "worker"),
                    env={port: str(config.worker_http_port(service, replica))},
                    ready_url=f"{config.worker_url(service, replica)}/health/ready",
                )
            )
    return specs


def process_name(config: StackConfig, service: str, role: str, replica: int = 0) -> str:
    """``catalog-worker`` with one replica; ``catalog-worker-1``, ``catalog-worker-2`` with two."""
    name = f"{service}-{role}"
    return name if config.replicas == 1 else f"{name}-{replica + 1}"


def replica_names(config: StackConfig, service: str, role: str) -> list[str]:
    """Every replica of one service's role, as the process list names them."""
    return [process_name(config, service, role, replica) for replica in range(config.replicas)]


def procfile(specs: list[ProcessSpec]) -> str:
    """A Procfile for honcho; per-process settings ride on `env` so the shared .env stays one file."""
    lines = []
    for spec in specs:
        assignments = [f"{key}={shlex.quote(value)}" for key, value in spec.env.items()]
        command = shlex.join(spec.argv)
        lines.append(f"{spec.name}: exec env {' '.join(assignments)} {command}".replace("env  ", "env "))
    return "\n".join(lines) + "\n"
