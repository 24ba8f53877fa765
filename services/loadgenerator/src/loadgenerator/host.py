"""The machine a run happened on, recorded beside the figures (a shared 2-core box reads differently)."""

from __future__ import annotations

import os
import platform
from typing import Any


def describe_host() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
