"""``folio-stack up|down|logs|status|demo``: the system under one supervisor (honcho), for `make up`.

Ports (defaults: APIs 8001-8004, worker probes 9001-9004, SMTP 1025, mail sink HTTP 8025) can be moved with
the options below or ``FOLIO_STACK_API_PORT``, ``FOLIO_STACK_WORKER_PORT``, ``FOLIO_STACK_SMTP_PORT`` and
``FOLIO_STACK_MAIL_PORT``; ``--replicas`` (``FOLIO_STACK_REPLICAS``, default 1) runs that many of every
api and worker. ``up`` remembers them in ``<run-dir>/stack.json`` for the other commands.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from chassis import defaults
from devstack import demo
from devstack.config import SERVICES, StackConfig, bootstrap_env, port_free, stack_variables
from devstack.processes import GRACEFUL_STOP_SECONDS, process_specs, procfile
from devstack.stack import Stack, alive, bootstrap, migrate

READY_TIMEOUT = 120.0


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
    taken = [port for port in config.ports() if not port_free(port, config.host)]
    if taken:
        print(
            f"ports already in use: {taken}; free them or move the stack (folio-stack --help)",
            file=sys.stderr,
        )
        return 1
    print(f"bootstrapping databases, roles, vhost {config.vhost!r} and users (prefix {config.prefix!r}) ...")
    bootstrap(config)
    variables = stack_variables(config, bootstrap_env(config))
    print("migrating every service ...")
    migrate({**os.environ, **variables})
    config.run_dir.mkdir(parents=True, exist_ok=True)
    config.mail_dir.mkdir(parents=True, exist_ok=True)
    config.save()
    # Also handed to honcho as its env file: without -e it would read a ./.env meant for docker compose.
    env_file = config.run_dir / "env"
    env_file.write_text("".join(f"{key}={shlex.quote(value)}\n" for key, value in variables.items()))
    env_file.chmod(0o600)
    (config.run_dir / "Procfile").write_text(procfile(process_specs(config)))
    log_path = config.run_dir / "folio.log"
    with log_path.open("ab") as log:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "devstack.supervisor", "start", "-f", str(config.run_dir / "Procfile"),
             "-e", str(env_file), "-d", os.getcwd()],
            env={**os.environ, **variables}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    _pid_file(config).write_text(str(honcho.pid))

    def supervisor_alive() -> None:
        if honcho.poll() is not None:
            raise RuntimeError(f"honcho exited with {honcho.returncode}")

    print("starting every service's api and worker and the mail sink ...")
    try:
        Stack(config).wait_ready(timeout=READY_TIMEOUT, guard=supervisor_alive)
    except (TimeoutError, RuntimeError) as exc:
        print(f"the system did not come up: {exc}; see {log_path}", file=sys.stderr)
        down(config)
        return 1
    print("Folio is up:")
    for service in SERVICES:
        probes = config.worker_url(service)
        print(f"  {service:<13} {config.api_url(service)}/api/v1/docs  (worker probes {probes}/health/ready)")
    print(f"  {'mail sink':<13} {config.mail_url}/messages   (SMTP {config.host}:{config.smtp_port})")
    print(f"  logs          {log_path} (`make logs` follows them)")
    print(f"  tokens        FOLIO_AUTH_LOCAL_SECRET=$(cat {config.run_dir / 'auth-secret'}) folio-token mint")
    print("  `make demo` walks through it, `make down` stops everything")
    return 0


def down(config: StackConfig) -> int:
    pid = _running_pid(config)
    if pid is None:
        print("not running")
        return 0
    # honcho passes the SIGTERM on to every process (each in a session of its own) and waits for them.
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACEFUL_STOP_SECONDS + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
    _pid_file(config).unlink(missing_ok=True)
    print("stopped")
    return 0


def logs(config: StackConfig) -> int:
    path = config.run_dir / "folio.log"
    if not path.exists():
        print(f"no logs yet at {path}; `make up` first", file=sys.stderr)
        return 1
    try:
        return subprocess.call(["tail", "-n", "100", "-F", str(path)])
    except KeyboardInterrupt:
        return 0


def status(config: StackConfig) -> int:
    pid = _running_pid(config)
    print(f"running (honcho pid {pid})" if pid else "not running")
    return 0 if pid else 1


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="folio-stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "logs", "status", "demo"])
    parser.add_argument("--prefix", default=os.environ.get("FOLIO_PREFIX", defaults.PREFIX))
    parser.add_argument("--vhost", default=os.environ.get("FOLIO_VHOST", defaults.VHOST))
    parser.add_argument("--run-dir", type=Path, default=Path(os.environ.get("FOLIO_STACK_RUN_DIR", ".run")))
    parser.add_argument("--api-port", type=int, default=_int_env("FOLIO_STACK_API_PORT", 8001))
    parser.add_argument("--worker-port", type=int, default=_int_env("FOLIO_STACK_WORKER_PORT", 9001))
    parser.add_argument("--smtp-port", type=int, default=_int_env("FOLIO_STACK_SMTP_PORT", 1025))
    parser.add_argument("--mail-port", type=int, default=_int_env("FOLIO_STACK_MAIL_PORT", 8025))
    parser.add_argument(
        "--replicas",
        type=int,
        default=_int_env("FOLIO_STACK_REPLICAS", 1),
        help="api and worker processes per service",
    )
    demo.add_arguments(parser)
    args = parser.parse_args(argv)
    config = StackConfig(
        prefix=args.prefix,
        vhost=args.vhost,
        run_dir=args.run_dir,
        api_port=args.api_port,
        worker_port=args.worker_port,
        smtp_port=args.smtp_port,
        mail_http_port=args.mail_port,
        replicas=args.replicas,
    )
    if args.command != "up":
        # The other commands act on the stack `up` started from this run directory, wherever it listens.
        config = StackConfig.load(args.run_dir) or config
    if args.command == "demo":
        raise SystemExit(demo.run(config, args.timeout))
    commands = {"up": up, "down": down, "logs": logs, "status": status}
    raise SystemExit(commands[args.command](config))
