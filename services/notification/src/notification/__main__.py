"""``python -m notification api|worker|all|migrate``."""

from notification.entrypoints.__main__ import main

if __name__ == "__main__":
    main()
