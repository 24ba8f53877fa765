"""Each service's AsyncAPI document, generated from its FastStream worker and checked against the contracts.

    python scripts/gen_asyncapi.py            write docs/asyncapi/<service>.json
    python scripts/gen_asyncapi.py --check    exit 1 when a committed document differs or fails validation
    faststream docs gen --factory --app-dir scripts gen_asyncapi:catalog_app
        the same document, written by FastStream's CLI (needs `faststream[cli]`)

The worker is the real one: the chassis' ``build_broker`` with the service's own subscriptions (from its
``<service>.entrypoints.definition``), built without connecting. Its subscribers are typed, but one per
queue, on the default exchange, with the union of the queue's models, while the document gives one receive
operation per (queue, message type) the worker binds, with that binding's exchange and routing key: so it
is still drawn on a twin broker, typed with the contract model, and one send operation per message the
service publishes (its own events and the commands ``contracts.topology.SENDS_COMMANDS`` gives it).
Validation: the official AsyncAPI 3.0.0 JSON Schema (vendored beside the documents), FastStream's own
parser, exactly the types the topology lists, and every payload equal to the contract's published JSON
Schema.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.rabbit import QueueType, RabbitBroker, RabbitQueue
from faststream.specification import AsyncAPI

from chassis.definition import ServiceDefinition
from chassis.messaging.consumer import Subscription
from chassis.messaging.topology import ServiceTopology, internal_exchange, message_exchange
from chassis.messaging.worker import build_broker
from contracts.base import Message
from contracts.registry import ALL_MESSAGES, message_class
from contracts.schemas import load_published
from contracts.topology import SENDS_COMMANDS, SERVICES, SUBSCRIPTIONS

ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = ROOT / "docs" / "asyncapi"
# The official AsyncAPI 3.0.0 document schema (npm @asyncapi/specs, Apache-2.0), vendored for offline checks.
SPEC_SCHEMA = DOCS_DIR / "schema" / "asyncapi-3.0.0.schema.json"
ASYNCAPI_VERSION = "3.0.0"
# The address the documents name: the compose broker and the vhost the bootstrap creates. Never a password.
SERVER_URL = "amqp://rabbitmq:5672/folio"
CONTRACT_ONLY_KEYS = ("$schema", "x-folio")


def service_version(service: str) -> str:
    pyproject = ROOT / "services" / service / "pyproject.toml"
    version: str = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    return version


def service_definition(service: str) -> ServiceDefinition[Any, Any]:
    """The service's ``ServiceDefinition``, from its ``entrypoints.definition.definition()``."""
    module = importlib.import_module(f"{service}.entrypoints.definition")
    found = module.definition()
    if not isinstance(found, ServiceDefinition):
        raise LookupError(f"{module.__name__}.definition() returned {found!r}, not a ServiceDefinition")
    return found


def worker_topology(service: str, subscriptions: Sequence[Subscription[Any]]) -> ServiceTopology:
    """The queues and bindings the service's worker declares, from the worker's own broker (not connected)."""

    def no_unit_of_work() -> Any:
        raise AssertionError("documentation never handles a message")

    broker = build_broker(
        service=service, amqp_url=SERVER_URL, subscriptions=subscriptions, uow_factory=no_unit_of_work
    )
    return broker.topology


def sent_messages(service: str) -> tuple[type[Message], ...]:
    """The service's own events, then the commands it sends, in registry order."""
    commands = set(SENDS_COMMANDS.get(service, ()))
    own_events = [m for m in ALL_MESSAGES if service == m.OWNER and m.KIND == "event"]
    return (*own_events, *(m for m in ALL_MESSAGES if m.TYPE in commands))


def _typed_handler(model: type[Message]) -> Callable[..., Any]:
    # FastStream documents a subscriber's payload from its handler's annotation.
    async def receive(message: Any) -> None:
        return None

    receive.__annotations__ = {"message": model, "return": None}
    receive.__name__ = receive.__qualname__ = f"receive_{model.type_name().replace('-', '_')}"
    receive.__doc__ = model.__doc__
    return receive


def docs_broker(service: str, topology: ServiceTopology) -> RabbitBroker:
    broker = RabbitBroker(SERVER_URL, description=f"The Folio broker; {service} uses the vhost `folio`.")
    internal = internal_exchange(service).name
    for consumer in topology.consumers:
        for binding in consumer.bindings:
            if binding.queue != consumer.name or binding.exchange.name == internal:
                continue
            model = message_class(binding.routing_key)
            queue = RabbitQueue(
                consumer.name, durable=True, queue_type=QueueType.QUORUM, routing_key=binding.routing_key
            )
            broker.subscriber(
                queue,
                exchange=binding.exchange,
                title=f"{consumer.name}:{model.TYPE}",
                description=f"{consumer.name} receives {model.TYPE}: {model.__doc__}",
            )(_typed_handler(model))
    for model in sent_messages(service):
        broker.publisher(
            exchange=message_exchange(model),
            routing_key=model.routing_key(),
            schema=model,
            title=model.TYPE,
            description=f"{service} sends {model.TYPE} ({model.KIND}): {model.__doc__}",
            persist=True,
        )
    return broker


def app(service: str) -> FastStream:
    """The documentation app of ``service``: what ``faststream docs gen`` reads."""
    definition = service_definition(service)
    topology = worker_topology(service, definition.subscriptions())
    description = (
        f"{definition.description or service}\n\n"
        "Messages travel as CloudEvents 1.0 in AMQP binary mode: the `cloudEvents_type` header carries the "
        "message type (also the routing key), and `correlation_id`, `causation_id` and `traceparent` headers "
        "tie a workflow together. Generated by scripts/gen_asyncapi.py; do not edit."
    )
    specification = AsyncAPI(
        title=definition.title or f"Folio {service}",
        version=service_version(service),
        description=description,
        identifier=f"urn:folio:{service}",
        schema_version=ASYNCAPI_VERSION,
    )
    return FastStream(docs_broker(service, topology), specification=specification)


def catalog_app() -> FastStream:
    return app("catalog")


def ordering_app() -> FastStream:
    return app("ordering")


def rating_app() -> FastStream:
    return app("rating")


def notification_app() -> FastStream:
    return app("notification")


def document(service: str) -> dict[str, Any]:
    schema: dict[str, Any] = app(service).schema.to_specification().to_jsonable()
    return schema


def render(doc: dict[str, Any]) -> str:
    # FastStream keeps a broker's subscribers and publishers in weak sets, so the order of channels and
    # operations changes from run to run: sorted keys make the document reproducible.
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_for(service: str, directory: Path = DOCS_DIR) -> Path:
    return directory / f"{service}.json"


# --- validation -----------------------------------------------------------------------------------------


def _resolve(node: Any, root: dict[str, Any], prefix: str) -> Any:
    """``node`` with every local ``$ref`` under ``prefix`` replaced by its target (schemas are acyclic)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _resolve(target, root, prefix)
        return {k: _resolve(v, root, prefix) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, prefix) for v in node]
    return node


def contract_payload(schema: dict[str, Any]) -> dict[str, Any]:
    """A published contract schema as a payload: references inlined, routing facts and dialect dropped."""
    inlined = _resolve(schema, schema, "#/$defs/")
    return {k: v for k, v in inlined.items() if k not in (*CONTRACT_ONLY_KEYS, "$defs")}


def operations_by_action(doc: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{"send"|"receive": {message type: inlined payload}}`` read back from the document."""
    found: dict[str, dict[str, dict[str, Any]]] = {"send": {}, "receive": {}}
    for name, operation in doc.get("operations", {}).items():
        keys = operation.get("bindings", {}).get("amqp", {}).get("cc", [])
        if len(keys) != 1:
            raise ValueError(f"operation {name} has routing keys {keys}, expected one message type")
        messages = _resolve(operation.get("messages", []), doc, "#/")
        if len(messages) != 1:
            raise ValueError(f"operation {name} carries {len(messages)} messages, expected one")
        found[operation["action"]][keys[0]] = messages[0]["payload"]
    return found


def _spec_errors(doc: dict[str, Any]) -> list[str]:
    import jsonschema  # type: ignore[import-untyped]  # a dev dependency, needed only to validate

    spec = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(spec)(spec)
    return [
        f"AsyncAPI schema: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _faststream_errors(doc: dict[str, Any]) -> list[str]:
    from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

    try:
        ApplicationSchema.model_validate(doc)
    except ValueError as exc:
        return [f"FastStream's AsyncAPI 3.0 model refuses the document: {exc}"]
    return []


def validate(service: str, doc: dict[str, Any]) -> list[str]:
    """Every problem found in ``service``'s document; empty when it is valid and matches the contracts."""
    problems: list[str] = []
    if doc.get("asyncapi") != ASYNCAPI_VERSION:
        problems.append(f"asyncapi version is {doc.get('asyncapi')!r}, expected {ASYNCAPI_VERSION}")
    problems += _spec_errors(doc)
    problems += _faststream_errors(doc)
    try:
        found = operations_by_action(doc)
    except (KeyError, ValueError, TypeError) as exc:
        return [*problems, f"unreadable operations: {exc!r}"]
    expected = {
        "receive": set(SUBSCRIPTIONS.get(service, ())),
        "send": {m.TYPE for m in sent_messages(service)},
    }
    published = load_published()
    for action, types in expected.items():
        documented = set(found[action])
        for missing in sorted(types - documented):
            problems.append(f"{action}: {missing} is in contracts.topology but not in the document")
        for extra in sorted(documented - types):
            problems.append(f"{action}: {extra} is in the document but not in contracts.topology")
        for message_type in sorted(types & documented):
            if message_type not in published:
                problems.append(f"{action}: {message_type} has no published schema")
            elif found[action][message_type] != contract_payload(published[message_type]):
                problems.append(f"{action}: payload of {message_type} differs from its published schema")
    return problems


# --- files ----------------------------------------------------------------------------------------------


def generate(services: Iterable[str] = SERVICES) -> dict[str, dict[str, Any]]:
    """Every service's validated document; raises ``ValueError`` listing the problems of any of them."""
    documents = {service: document(service) for service in services}
    problems = [f"{s}: {p}" for s, doc in documents.items() for p in validate(s, doc)]
    if problems:
        raise ValueError("invalid AsyncAPI documents:\n" + "\n".join(problems))
    return documents


def write(documents: dict[str, dict[str, Any]], directory: Path = DOCS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for service, doc in documents.items():
        path = path_for(service, directory)
        text = render(doc)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def drift(documents: dict[str, dict[str, Any]], directory: Path = DOCS_DIR) -> list[str]:
    problems: list[str] = []
    for service, doc in documents.items():
        path = path_for(service, directory)
        if not path.exists():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != render(doc):
            problems.append(f"out of date: {path}")
    known = {path_for(s, directory).name for s in documents}
    problems += [f"no such service: {p}" for p in sorted(directory.glob("*.json")) if p.name not in known]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail on drift instead of writing")
    parser.add_argument(
        "--dir", type=Path, default=DOCS_DIR, help="output directory (default: docs/asyncapi)"
    )
    args = parser.parse_args(argv)
    try:
        documents = generate()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        problems = drift(documents, args.dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `python scripts/gen_asyncapi.py` and commit the result", file=sys.stderr)
        return 1 if problems else 0
    for path in write(documents, args.dir):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
