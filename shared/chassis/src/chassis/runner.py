"""Every service's entry point: ``python -m <service> api|worker|all|migrate``.

- ``api``: the FastAPI app under uvicorn on ``http_host:http_port``.
- ``worker``: the FastStream consumers, the outbox relay (when the definition sets ``relay``), the
  service's timers, the chassis' own pruning and backlog gauges, plus a small HTTP server with
  ``/health/live``, ``/health/ready`` and ``/metrics`` on the same port setting (the worker runs in its own
  container or pod).
- ``all``: migrate, then ``api`` and ``worker`` together in one process and event loop (local use).
- ``migrate``: upgrade the service's database to the head revision and exit.

SIGTERM or SIGINT stops a role gracefully: consumers stop taking deliveries and finish the ones in
hand, the relay and timers return, the servers close, connections are released. A second signal cuts the
shutdown short.

Every role runs on uvloop (``uvloop = false`` in the settings falls back to asyncio's own loop), and the
HTTP servers parse with httptools: profiles showed the event loop and HTTP parsing a good part of each
process's CPU at a few hundred requests and messages a second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from datetime import timedelta
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from chassis.app import create_api
from chassis.definition import AppResources, BackgroundTask, Resources, S, ServiceDefinition, U
from chassis.health import HealthChecks, broker_check, database_check, health_router, migrations_check
from chassis.http.date import DateHeader
from chassis.http.idempotency import prune_idempotency_keys
from chassis.lifecycle import Stopped, open_resources, sleep_unless_stopped, wait_for_database, with_backoff
from chassis.messaging.consumer import RetryPolicy
from chassis.messaging.topology import internal_exchange
from chassis.messaging.worker import ServiceBroker, build_broker
from chassis.migrations import upgrade_to_head
from chassis.observability.backlog import collect_periodically
from chassis.observability.logging import configure_logging
from chassis.observability.metrics import broker_metrics_middleware, metrics_router
from chassis.observability.tracing import configure_tracing, shutdown_tracing, telemetry_middleware
from chassis.outbox import OutboxRelay, RelayOptions
from chassis.settings import ServiceSettings

__all__ = ["AppResources", "BackgroundTask", "ServiceDefinition", "main", "run_api", "run_worker"]

log = logging.getLogger(__name__)

ROLES = ("api", "worker", "all", "migrate")
BROKER_LOGGER = "faststream.access.rabbit"
# Time the consumers get to finish the deliveries in hand once asked to stop.
GRACEFUL_TIMEOUT = 15.0
# Time background tasks get to return after the stop event before they are cancelled.
TASK_STOP_TIMEOUT = 10.0
# The broker's whole stop: the deliveries in hand, then closing its consumers, channels and connection.
BROKER_STOP_TIMEOUT = GRACEFUL_TIMEOUT + 5.0
IDEMPOTENCY_PRUNE_INTERVAL = 600.0
MIGRATE_DATABASE_DEADLINE = 120.0


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the runner, so several can share one process, and that sleeps
    until it is told to stop.

    uvicorn's main loop wakes ten times a second, to refresh the Date header and to look for
    ``should_exit``. Every wake-up of an idle process costs a few hundred µs to a millisecond of CPU here
    (leaving the idle state costs more than the tick's work): even at one a second, the ticks of the eight
    processes were about half of what the stack spent at rest. :class:`DateHeader` dates each response as
    it starts instead, and :meth:`exit` wakes this loop.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exiting = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def exit(self) -> None:
        self.should_exit = True
        self._exiting.set()

    async def main_loop(self) -> None:
        # The first tick sets the default headers (uvicorn's Server header); the next one sees the stop.
        if await self.on_tick(0):
            return
        await self._exiting.wait()
        await self.on_tick(1)


async def serve_http(
    app: FastAPI, *, host: str, port: int, stop: asyncio.Event, name: str, access_log: bool = False
) -> None:
    """Serve ``app`` until ``stop`` is set, then shut it down (lifespan included).

    No access log by default: a JSON line per request cost more than the metrics that count them.
    """
    config = uvicorn.Config(
        DateHeader(app),
        host=host,
        port=port,
        log_config=None,
        lifespan="on",
        proxy_headers=True,
        timeout_graceful_shutdown=int(GRACEFUL_TIMEOUT),
        # The loop is the runner's (already uvloop); httptools named, so a missing one fails loudly.
        loop="none",
        http="httptools",
        access_log=access_log,
        date_header=False,
    )
    server = _EmbeddedServer(config)
    serving = asyncio.create_task(server.serve(), name=f"{name} http")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        server.exit()
        await serving
    if not server.started:
        raise RuntimeError(f"the {name} HTTP server on {host}:{port} did not start (see the log above)")


async def run_api(definition: ServiceDefinition[S, U], settings: S, stop: asyncio.Event) -> None:
    app = create_api(definition, settings)
    await serve_http(
        app,
        host=settings.http_host,
        port=settings.http_port,
        stop=stop,
        name="api",
        access_log=settings.http_access_log,
    )


def worker_probe_app(checks: HealthChecks, definition: ServiceDefinition[Any, Any]) -> FastAPI:
    """The worker's own small HTTP app: only the probes and the metrics."""
    app = FastAPI(title=f"Folio {definition.name} worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.health = checks
    app.include_router(health_router(info={"service": definition.name, "version": definition.version}))
    app.include_router(metrics_router())
    return app


def broker_logger(settings: ServiceSettings) -> logging.Logger:
    """FastStream's logger: its per-message INFO lines only when ``broker_access_log`` asks for them."""
    logger = logging.getLogger(BROKER_LOGGER)
    logger.setLevel(logging.INFO if settings.broker_access_log else logging.WARNING)
    return logger


def _broker_check(broker: ServiceBroker, service: str) -> Callable[[], Awaitable[str | None]]:
    # FastStream keeps its (robust) connection private; None until the broker first connected.
    return broker_check(lambda: broker._connection, internal_exchange(service).name)


async def _start_broker(broker: ServiceBroker) -> None:
    try:
        await broker.start()
    except BaseException:
        # A half-started broker (connected, topology not declared) must not linger into the next attempt.
        with contextlib.suppress(Exception):
            await broker.stop()
        raise


async def prune_idempotency_keys_periodically(resources: Resources) -> None:
    retention = timedelta(hours=resources.settings.idempotency_retention_hours)
    while not resources.stop.is_set():
        try:
            pruned = await prune_idempotency_keys(resources.engine, retention)
            if pruned:
                log.info("pruned %d expired idempotency keys", pruned)
        except Exception:
            log.warning("pruning idempotency keys failed; trying again later", exc_info=True)
        await sleep_unless_stopped(resources.stop, IDEMPOTENCY_PRUNE_INTERVAL)


def relay_options(settings: ServiceSettings) -> RelayOptions:
    return RelayOptions(
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval,
        idle_poll_interval=settings.outbox_idle_poll_interval,
        retention=timedelta(hours=settings.outbox_retention_hours),
    )


async def run_worker(
    definition: ServiceDefinition[S, U],
    settings: S,
    stop: asyncio.Event,
    *,
    serve_probes: bool = True,
    probe_port: int | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Consume, relay and run the timers until ``stop`` is set; then stop them all gracefully.

    The probe server listens on ``probe_port`` (default: the ``http_port`` setting) unless ``serve_probes``
    is False (the ``all`` role, whose API already serves them). ``started`` is set once consuming.
    A task that dies stops the whole worker, which then raises, so the orchestrator restarts it.
    """
    async with open_resources(definition, settings, stop) as resources:
        broker = build_broker(
            service=definition.name,
            amqp_url=settings.amqp_url,
            subscriptions=definition.subscriptions(),
            uow_factory=resources.uow_factory,
            publishes=definition.publishes,
            retry=RetryPolicy(delays=settings.retry_delays),
            prefetch=settings.consumer_prefetch,
            hold_limit=settings.consumer_hold_limit_seconds,
            # Tracing outermost, so its span covers metrics, retries, parking and the handler.
            middlewares=[telemetry_middleware(), broker_metrics_middleware(definition.name)],
            graceful_timeout=GRACEFUL_TIMEOUT,
            # Given a logger, FastStream logs through it instead of its own colourised stdout handler.
            logger=broker_logger(settings),
        )
        checks = HealthChecks(
            {
                "database": database_check(resources.engine),
                "broker": _broker_check(broker, definition.name),
                "migrations": migrations_check(resources.engine, definition.migrations_dir),
            }
        )
        tasks: list[asyncio.Task[None]] = []
        if serve_probes:
            probes = worker_probe_app(checks, definition)
            port = probe_port if probe_port is not None else settings.http_port
            serving = serve_http(probes, host=settings.http_host, port=port, stop=stop, name="worker probe")
            tasks.append(asyncio.create_task(serving, name="worker probes"))
        try:
            await wait_for_database(resources.engine, stop)
            await with_backoff(lambda: _start_broker(broker), what="the broker", stop=stop)
        except Stopped:
            await _finish(tasks)
            return
        log.info("worker of %s consuming %d subscriptions", definition.name, len(broker.subscribers))
        timers: list[BackgroundTask[S, U]] = [
            prune_idempotency_keys_periodically,
            collect_periodically,
            *definition.background,
        ]
        if definition.relay:
            relay = OutboxRelay(resources.engine, settings.amqp_url, relay_options(settings))
            tasks.append(asyncio.create_task(relay.run(stop), name="outbox relay"))
        tasks.extend(_start(timer, resources) for timer in timers)
        if started is not None:
            started.set()
        failure: BaseException | None = None
        try:
            failure = await _until_stopped_or_failed(stop, tasks)
        finally:
            stop.set()
            try:
                # Stops consuming and waits (up to GRACEFUL_TIMEOUT) for the deliveries in hand. Cancelling a
                # consumer and closing a channel wait for the broker's answer with no deadline of their own:
                # on a broker that answers nothing the stop never returned, past any grace period.
                async with asyncio.timeout(BROKER_STOP_TIMEOUT):
                    await broker.stop()
            except TimeoutError:
                log.warning(
                    "the broker did not answer the worker's stop in %.0fs; leaving it", BROKER_STOP_TIMEOUT
                )
            except Exception:
                log.warning("the broker did not close cleanly", exc_info=True)
            await _finish(tasks)
        if failure is not None:
            raise RuntimeError(f"the {definition.name} worker stopped: a task failed") from failure


def _start(timer: BackgroundTask[S, U], resources: AppResources[S, U]) -> asyncio.Task[None]:
    async def run() -> None:
        await timer(resources)

    return asyncio.create_task(run(), name=getattr(timer, "__name__", "background task"))


async def _until_stopped_or_failed(
    stop: asyncio.Event, tasks: Sequence[asyncio.Task[Any]]
) -> BaseException | None:
    """Wait for ``stop``; a task that ends before it (other than cleanly after stop) is a failure."""
    stopping = asyncio.create_task(stop.wait())
    try:
        pending: set[asyncio.Task[Any]] = {stopping, *tasks}
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                return None
            for task in done:
                error = task.exception() if not task.cancelled() else asyncio.CancelledError()
                if error is not None:
                    log.error("worker task %s failed; stopping the worker", task.get_name(), exc_info=error)
                    return error
                log.info("worker task %s finished", task.get_name())
    finally:
        stopping.cancel()


async def _finish(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Give tasks (told to stop already) time to return, then cancel the stragglers."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=TASK_STOP_TIMEOUT)
    for task in late:
        log.warning("%s did not stop in %.0fs; cancelling it", task.get_name(), TASK_STOP_TIMEOUT)
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, Exception):
            log.error("%s failed while stopping", task.get_name(), exc_info=result)


async def migrate(definition: ServiceDefinition[S, U], settings: S, stop: asyncio.Event) -> None:
    """Upgrade the service's database to head, waiting (a while) for the database to accept connections."""

    async def upgrade() -> None:
        await upgrade_to_head(
            definition.migrations_dir, settings.migration_database_url or settings.database_url
        )

    await with_backoff(upgrade, what="the database (migrate)", stop=stop, deadline=MIGRATE_DATABASE_DEADLINE)
    log.info("%s database is at the head revision", definition.name)


async def run_all(definition: ServiceDefinition[S, U], settings: S, stop: asyncio.Event) -> None:
    await migrate(definition, settings, stop)
    api = asyncio.create_task(run_api(definition, settings, stop), name="api")
    worker = asyncio.create_task(run_worker(definition, settings, stop, serve_probes=False), name="worker")
    try:
        # One role ending early (a failure, a port in use) ends the other too.
        await asyncio.wait({api, worker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        results = await asyncio.gather(api, worker, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


ROLE_RUNNERS: dict[
    str, Callable[[ServiceDefinition[Any, Any], Any, asyncio.Event], Coroutine[Any, Any, None]]
] = {
    "api": run_api,
    "worker": run_worker,
    "all": run_all,
    "migrate": migrate,
}


async def run_role(definition: ServiceDefinition[S, U], settings: S, role: str) -> None:
    """Run ``role`` until it ends or a SIGTERM/SIGINT arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    signals_seen = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            log.info("%s received; stopping %s gracefully", sig.name, role)
            stop.set()
        elif main_task is not None:
            log.warning("%s received again; stopping now", sig.name)
            main_task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    # "uvloop" or "asyncio": which loop the settings chose.
    log.info("%s %s running on %s", definition.name, role, type(loop).__module__.split(".")[0])
    try:
        await ROLE_RUNNERS[role](definition, settings, stop)
    except Stopped:
        log.info("stopped before %s could start", role)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def parse_args(definition: ServiceDefinition[Any, Any], argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {definition.name}", description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=ROLES, help="what this process runs")
    return parser.parse_args(argv)


def loop_factory(settings: ServiceSettings) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop unless the settings turn it off (None: asyncio's default loop)."""
    return uvloop.new_event_loop if settings.uvloop else None


def main(definition: ServiceDefinition[Any, Any], argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m <service> <role>``; exits non-zero when the role fails."""
    args = parse_args(definition, argv)
    settings = definition.settings_factory()
    configure_logging(settings.log_level, json=settings.log_json, service=definition.name)
    configure_tracing(
        settings.otel_service_name or definition.name,
        settings.otel_exporter_otlp_endpoint,
        version=definition.version,
    )
    try:
        with asyncio.Runner(loop_factory=loop_factory(settings)) as runner:
            runner.run(run_role(definition, settings, args.role))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(130)
    except Exception:
        log.exception("%s %s failed", definition.name, args.role)
        sys.exit(1)
    finally:
        shutdown_tracing()
