"""``python -m catalog api|worker|all|migrate``."""

from catalog.entrypoints.__main__ import main

if __name__ == "__main__":
    main()
