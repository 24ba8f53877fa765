"""``python -m rating api|worker|all|migrate``."""

from rating.entrypoints.__main__ import main

main()
