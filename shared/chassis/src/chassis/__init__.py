"""Folio's runtime chassis: what a service imports, and all it should import.

A service (``services/<name>/src``) imports the chassis only from here; the submodules are the chassis'
own business and may move (``tests/.../test_public_surface.py`` holds services to it). Grouped by job:

- **The service**: :class:`ServiceDefinition` (what the chassis runs: settings, unit of work, routers,
  subscriptions, what it publishes, whether it relays), :class:`ServiceSettings`, :func:`run` (the
  ``api``/``worker``/``all``/``migrate`` command line), :class:`AppResources`/:data:`Resources` (what a
  background task gets), :func:`sleep_unless_stopped`, :data:`TASK_STOP_TIMEOUT`.
- **State and messages**: :class:`UnitOfWork` (the only committer; ``track``, ``send``, ``caused_by``),
  :class:`Outgoing`, :class:`Subscription` (a queue ``<service>.<handler>`` and its handler),
  :data:`service_metadata` (a service's tables beside the outbox and inbox), :data:`outbox`,
  :data:`chassis_metadata`, :func:`create_engine`, :func:`is_unreachable`.
- **Migrations**: :func:`packaged_scripts`, :func:`run_migrations`, :func:`upgrade_to_head`,
  :func:`is_at_head`.
- **HTTP**: :func:`create_api`, :func:`uow_dependency` (and :func:`new_uow`), :func:`idempotent`,
  :func:`idempotency_key_header`, :class:`IdempotencySlot`, :class:`Page`, :data:`Pagination`,
  :class:`RequestBody`, problems (:class:`ProblemError`, :func:`validation_problem`, :func:`invalid_field`,
  :func:`conflict`, :func:`forbidden`, :func:`not_found`), and a route's own refusal for capacity
  (:func:`overloaded`, with the growing ``Retry-After`` of :class:`ShedRetryAfter`).
- **Callers**: :class:`Caller`, :data:`CurrentCaller`, :data:`AdminCaller`, :func:`mint_local_token`.
- **Tracing**: :func:`continued_span`, :func:`current_traceparent`.
- **Waiting for work** (a timer that sleeps until NOTIFY wakes it): :func:`listen`, :func:`wait_any`,
  :func:`asyncpg_dsn`.

The tools (bootstrap, parked-message and token CLIs, mail sink) are ``folio_ops``; the test kit is
``testkit``.
"""

from chassis.app import create_api, new_uow, uow_dependency
from chassis.auth import AdminCaller, Caller, CurrentCaller, mint_local_token
from chassis.db import asyncpg_dsn, create_engine
from chassis.definition import AppResources, Resources, ServiceDefinition
from chassis.http.idempotency import IdempotencySlot, idempotency_key_header, idempotent
from chassis.http.pagination import Page, Pagination
from chassis.http.problems import (
    ProblemError,
    conflict,
    forbidden,
    invalid_field,
    not_found,
    validation_problem,
)
from chassis.http.schemas import RequestBody
from chassis.http.shedding import ShedRetryAfter, overloaded
from chassis.lifecycle import sleep_unless_stopped
from chassis.messaging.consumer import Subscription
from chassis.messaging.unreachable import is_unreachable
from chassis.migrations import is_at_head, packaged_scripts, run_migrations, upgrade_to_head
from chassis.observability.tracing import continued_span, current_traceparent
from chassis.outbox.listener import listen
from chassis.outbox.waiting import wait_any
from chassis.runner import TASK_STOP_TIMEOUT
from chassis.runner import main as run
from chassis.settings import ServiceSettings
from chassis.tables import metadata as chassis_metadata
from chassis.tables import outbox, service_metadata
from chassis.uow import Outgoing, UnitOfWork

__all__ = [
    "TASK_STOP_TIMEOUT",
    "AdminCaller",
    "AppResources",
    "Caller",
    "CurrentCaller",
    "IdempotencySlot",
    "Outgoing",
    "Page",
    "Pagination",
    "ProblemError",
    "RequestBody",
    "Resources",
    "ServiceDefinition",
    "ServiceSettings",
    "ShedRetryAfter",
    "Subscription",
    "UnitOfWork",
    "asyncpg_dsn",
    "chassis_metadata",
    "conflict",
    "continued_span",
    "create_api",
    "create_engine",
    "current_traceparent",
    "forbidden",
    "idempotency_key_header",
    "idempotent",
    "invalid_field",
    "is_at_head",
    "is_unreachable",
    "listen",
    "mint_local_token",
    "new_uow",
    "not_found",
    "outbox",
    "overloaded",
    "packaged_scripts",
    "run",
    "run_migrations",
    "service_metadata",
    "sleep_unless_stopped",
    "uow_dependency",
    "upgrade_to_head",
    "validation_problem",
    "wait_any",
]
