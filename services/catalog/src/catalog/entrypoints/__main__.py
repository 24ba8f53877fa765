"""``python -m catalog api|worker|all|migrate`` (also the ``folio-catalog`` script)."""

from __future__ import annotations

from collections.abc import Sequence

from catalog.entrypoints.definition import definition
from chassis import run


def main(argv: Sequence[str] | None = None) -> None:
    run(definition(), argv)


if __name__ == "__main__":
    main()
