"""A PostgreSQL server of a test's own (initdb + pg_ctl in a directory of its own, on a free port), for the
drills that stop or restart the database server: the machine's shared server is never touched.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from devstack.config import port_free

BIN = Path(os.environ.get("FOLIO_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
# initdb and postgres refuse to run as root: as root, the server runs as this system user.
SERVER_USER = "postgres"


def available() -> bool:
    return (BIN / "initdb").exists() and (os.geteuid() != 0 or _user() is not None)


def _user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        return None


class PrivatePostgres:
    """``start()``, ``url``, ``restart(down_for)``, ``remove()``. Trust authentication on 127.0.0.1 only."""

    def __init__(self, directory: Path, *, max_connections: int = 300) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "server.log"
        self.max_connections = max_connections
        self.port = _free_port()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        user = _user() if os.geteuid() == 0 else None
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid}
        return subprocess.run(
            [str(BIN / argv[0]), *argv[1:]],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            **kwargs,
        )

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            user = _user() if os.geteuid() == 0 else None
            if user is not None:
                os.chown(self.directory, user.pw_uid, user.pw_gid)
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"
            )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            f" -c max_connections={self.max_connections} -c fsync=off -c synchronous_commit=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions end with an admin shutdown; ``immediate``: as a crash (recovery on start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_for: float, mode: str = "fast") -> float:
        """Stop the server, keep it down ``down_for`` seconds, start it; returns how long it was away."""
        began = time.monotonic()
        self.stop(mode)
        time.sleep(max(0.0, began + down_for - time.monotonic()))  # the outage itself, not a wait for a state
        self.start()
        return time.monotonic() - began

    def remove(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def _free_port() -> int:
    for _ in range(200):
        port = random.randrange(25000, 30000)
        if port_free(port):
            return port
    raise RuntimeError("no free port for a private PostgreSQL")
