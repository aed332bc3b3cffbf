"""The facts about the machine that every benchmark result is quoted with."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone


def describe(**versions: str) -> dict[str, str]:
    """Date, cores, CPU model, Python and the given library versions, and the load average."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu,
        "Python": platform.python_version(),
        **versions,
        "load average at start": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }
