"""The RabbitMQ definitions document of ``exporters`` applied to a live broker through the management HTTP
API, item by item: each is compared first, so a second run changes nothing and a dry run says what would.

The items are the ones a broker loads at boot (vhost, users with their password hashes, permissions, topic
permissions, exchanges, queues, bindings); only the administrator's full rights in the vhost are added,
since it declares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from folio_ops.bootstrap.changes import Action, Change
from folio_ops.bootstrap.definitions import Definitions
from folio_ops.bootstrap.exporters import full_permissions, rabbitmq_definitions

PERMISSIONS = ("configure", "write", "read")


class ConflictError(RuntimeError):
    """An object exists with properties the bootstrap cannot change in place (an exchange's type, a queue's
    arguments)."""


def management_client(url: str) -> httpx.AsyncClient:
    """A client for ``http://user:password@host:15672`` (credentials taken out of the URL)."""
    parts = urlsplit(url)
    netloc = parts.hostname or "127.0.0.1"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    base = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return httpx.AsyncClient(base_url=base, auth=admin_credentials(url), timeout=30)


def admin_credentials(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.username or "guest", parts.password or "guest"


def _q(name: str) -> str:
    return quote(name, safe="")


def _without(item: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in keys}


async def _get(api: httpx.AsyncClient, path: str) -> Any | None:
    response = await api.get(path)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


async def _put(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    (await api.put(path, json=body)).raise_for_status()


def _tags(user: dict[str, Any]) -> list[str]:
    tags = user.get("tags") or []
    # The management API answers a list since 3.9, a comma-separated string before.
    return [t for t in tags.split(",") if t] if isinstance(tags, str) else list(tags)


async def apply(
    api: httpx.AsyncClient, definitions: Definitions, *, admin_user: str, dry_run: bool = False
) -> list[Change]:
    document = rabbitmq_definitions(definitions)
    vhost = definitions.vhost
    v = _q(vhost)
    changes = []
    exists = await _get(api, f"/api/vhosts/{v}") is not None
    for item in document["vhosts"]:
        if not exists and not dry_run:
            await _put(api, f"/api/vhosts/{_q(item['name'])}", _without(item, "name"))
        changes.append(Change("rabbitmq", "vhost", item["name"], "present" if exists else "created"))
    # The administrator needs rights in the vhost to declare what follows.
    changes.append(await _permissions(api, full_permissions(admin_user, vhost), dry_run, vhost_exists=exists))
    for user in document["users"]:
        # A user before its permissions: the broker refuses permissions of a user it does not know.
        changes.append(await _user(api, user, dry_run))
        for permission in (p for p in document["permissions"] if p["user"] == user["name"]):
            changes.append(await _permissions(api, permission, dry_run, vhost_exists=exists))
        wanted = [p for p in document["topic_permissions"] if p["user"] == user["name"]]
        changes.append(
            await _topic_permissions(api, vhost, user["name"], wanted, dry_run, vhost_exists=exists)
        )
    for exchange in document["exchanges"]:
        changes.append(await _exchange(api, exchange, dry_run, vhost_exists=exists))
    changes += await _queues(api, vhost, document["queues"], dry_run, vhost_exists=exists)
    changes += await _bindings(api, vhost, document["bindings"], dry_run, vhost_exists=exists)
    return changes


async def _user(api: httpx.AsyncClient, wanted: dict[str, Any], dry_run: bool) -> Change:
    path = f"/api/users/{_q(wanted['name'])}"
    current = await _get(api, path)
    action: Action = "present"
    if current is None:
        action = "created"
    elif _tags(current) != wanted["tags"] or any(
        current.get(k) != wanted[k] for k in ("password_hash", "hashing_algorithm")
    ):
        action = "updated"
    if action != "present" and not dry_run:
        await _put(api, path, _without(wanted, "name"))
    return Change("rabbitmq", "user", wanted["name"], action)


async def _topic_permissions(
    api: httpx.AsyncClient,
    vhost: str,
    user: str,
    wanted: list[dict[str, Any]],
    dry_run: bool,
    *,
    vhost_exists: bool,
) -> Change:
    path = f"/api/topic-permissions/{_q(vhost)}/{_q(user)}"
    current = (await _get(api, path) or []) if vhost_exists else []
    have = {(p["exchange"], p["write"], p["read"]) for p in current}
    want = {(p["exchange"], p["write"], p["read"]) for p in wanted}
    name = f"{user}@{vhost}"
    if have == want:
        return Change("rabbitmq", "topic-permissions", name, "present")
    if not dry_run:
        if current:
            # Deletes the user's topic permissions on every exchange of the vhost.
            (await api.delete(path)).raise_for_status()
        for p in wanted:
            await _put(api, path, _without(p, "user", "vhost"))
    return Change("rabbitmq", "topic-permissions", name, "updated" if current else "created")


async def _queues(
    api: httpx.AsyncClient, vhost: str, wanted: list[dict[str, Any]], dry_run: bool, *, vhost_exists: bool
) -> list[Change]:
    listed = (await _get(api, f"/api/queues/{_q(vhost)}?columns=name,durable,auto_delete,arguments")) or []
    current = {q["name"]: q for q in listed} if vhost_exists else {}
    changes = []
    for queue in wanted:
        body = _without(queue, "name", "vhost")
        name = f"{queue['name']}@{vhost}"
        found = current.get(queue["name"])
        if found is not None:
            if any(found.get(k) != v for k, v in body.items()):
                raise ConflictError(
                    f"queue {name} exists with {found.get('arguments')}, the worker declares it with"
                    f" {body['arguments']}; delete it (or move its messages) to change it"
                )
            changes.append(Change("rabbitmq", "queue", name, "present"))
            continue
        if not dry_run:
            await _put(api, f"/api/queues/{_q(vhost)}/{_q(queue['name'])}", body)
        changes.append(Change("rabbitmq", "queue", name, "created"))
    return changes


async def _bindings(
    api: httpx.AsyncClient, vhost: str, wanted: list[dict[str, Any]], dry_run: bool, *, vhost_exists: bool
) -> list[Change]:
    listed = (await _get(api, f"/api/bindings/{_q(vhost)}")) if vhost_exists else None
    current = {
        (b["source"], b["destination"], b["routing_key"])
        for b in listed or []
        if b.get("destination_type") == "queue"
    }
    changes = []
    for binding in wanted:
        source, queue, key = binding["source"], binding["destination"], binding["routing_key"]
        name = f"{source} -> {queue} ({key})@{vhost}"
        if (source, queue, key) in current:
            changes.append(Change("rabbitmq", "binding", name, "present"))
            continue
        if not dry_run:
            path = f"/api/bindings/{_q(vhost)}/e/{_q(source)}/q/{_q(queue)}"
            body = {"routing_key": key, "arguments": binding["arguments"]}
            (await api.post(path, json=body)).raise_for_status()
        changes.append(Change("rabbitmq", "binding", name, "created"))
    return changes


async def _permissions(
    api: httpx.AsyncClient, wanted: dict[str, Any], dry_run: bool, *, vhost_exists: bool
) -> Change:
    user, vhost = wanted["user"], wanted["vhost"]
    path = f"/api/permissions/{_q(vhost)}/{_q(user)}"
    current = await _get(api, path) if vhost_exists else None
    body = {k: wanted[k] for k in PERMISSIONS}
    name = f"{user}@{vhost}"
    if current is not None and all(current.get(k) == v for k, v in body.items()):
        return Change("rabbitmq", "permissions", name, "present")
    if not dry_run:
        await _put(api, path, body)
    return Change("rabbitmq", "permissions", name, "created" if current is None else "updated")


async def _exchange(
    api: httpx.AsyncClient, wanted: dict[str, Any], dry_run: bool, *, vhost_exists: bool
) -> Change:
    vhost = wanted["vhost"]
    path = f"/api/exchanges/{_q(vhost)}/{_q(wanted['name'])}"
    current = await _get(api, path) if vhost_exists else None
    body = _without(wanted, "name", "vhost")
    name = f"{wanted['name']}@{vhost}"
    if current is not None:
        if any(current.get(k) != v for k, v in body.items()):
            raise ConflictError(f"exchange {name} exists as {current}, wanted {body}; delete it to change it")
        return Change("rabbitmq", "exchange", name, "present")
    if not dry_run:
        await _put(api, path, body)
    return Change("rabbitmq", "exchange", name, "created")


async def teardown(
    api: httpx.AsyncClient, definitions: Definitions, *, dry_run: bool = False
) -> list[Change]:
    """Delete the service users and the vhost (with everything in it); the default vhost ``/`` is kept."""
    document = rabbitmq_definitions(definitions)
    changes = []
    for user in document["users"]:
        path = f"/api/users/{_q(user['name'])}"
        exists = await _get(api, path) is not None
        if exists and not dry_run:
            (await api.delete(path)).raise_for_status()
        changes.append(Change("rabbitmq", "user", user["name"], "removed" if exists else "absent"))
    vhost = definitions.vhost
    if vhost == "/":
        for exchange in document["exchanges"]:
            path = f"/api/exchanges/{_q(vhost)}/{_q(exchange['name'])}"
            exists = await _get(api, path) is not None
            if exists and not dry_run:
                (await api.delete(path)).raise_for_status()
            changes.append(
                Change("rabbitmq", "exchange", exchange["name"], "removed" if exists else "absent")
            )
        return changes
    path = f"/api/vhosts/{_q(vhost)}"
    exists = await _get(api, path) is not None
    if exists and not dry_run:
        (await api.delete(path)).raise_for_status()
    changes.append(Change("rabbitmq", "vhost", vhost, "removed" if exists else "absent"))
    return changes
