"""``python -m catalog api|worker|all|migrate``."""

from catalog.entrypoints.__main__ import main

main()
