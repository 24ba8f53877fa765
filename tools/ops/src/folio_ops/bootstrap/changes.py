"""What a run did to each object, and the concise summary the CLI prints."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Action = Literal["created", "updated", "present", "removed", "absent"]
# What a dry run reports instead of doing it.
WOULD: dict[Action, str] = {"created": "would create", "updated": "would update", "removed": "would remove"}


@dataclass(frozen=True, slots=True)
class Change:
    server: str  # "postgres" or "rabbitmq"
    kind: str  # role, database, grant, vhost, user, permissions, exchange
    name: str
    action: Action

    @property
    def changed(self) -> bool:
        return self.action in ("created", "updated", "removed")


def summary(changes: Iterable[Change], *, dry_run: bool = False) -> str:
    changes = list(changes)
    lines = [
        f"{WOULD[c.action] if dry_run else c.action:>12}  {c.server} {c.kind} {c.name}"
        for c in changes
        if c.changed
    ]
    counts = Counter(c.action for c in changes)
    total = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    verdict = "no changes" if not lines else f"{len(lines)} change(s){' planned' if dry_run else ''}"
    lines.append(f"{verdict} ({total})")
    return "\n".join(lines)
