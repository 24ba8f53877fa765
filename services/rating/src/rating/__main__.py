"""``python -m rating api|worker|all|migrate``."""

from rating.entrypoints.__main__ import main

if __name__ == "__main__":
    main()
