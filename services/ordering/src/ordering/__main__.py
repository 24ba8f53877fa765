"""``python -m ordering api|worker|all|migrate``."""

from ordering.entrypoints.__main__ import main

if __name__ == "__main__":
    main()
