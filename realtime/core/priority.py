"""Scheduling of the threads that keep time (Linux ``SCHED_FIFO``, ``nice``, ``ionice``, ``mlockall``), as allowed.

The runner must start every 1-2 ms tick on time. At normal priority another
task (a kernel thread, the viewer painting, any busy program) can hold the
runner's core for a millisecond or more when it wakes, and with busy programs
on every core the Linux fair scheduler lets them run for a few ms at a time; a
``SCHED_FIFO`` thread preempts every normal task at once. Measured here
(``bench viewer``, 8 channels, 10 runs): with the runner at normal priority the
viewer added about 2 late ticks per 2,500 (p = 0.004); in ``SCHED_FIFO`` none
(p = 0.87). ``bench latency --stress N`` measures the whole path with N busy
processes competing (``docs/latency.md``).

What a thread gets, in order (:func:`apply_scheduling`):

1. ``SCHED_FIFO`` at :data:`RT_PRIORITY`, which needs ``CAP_SYS_NICE`` (root)
   or an ``rtprio`` limit (``ulimit -r``, ``/etc/security/limits.conf``);
2. else a lower ``nice`` value (:data:`NICE_LEVEL`), which needs
   ``CAP_SYS_NICE`` or a ``nice`` limit (``ulimit -e``), plus best-effort I/O
   priority 0 (``ionice -c2 -n0``, allowed to anyone);
3. else normal priority. ``"auto"`` takes the best of these and says which in
   the log and in :class:`Scheduling`; ``"realtime"`` fails with the fix when
   step 1 is refused; ``"normal"`` changes nothing.

A real-time thread sleeps between ticks, so it takes only its own share of a
core (~10-20 %); the kernel's real-time throttling (95 % of each second by
default) bounds even a runaway catch-up. Threads a thread starts inherit its
scheduling (Linux ``clone``), so a library's I/O threads (liblsl's) get it when
their outlets or inlets are created under :func:`scheduled_here`.

:func:`lock_memory` keeps the process's pages in RAM (``mlockall``) so a tick
never waits for a page to come back from swap; it needs ``CAP_IPC_LOCK`` or a
``memlock`` limit above the process's size (``ulimit -l``).
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Protocol

from realtime.core.checks import check_choice
from realtime.core.logs import logger

PRIORITIES: tuple[str, ...] = ("auto", "realtime", "normal")
"""``auto``: the best the system allows (real-time, else nicer, else normal); ``realtime``: real-time or an
error; ``normal``: never change anything."""

RT_PRIORITY = 10
"""``SCHED_FIFO`` priority of the runner (1-99): above every normal task, below the kernel's own
real-time threads (typically 50 and up)."""

NICE_LEVEL = -10
"""``nice`` value of the fallback (-20 .. 19; lower runs first): ahead of every default (0) program."""

POLICIES: tuple[str, ...] = ("SCHED_FIFO", "nice", "normal")
"""What a thread can get (:attr:`Scheduling.policy`)."""

_IOPRIO_SET = {"x86_64": 251, "amd64": 251, "aarch64": 30, "arm64": 30, "i386": 289, "i686": 289}
"""Linux syscall number of ``ioprio_set`` per machine (Python's os module has no wrapper)."""
_IOPRIO_WHO_PROCESS, _IOPRIO_CLASS_BE, _IOPRIO_CLASS_SHIFT = 1, 2, 13
_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4


@dataclass(frozen=True)
class Scheduling:
    """What a thread got from a priority mode.

    Attributes
    ----------
    requested : {"auto", "realtime", "normal"}
        The mode asked for.
    policy : {"SCHED_FIFO", "nice", "normal"}
        What the thread runs with.
    level : int
        The ``SCHED_FIFO`` priority, or the ``nice`` value (0 for normal).
    io : str
        The thread's I/O priority as set here (``"best-effort 0"``) or ``"unchanged"``.
    refused : str
        Why a better policy was not obtained (empty when the request was met in full).
    """

    requested: str
    policy: str
    level: int = 0
    io: str = "unchanged"
    refused: str = ""

    @property
    def realtime(self) -> bool:
        """Whether the thread runs in ``SCHED_FIFO``."""
        return self.policy == "SCHED_FIFO"

    @property
    def label(self) -> str:
        """One line for logs and reports, e.g. ``"SCHED_FIFO 10"`` or ``"nice -10 (real-time refused: ...)"``."""
        text = {"SCHED_FIFO": f"SCHED_FIFO {self.level}", "nice": f"nice {self.level}"}.get(self.policy, "normal")
        if self.io != "unchanged":
            text += f", I/O {self.io}"
        return text + (f" ({self.refused})" if self.refused else "")

    def as_dict(self) -> dict:
        """The JSON form (the fields and ``label``)."""
        return {**asdict(self), "label": self.label}


class System(Protocol):
    """The operating-system calls scheduling needs (:class:`LinuxSystem`; tests pass a fake)."""

    def thread_id(self) -> int:
        """Kernel id of the calling thread."""

    def set_fifo(self, tid: int, priority: int, reset_on_fork: bool = False) -> None:
        """Put thread ``tid`` in ``SCHED_FIFO`` at ``priority`` (raise OSError if refused or unsupported);
        ``reset_on_fork``: what it starts (threads too) gets normal scheduling."""

    def set_nice(self, tid: int, value: int) -> None:
        """Set the ``nice`` value of thread ``tid`` (raise OSError if refused)."""

    def set_io_best_effort(self, tid: int, level: int) -> None:
        """Best-effort I/O priority ``level`` for thread ``tid`` (raise OSError if refused or unsupported)."""

    def get_thread(self, tid: int) -> tuple[int, int, int]:
        """(policy, real-time priority, nice) of thread ``tid``."""

    def restore_thread(self, tid: int, saved: tuple[int, int, int]) -> None:
        """Put back what :meth:`get_thread` returned."""

    def lock_all(self) -> None:
        """``mlockall`` (raise OSError if refused or unsupported)."""


class LinuxSystem:
    """The real calls (``os`` and, for ``ioprio_set`` and ``mlockall``, libc through ctypes)."""

    def __init__(self) -> None:
        self._libc = None

    def _c(self) -> ctypes.CDLL:
        if self._libc is None:
            self._libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols: libc on Linux
        return self._libc

    def thread_id(self) -> int:
        return threading.get_native_id()

    def set_fifo(self, tid: int, priority: int, reset_on_fork: bool = False) -> None:
        if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_FIFO"):
            raise OSError(0, "this platform has no SCHED_FIFO")
        policy = os.SCHED_FIFO | (getattr(os, "SCHED_RESET_ON_FORK", 0) if reset_on_fork else 0)
        os.sched_setscheduler(tid, policy, os.sched_param(priority))

    def set_nice(self, tid: int, value: int) -> None:
        if not hasattr(os, "setpriority"):
            raise OSError(0, "this platform has no setpriority")
        os.setpriority(os.PRIO_PROCESS, tid, value)  # Linux: per thread when given a thread id

    def set_io_best_effort(self, tid: int, level: int) -> None:
        number = _IOPRIO_SET.get(platform.machine().lower())
        if number is None or os.name != "posix" or platform.system() != "Linux":
            raise OSError(0, "no ioprio_set on this platform")
        value = (_IOPRIO_CLASS_BE << _IOPRIO_CLASS_SHIFT) | level
        if self._c().syscall(number, _IOPRIO_WHO_PROCESS, tid, value) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    def get_thread(self, tid: int) -> tuple[int, int, int]:
        policy = os.sched_getscheduler(tid) if hasattr(os, "sched_getscheduler") else 0
        prio = os.sched_getparam(tid).sched_priority if hasattr(os, "sched_getparam") else 0
        nice = os.getpriority(os.PRIO_PROCESS, tid) if hasattr(os, "getpriority") else 0
        return policy, prio, nice

    def restore_thread(self, tid: int, saved: tuple[int, int, int]) -> None:
        policy, prio, nice = saved
        if hasattr(os, "sched_setscheduler"):
            os.sched_setscheduler(tid, policy, os.sched_param(prio))
        if hasattr(os, "setpriority"):
            os.setpriority(os.PRIO_PROCESS, tid, nice)

    def lock_all(self) -> None:
        if platform.system() != "Linux":
            raise OSError(0, "mlockall is used on Linux only")
        libc = self._c()
        # MCL_ONFAULT (Linux 4.4+): lock pages as they are touched, without faulting in every reserved page.
        if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT) == 0:
            return
        err = ctypes.get_errno()
        if err == 22 and libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0:  # EINVAL: a kernel without ONFAULT
            return
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


_SYSTEM: System = LinuxSystem()


def check_priority(priority: object) -> str:
    """Validate a priority mode (one of :data:`PRIORITIES`)."""
    return check_choice("priority", priority, PRIORITIES)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def apply_scheduling(priority: str, system: System | None = None, who: str = "thread", level: int = RT_PRIORITY,
                     reset_on_fork: bool = False) -> Scheduling:
    """Give the calling thread the best scheduling ``priority`` allows (see the module docstring).

    Parameters
    ----------
    priority : {"auto", "realtime", "normal"}
        See :data:`PRIORITIES`.
    system : System | None
        The operating-system calls (the real ones by default; tests pass a fake).
    who : str
        What the thread is, for the log line (``"runner thread"``).
    level : int
        The ``SCHED_FIFO`` priority (1-99; :data:`RT_PRIORITY` for the runner).
    reset_on_fork : bool
        Processes and threads the thread starts get normal scheduling (``SCHED_RESET_ON_FORK``):
        for a thread that only waits and may start other programs (a viewer).

    Returns
    -------
    Scheduling
        What the thread got, and why not more.

    Raises
    ------
    RuntimeError
        ``priority="realtime"`` and the system refuses ``SCHED_FIFO``; the message has the fix.
    """
    check_priority(priority)
    if priority == "normal":
        return Scheduling("normal", "normal")
    sys_ = system or _SYSTEM
    tid = sys_.thread_id()
    try:
        sys_.set_fifo(tid, level, reset_on_fork)
        logger.info("%s: real-time scheduling (SCHED_FIFO %s)", who, level)
        return Scheduling(priority, "SCHED_FIFO", level)
    except OSError as exc:  # PermissionError without CAP_SYS_NICE / rtprio limit
        fifo_err = exc
    refused = f"real-time refused: {_why(fifo_err)}"
    if priority == "realtime":
        raise RuntimeError(
            f"Real-time scheduling for the {who} was requested but the system refused it ({_why(fifo_err)}). "
            f"Allow it (as root, CAP_SYS_NICE, or an rtprio limit of at least {RT_PRIORITY}: "
            f"`ulimit -r {RT_PRIORITY}`, /etc/security/limits.conf) or use --priority auto or normal."
        ) from fifo_err
    io = "unchanged"
    try:
        sys_.set_io_best_effort(tid, 0)
        io = "best-effort 0"
    except OSError as exc:
        logger.debug("%s: I/O priority unchanged (%s)", who, _why(exc))
    try:
        sys_.set_nice(tid, NICE_LEVEL)
        got = Scheduling(priority, "nice", NICE_LEVEL, io, refused)
    except OSError as exc:
        got = Scheduling(priority, "normal", 0, io, f"{refused}; nice {NICE_LEVEL} refused: {_why(exc)}")
    logger.info(
        "%s: %s; allow rtprio %s (`ulimit -r %s`, /etc/security/limits.conf) for fewer late ticks",
        who, got.label, RT_PRIORITY, RT_PRIORITY,
    )
    return got


def set_thread_priority(priority: str) -> str:
    """Give the calling thread the scheduling ``priority`` asks for; return ``"realtime"`` or ``"normal"``.

    The short form of :func:`apply_scheduling` (a ``nice`` fallback counts as ``"normal"``).

    Raises
    ------
    RuntimeError
        ``priority="realtime"`` and the system refuses it (or has no ``SCHED_FIFO``).
    """
    return "realtime" if apply_scheduling(priority).realtime else "normal"


@contextmanager
def scheduled_here(priority: str, system: System | None = None, who: str = "thread") -> Iterator[Scheduling]:
    """Run a block with the calling thread scheduled as ``priority`` allows, then put it back.

    Threads started inside the block (e.g. liblsl's I/O threads when an outlet
    or inlet is created) inherit the scheduling and keep it; the calling thread
    returns to what it had. ``"normal"`` changes nothing.

    Yields
    ------
    Scheduling
        What the threads started inside get.
    """
    sys_ = system or _SYSTEM
    check_priority(priority)
    if priority == "normal":
        yield Scheduling("normal", "normal")
        return
    tid = sys_.thread_id()
    try:
        saved = sys_.get_thread(tid)
    except OSError:
        saved = None
    got = apply_scheduling(priority, sys_, who)
    try:
        yield got
    finally:
        if saved is not None and got.policy != "normal":
            try:
                sys_.restore_thread(tid, saved)
            except OSError as exc:  # lowering one's own priority is always allowed; report anything odd
                logger.warning("%s: could not restore the calling thread's scheduling (%s)", who, _why(exc))


@dataclass(frozen=True)
class MemoryLock:
    """Whether the process's memory is locked in RAM, and why not.

    Attributes
    ----------
    locked : bool
        ``mlockall`` succeeded.
    refused : str
        Why not (empty when locked, ``"not asked"`` when the priority is ``"normal"``).
    """

    locked: bool
    refused: str = ""

    @property
    def label(self) -> str:
        """``"locked"`` or ``"not locked (why)"``."""
        return "locked" if self.locked else f"not locked ({self.refused})"

    def as_dict(self) -> dict:
        """The JSON form."""
        return {**asdict(self), "label": self.label}


def lock_memory(priority: str, system: System | None = None) -> MemoryLock:
    """Lock the whole process in RAM (``mlockall``) unless ``priority`` is ``"normal"``; never raises.

    Process-wide: meant for a process that exists to run the simulator
    (``launch.py run``, the benchmark's simulator). Without ``CAP_IPC_LOCK`` the
    ``memlock`` limit (``ulimit -l``, often 8 MB or 64 kB) is far below the
    simulator's size, so the call is refused and the process runs unlocked (said in
    the log): the pages of a busy process are rarely evicted on a machine with free
    RAM, so this matters only under memory pressure.
    """
    check_priority(priority)
    if priority == "normal":
        return MemoryLock(False, "not asked")
    sys_ = system or _SYSTEM
    try:
        sys_.lock_all()
    except OSError as exc:
        got = MemoryLock(False, f"mlockall refused: {_why(exc)}; needs CAP_IPC_LOCK or `ulimit -l unlimited`")
        logger.info("memory: %s", got.label)
        return got
    logger.info("memory: locked in RAM (mlockall)")
    return MemoryLock(True)


def thread_policies() -> list[dict]:
    """Every thread of this process with its scheduling and CPU time (Linux ``/proc``; empty elsewhere).

    For reports: which threads run real-time and which do the work.
    """
    out = []
    try:
        tids = sorted(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return out
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    names = {getattr(os, "SCHED_OTHER", 0): "normal", getattr(os, "SCHED_FIFO", 1): "SCHED_FIFO",
             getattr(os, "SCHED_RR", 2): "SCHED_RR", getattr(os, "SCHED_BATCH", 3): "SCHED_BATCH",
             getattr(os, "SCHED_IDLE", 5): "SCHED_IDLE"}
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            policy = os.sched_getscheduler(tid) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
            out.append({"tid": tid, "policy": names.get(policy, str(policy)),
                        "rt_priority": os.sched_getparam(tid).sched_priority, "nice": int(fields[16]),
                        "cpu_s": (int(fields[11]) + int(fields[12])) / tick})
        except (OSError, IndexError, ValueError):  # the thread ended meanwhile
            continue
    return out


def realtime_threads_elsewhere() -> list[dict]:
    """User threads of other processes in ``SCHED_FIFO``/``SCHED_RR`` (Linux ``/proc``; kernel threads left out).

    A real-time thread of another program (another simulator, an audio server)
    competes with the runner at its own level: benchmarks record them.
    """
    out = []
    me = os.getpid()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return out
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == 2 or pid == 2:  # kernel threads (children of kthreadd)
                continue
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            with open(f"/proc/{pid}/comm") as fh:
                name = fh.read().strip()
        except (OSError, ValueError, IndexError):
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                    tf = fh.read().rsplit(")", 1)[1].split()
                policy, rtprio = int(tf[38]), int(tf[37])
            except (OSError, ValueError, IndexError):
                continue
            if policy in (1, 2):  # SCHED_FIFO, SCHED_RR
                out.append({"pid": pid, "tid": tid, "name": name, "rt_priority": rtprio})
    return out
