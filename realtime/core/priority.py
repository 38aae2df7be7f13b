"""Real-time scheduling of the runner thread (Linux ``SCHED_FIFO``), when the system allows it.

The runner must start every 2 ms tick on time. At normal priority another
task (a kernel thread, the viewer painting on the other core) can hold the
runner's core for a millisecond or more when it wakes; a ``SCHED_FIFO``
thread preempts every normal task at once. Measured here (``bench viewer``,
8 channels, 10 runs): with the runner at normal priority the viewer added
about 2 late ticks per 2,500 (p = 0.004); in ``SCHED_FIFO`` none (p = 0.87).

The runner sleeps between ticks, so it takes only its own share of a core
(~10-20 %); the kernel's real-time throttling (95 % of each second by
default) bounds even a runaway catch-up. Setting it needs ``CAP_SYS_NICE`` or
an ``rtprio`` limit (``ulimit -r``, ``/etc/security/limits.conf``): without
them ``"auto"`` keeps normal priority (and says so in the log) and
``"realtime"`` fails with the fix.
"""

from __future__ import annotations

import os

from realtime.core.checks import check_choice
from realtime.core.logs import logger

PRIORITIES: tuple[str, ...] = ("auto", "realtime", "normal")
"""``auto``: real-time if allowed, else normal; ``realtime``: real-time or an error; ``normal``: never."""

RT_PRIORITY = 10
"""``SCHED_FIFO`` priority of the runner (1-99): above every normal task, below the kernel's own
real-time threads (typically 50 and up)."""


def check_priority(priority: object) -> str:
    """Validate a priority mode (one of :data:`PRIORITIES`)."""
    return check_choice("priority", priority, PRIORITIES)


def set_thread_priority(priority: str) -> str:
    """Give the calling thread the scheduling ``priority`` asks for.

    Parameters
    ----------
    priority : {"auto", "realtime", "normal"}
        See :data:`PRIORITIES`.

    Returns
    -------
    str
        What the thread got: ``"realtime"`` (``SCHED_FIFO`` at :data:`RT_PRIORITY`) or ``"normal"``.

    Raises
    ------
    RuntimeError
        ``priority="realtime"`` and the system refuses it (or has no ``SCHED_FIFO``).
    """
    check_priority(priority)
    if priority == "normal":
        return "normal"
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_FIFO"):
        why = "this platform has no SCHED_FIFO"
        err: OSError | None = None
    else:
        try:
            # pid 0: on Linux the calling thread, not the whole process.
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
            logger.info("runner thread: real-time scheduling (SCHED_FIFO %s)", RT_PRIORITY)
            return "realtime"
        except OSError as exc:  # PermissionError without CAP_SYS_NICE / rtprio limit
            why, err = f"the system refused it ({exc.strerror or exc})", exc
    if priority == "realtime":
        raise RuntimeError(
            f"Real-time scheduling for the runner was requested but {why}. Allow it (as root, "
            f"CAP_SYS_NICE, or an rtprio limit of at least {RT_PRIORITY}: `ulimit -r {RT_PRIORITY}`, "
            "/etc/security/limits.conf) or use --priority auto or normal."
        ) from err
    logger.info(
        "runner thread: normal priority (real-time scheduling not available: %s; allow rtprio %s "
        "for fewer late ticks)",
        why,
        RT_PRIORITY,
    )
    return "normal"
