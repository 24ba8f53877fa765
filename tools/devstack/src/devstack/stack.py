"""A running stack of real processes that tests can stop, kill and restart one by one."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

from devstack.config import SERVICES, StackConfig, bin_path, bootstrap_env, service_env
from devstack.processes import ProcessSpec, process_specs


def bootstrap(config: StackConfig, *, teardown: bool = False) -> None:
    command = "teardown" if teardown else "apply"
    subprocess.run(
        [bin_path("folio-bootstrap"), command, "--prefix", config.prefix, "--vhost", config.vhost],
        check=True,
        capture_output=True,
        text=True,
    )


def migrate(env: dict[str, str]) -> None:
    for service in SERVICES:
        command = [bin_path(f"folio-{service}"), "migrate"]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{service} migrate failed:\n{result.stdout}\n{result.stderr}")


class Stack:
    """Processes started with Popen, each logging to ``<run_dir>/logs/<name>.log``."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.specs = {spec.name: spec for spec in process_specs(config)}
        self.env: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def log_dir(self) -> Path:
        return self.config.run_dir / "logs"

    def prepare(self) -> None:
        """Bootstrap the databases, roles, vhost and users, and migrate every service."""
        bootstrap(self.config)
        self.env = service_env(self.config, bootstrap_env(self.config))
        migrate(self.env)

    def start(self, names: Iterable[str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.config.mail_dir.mkdir(parents=True, exist_ok=True)
        for name in names or self.specs:
            spec = self.specs[name]
            log = (self.log_dir / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(
                spec.argv, env={**self.env, **spec.env}, stdout=log, stderr=subprocess.STDOUT
            )

    def signal(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)

    def stop(self) -> None:
        for name in list(self.processes):
            self.signal(name)

    def wait_ready(self, names: Iterable[str] | None = None, timeout: float = 90) -> None:
        pending = {name: self.specs[name] for name in (names or self.specs)}
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while pending:
                for name, spec in list(pending.items()):
                    process = self.processes.get(name)
                    if process is not None and process.poll() is not None:
                        raise RuntimeError(f"{name} exited with {process.returncode}: see {self._log(name)}")
                    if spec.ready_url is None or _answers(client, spec.ready_url):
                        del pending[name]
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout}s: {', '.join(pending)}")
                time.sleep(0.3)

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def teardown(self) -> None:
        self.stop()
        bootstrap(self.config, teardown=True)


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


__all__ = ["ProcessSpec", "Stack", "alive", "bootstrap", "migrate"]
