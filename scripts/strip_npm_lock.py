"""Keep eventcatalog/package-lock.json to names, versions and integrity hashes.

npm copies each package's `funding` links into the lock; a lock file records no addresses, so they go.
Run after every `npm install` (scripts/build_eventcatalog.sh does).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "eventcatalog" / "package-lock.json"


def strip(lock: dict[str, object]) -> dict[str, object]:
    packages = lock.get("packages")
    if isinstance(packages, dict):
        for entry in packages.values():
            if isinstance(entry, dict):
                entry.pop("funding", None)
                entry.pop("resolved", None)
    return lock


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else LOCK
    lock = json.loads(path.read_text())
    path.write_text(json.dumps(strip(lock), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
