"""A fake clock for runner-level tests: time moves only when something sleeps or advances it."""

from __future__ import annotations


class FakeClock:
    """A clock that only moves when something sleeps or advances it.

    ``sleep(dt)`` advances time by ``dt`` immediately, so a runner paced by this
    clock runs as fast as the CPU allows while seeing exact, repeatable times.
    """

    def __init__(self, t: float = 1000.0) -> None:
        self.t = float(t)
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        """Advance by ``dt`` seconds (ignores non-positive values)."""
        if dt > 0:
            self.t += dt
            self.slept += dt

    def advance(self, dt: float) -> None:
        """Advance by ``dt`` seconds without counting it as sleep (time spent working)."""
        self.t += dt
