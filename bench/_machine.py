"""What the benchmark tables say about the machine and a process's cost: CPU model, memory, CPU time."""
from __future__ import annotations

import os
import platform
import resource


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """User + system CPU seconds of this process, all threads."""
    t = os.times()
    return t.user + t.system


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPU cores ({model}, {platform.machine()}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def run_in_child(target, *args) -> dict:
    """`target(*args, queue)` in a freshly spawned process, and what it put on the queue.

    Spawned, not forked: the child's resident memory is its own and no OpenMP state is inherited.
    Raises RuntimeError when the child exits unsuccessfully."""
    import multiprocessing as mp
    from queue import Empty

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    # Read before join(): a full pipe would otherwise block the child. Polled, so a child that
    # dies before answering (an exception, the OOM killer) is reported instead of waited for.
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{target.__name__}{args} exited with {proc.exitcode} before answering")
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"{target.__name__}{args} exited with {proc.exitcode}")
    return result
