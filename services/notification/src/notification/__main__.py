"""``python -m notification <role>``."""

from notification.entrypoints.__main__ import main

main()
