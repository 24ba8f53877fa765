"""``python -m devstack.supervisor start -f Procfile ...``: honcho, with time for a graceful stop.

honcho sends SIGTERM to every process on exit and SIGKILL 5 s later; a worker may take longer than that
to finish the deliveries in hand (the chassis gives them 15 s), so the stack gives them 25 s.
"""

from __future__ import annotations

from devstack.processes import GRACEFUL_STOP_SECONDS


def main() -> None:
    # Imported here: honcho configures the root logger when imported.
    from honcho import command, manager

    manager.KILL_WAIT = GRACEFUL_STOP_SECONDS
    command.main()


if __name__ == "__main__":
    main()
