"""What a figure was measured on: the CPU, its load, the library versions, printed with every table."""

import os
import platform
import resource
import sys
from importlib import metadata

LIBRARIES = ("keras", "tensorflow", "torch", "jax", "numpy", "scikit-learn")


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (the processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def load_average():
    """The 1, 5 and 15 minute load averages, formatted ("2.10 / 3.05 / 4.00")."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def library_versions():
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def machine_lines():
    """Markdown lines describing the machine now (call it when the figures are taken)."""
    versions = ", ".join(f"{name} {version}" for name, version in library_versions().items())
    shared = os.getloadavg()[0] > usable_cores()
    return [
        f"- CPU: {cpu_model()}, {usable_cores()} usable cores, {platform.machine()}, no GPU used",
        f"- load average (1 / 5 / 15 min): {load_average()}"
        + (" (above the core count: the machine was shared with other jobs)" if shared else ""),
        f"- Python {sys.version.split()[0]}, {versions}",
    ]


def print_machine(title="machine"):
    print(f"## {title}")
    print("\n".join(machine_lines()), flush=True)


def peak_rss_mib():
    """This process's peak resident memory, MiB.

    From `VmHWM` in /proc/self/status, which starts afresh at `exec`: Linux
    carries `ru_maxrss` over from the forking parent, so a worker started by a
    large parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
