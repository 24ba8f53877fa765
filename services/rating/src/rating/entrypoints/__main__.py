"""``folio-rating api|worker|all|migrate`` (or ``python -m rating.entrypoints ...``)."""

from __future__ import annotations

from chassis.runner import main as run
from rating.entrypoints.definition import definition


def main() -> None:
    run(definition())


if __name__ == "__main__":
    main()
