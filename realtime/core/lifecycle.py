"""The lifecycle of resource parts: outlets, devices, replays, the synthetic arm, the runner.

:class:`Lifecycle` is written once and gives each of them the same behaviour:

- ``start()`` opens the resource (:meth:`Lifecycle._open`, in the caller's
  thread, so a missing device fails at once with its message) and, for a part
  that owns a worker thread (it overrides :meth:`Lifecycle._run`), starts it.
  A second ``start()`` logs a warning through the package logger and does
  nothing else.
- ``stop()`` asks the worker to end (:attr:`Lifecycle._stop_event`), joins it,
  releases the resource (:meth:`Lifecycle._close`) and re-raises an exception
  the worker stored: a worker's error is never lost. ``stop()`` on a part that
  is not started raises :class:`RuntimeError` with the fix ("Use X.start() first.").
- ``running`` says whether ``start()`` was called and ``stop()`` was not;
  ``with part:`` starts and stops it.
- :meth:`Lifecycle.wait` waits for a worker that ends by itself (a run with a
  duration) and collects it like ``stop()``.
"""

from __future__ import annotations

import threading

from realtime.core.logs import logger


class Lifecycle:
    """Base of the parts that hold a resource between ``start()`` and ``stop()`` (see the module docstring).

    Subclasses override what they need:

    - :meth:`_open` (default: nothing): acquire the resource; raise with the fix if impossible.
    - :meth:`_run` (default: no worker thread): the worker's body; loop until
      ``self._stop_event`` is set. An exception it raises is stored and
      re-raised from ``stop()`` (or from :meth:`_raise_stored_error`, e.g. in ``read()``).
    - :meth:`_close` (default: nothing): release the resource (after the worker ended).
    - :meth:`_describe` (default: the class name): how messages name the part.

    Attributes
    ----------
    stop_timeout : float
        Seconds ``stop()`` waits for the worker thread to end.
    """

    stop_timeout: float = 5.0

    def __init__(self) -> None:
        self._started = False
        self._stop_event = threading.Event()
        self._worker: threading.Thread | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ public
    @property
    def running(self) -> bool:
        """Whether ``start()`` has been called and ``stop()`` has not."""
        return self._started

    @property
    def worker_alive(self) -> bool:
        """Whether the worker thread is running (``False`` for a part without one)."""
        return self._worker is not None and self._worker.is_alive()

    def start(self) -> None:
        """Open the resource and start the worker thread, if the part has one.

        A second call logs a warning and changes nothing.
        """
        if self._started:
            logger.warning("%s: already started; start() ignored.", self._describe())
            return
        self._stop_event.clear()
        self._error = None
        self._open()
        self._started = True
        if self._owns_worker():
            self._worker = threading.Thread(
                target=self._worker_main, name=f"myostream-{type(self).__name__}", daemon=True
            )
            self._worker.start()

    def stop(self) -> None:
        """Stop the worker, release the resource and re-raise an exception the worker stored.

        Raises
        ------
        RuntimeError
            The part is not started, or its worker did not end within :attr:`stop_timeout`.
        BaseException
            Whatever the worker raised.
        """
        self._check_started("stop()")
        self._stop_event.set()
        self._collect(self.stop_timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end by itself; then release the resource like ``stop()``.

        Returns
        -------
        ended : bool
            ``True`` if the worker ended (the part is stopped; its stored
            exception, if any, is raised), ``False`` on timeout (still running).
        """
        self._check_started("wait()")
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                return False
        self._collect(0.0)
        return True

    def __enter__(self):  # noqa: ANN204 - returns the subclass instance
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self.stop()

    # ------------------------------------------------------------------ for subclasses
    def _open(self) -> None:
        """Acquire the resource in the caller's thread (raise with the fix if impossible)."""

    def _run(self) -> None:
        """The worker thread's body; a subclass that overrides it owns a worker thread."""

    def _close(self) -> None:
        """Release the resource (the worker has ended)."""

    def _describe(self) -> str:
        """How messages name this part."""
        return type(self).__name__

    def _check_started(self, action: str) -> None:
        """Raise :class:`RuntimeError` with the fix if the part is not started."""
        if not self._started:
            cls = type(self).__name__
            fix = f"Use {cls}.start() first." if action == "stop()" else (
                f"Use {cls}.start() (or `with {cls}(...) as part:`) before {action}."
            )
            raise RuntimeError(f"{self._describe()} is not started. {fix}")

    def _raise_stored_error(self) -> None:
        """Re-raise (once) an exception the worker stored."""
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    # ------------------------------------------------------------------ internals
    def _owns_worker(self) -> bool:
        return type(self)._run is not Lifecycle._run

    def _worker_main(self) -> None:
        try:
            self._run()
        except BaseException as err:  # re-raised from stop()/wait()/the subclass's read()
            logger.error("%s: worker thread failed: %r", self._describe(), err)
            self._error = err

    def _collect(self, timeout: float) -> None:
        worker, stuck = self._worker, False
        if worker is not None:
            worker.join(timeout)
            stuck = worker.is_alive()
        self._worker = None
        self._started = False
        try:
            self._close()
        finally:
            if stuck:
                raise RuntimeError(
                    f"{self._describe()}: the worker thread did not stop within {timeout:g} s."
                ) from self._error
            self._raise_stored_error()
