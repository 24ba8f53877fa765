"""A running stack of real processes that tests can stop, kill and restart one by one."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx

from devstack.config import (
    SERVICES,
    StackConfig,
    bin_path,
    bootstrap_env,
    bootstrap_process_env,
    service_env,
)
from devstack.processes import ProcessSpec, process_specs, replica_names


def bootstrap(config: StackConfig, *, teardown: bool = False) -> None:
    command = "teardown" if teardown else "apply"
    argv = [bin_path("folio-bootstrap"), command, "--dev", "--prefix", config.prefix, "--vhost", config.vhost]
    # The stack's own settings (retry delays) too: the retry queues must match what its workers declare.
    env = {**bootstrap_process_env(config), **config.extra_env}
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"folio-bootstrap {command} failed:\n{result.stdout}\n{result.stderr}")


def migrate(env: dict[str, str]) -> None:
    """Every service's migrations, side by side (each has its own database)."""
    running = {
        service: subprocess.Popen(
            [bin_path(f"folio-{service}"), "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for service in SERVICES
    }
    failures = []
    for service, process in running.items():
        output, _ = process.communicate()
        if process.returncode != 0:
            failures.append(f"{service} migrate failed:\n{output}")
    if failures:
        raise RuntimeError("\n".join(failures))


class Stack:
    """Processes started with Popen, each logging to ``<run_dir>/logs/<name>.log``.

    A process gets SIGKILL when the thread that started it ends (so none outlives a killed test run):
    start them from the main thread.
    """

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
        for name in self.specs if names is None else names:
            if self.running(name):
                continue
            spec = self.specs[name]
            with self._log(name).open("ab") as log:
                self.processes[name] = subprocess.Popen(
                    spec.argv,
                    env={**self.env, **spec.env},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                )

    def replicas(self, service: str, role: str) -> list[str]:
        """The process names of every replica of ``service``'s ``role`` (``api`` or ``worker``)."""
        return replica_names(self.config, service, role)

    def pause(self, name: str) -> None:
        """SIGSTOP: the process keeps its connections but answers nothing until :meth:`resume`."""
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def signal(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Send ``sig`` to ``name`` and wait for it to end (killing it after ``timeout``)."""
        process = self.processes.get(name)
        if process is not None and process.poll() is None:
            process.send_signal(sig)
        self._reap(name, timeout)

    def _reap(self, name: str, timeout: float) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self, name: str) -> None:
        self.signal(name, signal.SIGKILL)

    def stop(self, names: Iterable[str] | None = None, timeout: float = 30) -> None:
        """SIGTERM to every process named (all by default) at once, then wait for each to stop.

        One SIGTERM only: a second one tells a service to cut its graceful shutdown short.
        """
        chosen = list(self.processes) if names is None else [n for n in names if n in self.processes]
        for name in chosen:
            if self.processes[name].poll() is None:
                self.processes[name].send_signal(signal.SIGTERM)
        for name in chosen:
            self._reap(name, timeout)

    def wait_ready(
        self,
        names: Iterable[str] | None = None,
        timeout: float = 90,
        guard: Callable[[], None] | None = None,
    ) -> None:
        """Poll every process' readiness probe; raise if one exits or ``timeout`` passes first.

        ``guard`` is called between polls and may raise to give up early (a supervisor that died).
        """
        pending = {name: self.specs[name] for name in (self.specs if names is None else names)}
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
                if guard is not None:
                    guard()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout}s: {', '.join(pending)}")
                time.sleep(0.3)

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def teardown(self, stop_timeout: float = 30) -> None:
        """Stop every process, then drop the databases, roles, users and vhost (even if stopping failed)."""
        try:
            self.stop(timeout=stop_timeout)
        finally:
            bootstrap(self.config, teardown=True)


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent (a test run) dies, so no process outlives it (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


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
