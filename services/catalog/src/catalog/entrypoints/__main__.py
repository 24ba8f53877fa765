"""``folio-catalog api|worker|all|migrate`` (or ``python -m catalog ...``)."""

from __future__ import annotations

from catalog.entrypoints.definition import definition
from chassis.runner import main as run


def main() -> None:
    run(definition())


if __name__ == "__main__":
    main()
