"""``folio-stack up|down|logs|status``: the system under one supervisor (honcho), for `make up`."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.config import SERVICES, StackConfig, bin_path, bootstrap_env, stack_variables
from devstack.processes import process_specs, procfile
from devstack.stack import Stack, alive, bootstrap, migrate


def _pid_file(config: StackConfig) -> Path:
    return config.run_dir / "honcho.pid"


def _running_pid(config: StackConfig) -> int | None:
    path = _pid_file(config)
    if path.exists():
        pid = int(path.read_text())
        if alive(pid):
            return pid
    return None


def up(config: StackConfig) -> int:
    if (pid := _running_pid(config)) is not None:
        print(f"already running (honcho pid {pid}); `make down` first")
        return 1
    print("bootstrapping databases, roles, vhost and users ...")
    bootstrap(config)
    variables = stack_variables(config, bootstrap_env(config))
    print("migrating every service ...")
    migrate({**os.environ, **variables})
    config.run_dir.mkdir(parents=True, exist_ok=True)
    config.mail_dir.mkdir(parents=True, exist_ok=True)
    env_file = config.run_dir / "env"
    env_file.write_text("".join(f"{key}={shlex.quote(value)}\n" for key, value in variables.items()))
    env_file.chmod(0o600)
    (config.run_dir / "Procfile").write_text(procfile(process_specs(config)))
    log = (config.run_dir / "folio.log").open("ab")
    honcho = subprocess.Popen(
        [bin_path("honcho"), "start", "-f", str(config.run_dir / "Procfile"), "-e", str(env_file),
         "-d", os.getcwd()],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    _pid_file(config).write_text(str(honcho.pid))
    try:
        Stack(config).wait_ready(timeout=120)
    except (TimeoutError, RuntimeError) as exc:
        print(f"the system did not come up: {exc}; see {config.run_dir / 'folio.log'}", file=sys.stderr)
        down(config)
        return 1
    print("Folio is up:")
    for service in SERVICES:
        probes = config.worker_url(service)
        print(f"  {service:<13} {config.api_url(service)}/docs   (worker probes {probes})")
    print(f"  {'mail sink':<13} {config.mail_url}/messages   (SMTP {config.host}:{config.smtp_port})")
    print(f"  tokens: FOLIO_AUTH_LOCAL_SECRET=$(cat {config.run_dir / 'auth-secret'}) folio-token mint ...")
    print("  `make logs` follows the logs, `make down` stops everything")
    return 0


def down(config: StackConfig) -> int:
    pid = _running_pid(config)
    if pid is None:
        print("not running")
        return 0
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
    _pid_file(config).unlink(missing_ok=True)
    print("stopped")
    return 0


def logs(config: StackConfig) -> int:
    return subprocess.call(["tail", "-n", "100", "-F", str(config.run_dir / "folio.log")])


def status(config: StackConfig) -> int:
    pid = _running_pid(config)
    print(f"running (honcho pid {pid})" if pid else "not running")
    return 0 if pid else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="folio-stack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "logs", "status"])
    parser.add_argument("--prefix", default=os.environ.get("FOLIO_PREFIX", "folio"))
    parser.add_argument("--vhost", default=os.environ.get("FOLIO_VHOST", "folio"))
    parser.add_argument("--run-dir", type=Path, default=Path(".run"))
    args = parser.parse_args(argv)
    config = StackConfig(prefix=args.prefix, vhost=args.vhost, run_dir=args.run_dir)
    commands = {"up": up, "down": down, "logs": logs, "status": status}
    raise SystemExit(commands[args.command](config))
