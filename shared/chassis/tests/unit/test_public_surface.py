"""Services import the chassis from its public face (``chassis.__all__``) only, so its insides may move."""

from __future__ import annotations

import ast
from pathlib import Path

import chassis

ROOT = Path(__file__).resolve().parents[4]
SERVICES = sorted(p for p in (ROOT / "services").glob("*/src") if (p.parent / "pyproject.toml").exists())


def _deep_imports(source: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chassis."):
            found.append(f"{source.relative_to(ROOT)}:{node.lineno} from {node.module}")
        elif isinstance(node, ast.Import):
            found += [
                f"{source.relative_to(ROOT)}:{node.lineno} import {a.name}"
                for a in node.names
                if a.name.startswith("chassis.")
            ]
    return found


def test_every_public_name_is_there() -> None:
    missing = [name for name in chassis.__all__ if not hasattr(chassis, name)]
    assert missing == []


def test_services_import_only_the_public_face() -> None:
    assert len(SERVICES) >= 4, SERVICES
    deep = [hit for src in SERVICES for source in sorted(src.rglob("*.py")) for hit in _deep_imports(source)]
    assert deep == [], "import these from `chassis` (add the name to chassis.__all__ if it is public):\n" + (
        "\n".join(deep)
    )
