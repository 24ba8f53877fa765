"""The JSON Schema of every message, exported next to this file as ``<type>.json`` and committed.

``python -m contracts.schemas export`` rewrites the files from the models (refusing an incompatible change to
a published file unless ``--force``); ``python -m contracts.schemas check`` exits non-zero when a file is
missing, differs from its model, or has no model. A committed file is a published contract:
``contracts.compatibility`` guards it against incompatible changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from contracts.base import Message
from contracts.compatibility import Incompatibility, compare
from contracts.routing import address

SCHEMA_DIR = Path(__file__).parent
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_for(model: type[Message]) -> dict[str, Any]:
    """What a consumer accepts for ``model`` (validation mode), with the message's routing facts beside it."""
    schema = model.model_json_schema(mode="validation")
    where = address(model)
    schema["$schema"] = DIALECT
    schema["x-folio"] = {
        "type": model.TYPE,
        "owner": model.OWNER,
        "kind": model.KIND,
        "subject": model.SUBJECT,
        "exchange": where.exchange,
        "routing_key": where.routing_key,
    }
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_for(message_type: str, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{message_type}.json"


def load_published(directory: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    """Every committed schema, keyed by message type."""
    published: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        published[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return published


class IncompatibleChange(Exception):
    """Exporting would overwrite a published schema with an incompatible one."""

    def __init__(self, problems: dict[str, list[Incompatibility]]) -> None:
        self.problems = problems
        lines = [
            f"{message_type}: {problem}" for message_type, found in problems.items() for problem in found
        ]
        super().__init__(
            "incompatible change to a published schema (publish a new version instead):\n" + "\n".join(lines)
        )


def export(
    models: Iterable[type[Message]], directory: Path = SCHEMA_DIR, *, force: bool = False
) -> list[Path]:
    """Write every model's schema; return the files whose content changed.

    A published file is a contract: unless ``force``, nothing is written when any model would change its
    published schema incompatibly (``IncompatibleChange`` lists why).
    """
    planned: list[tuple[Path, str]] = []
    incompatible: dict[str, list[Incompatibility]] = {}
    for model in models:
        path = path_for(model.TYPE, directory)
        schema = schema_for(model)
        text = render(schema)
        if path.exists():
            old_text = path.read_text(encoding="utf-8")
            if old_text == text:
                continue
            problems = compare(json.loads(old_text), schema)
            if problems:
                incompatible[model.TYPE] = problems
        planned.append((path, text))
    if incompatible and not force:
        raise IncompatibleChange(incompatible)
    for path, text in planned:
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in planned]


def drift(models: Iterable[type[Message]], directory: Path = SCHEMA_DIR) -> list[str]:
    """One line per file that is missing, out of date, or without a model (never deleted automatically)."""
    problems: list[str] = []
    known: set[str] = set()
    for model in models:
        known.add(model.TYPE)
        path = path_for(model.TYPE, directory)
        if not path.exists():
            problems.append(f"missing: {path.name}")
        elif path.read_text(encoding="utf-8") != render(schema := schema_for(model)):
            incompatible = compare(json.loads(path.read_text(encoding="utf-8")), schema)
            verdict = "; ".join(map(str, incompatible)) if incompatible else "compatible"
            problems.append(f"out of date: {path.name} ({verdict})")
    for path in sorted(directory.glob("*.json")):
        if path.stem not in known:
            problems.append(f"no model for published schema: {path.name}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    # Imported here: the registry imports every model, which this module's importers may not want.
    from contracts.registry import ALL_MESSAGES

    parser = argparse.ArgumentParser(prog="python -m contracts.schemas", description=__doc__)
    parser.add_argument("action", choices=("export", "check"))
    parser.add_argument(
        "--dir", type=Path, default=SCHEMA_DIR, help="schema directory (default: the package's)"
    )
    parser.add_argument("--force", action="store_true", help="export even an incompatible change")
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.action == "export":
        directory.mkdir(parents=True, exist_ok=True)
        try:
            written = export(ALL_MESSAGES, directory, force=args.force)
        except IncompatibleChange as exc:
            print(exc, file=sys.stderr)
            return 1
        for path in written:
            print(f"wrote {path}")
        return 0
    problems = drift(ALL_MESSAGES, directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run `python -m contracts.schemas export` and commit the result", file=sys.stderr)
        return 1
    return 0
