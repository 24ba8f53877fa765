"""``python -m ordering api|worker|all|migrate`` (also the ``folio-ordering`` script)."""

from __future__ import annotations

from collections.abc import Sequence

from chassis import run
from ordering.entrypoints.definition import definition


def main(argv: Sequence[str] | None = None) -> None:
    run(definition(), argv)


if __name__ == "__main__":
    main()
