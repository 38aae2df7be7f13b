"""Gesture intent from LSL: every stream named ``<prefix>-intent``, from any program.

A worker thread keeps resolving the name (the viewer, a script, a game
controller bridge may come and go, several at once) and pulls what each
stream sends; :meth:`LslIntent.poll` hands it over without blocking (the
runner calls it once per EMG block):

- a **string** stream (markers): each sample's first channel as a command,
  e.g. ``"hand_close 0.6"`` (parsed by ``realtime.body.gestures.intent``);
- a **numeric** stream: one channel per gesture, labelled with the gesture
  names (``desc/channels/channel/label``), values 0-1; the newest sample of
  each pull becomes a ``{gesture: level}`` mapping.
"""

from __future__ import annotations

import threading
from collections import deque
from xml.etree import ElementTree

import pylsl

from realtime.core.checks import check_name, check_number
from realtime.core.lifecycle import Lifecycle
from realtime.core.logs import logger


def channel_labels(info: pylsl.StreamInfo) -> list[str]:
    """The channel labels of a stream's metadata (``ch1, ch2, ...`` where there are none)."""
    labels = []
    try:
        root = ElementTree.fromstring(info.as_xml())
        labels = [c.findtext("label") or "" for c in root.findall("./desc/channels/channel")]
    except ElementTree.ParseError:
        pass
    if len(labels) != info.channel_count() or not all(labels):
        labels = [f"ch{k + 1}" for k in range(info.channel_count())]
    return labels


class LslIntent(Lifecycle):
    """Collect gesture intents from every LSL stream of one name.

    Parameters
    ----------
    name : str
        The stream name to listen to (``<prefix>-intent``).
    poll_interval : float
        Seconds between two pulls of the worker (also how often it looks for new streams, ×10).
    """

    def __init__(self, name: str, poll_interval: float = 0.002) -> None:
        super().__init__()
        self.name = check_name("name", name)
        self.poll_interval = check_number("poll_interval", poll_interval, 0.0005, 1.0, "s")
        self._pending: deque = deque(maxlen=1024)
        self._lock = threading.Lock()
        self._inlets: dict[str, tuple[pylsl.StreamInlet, bool, list[str]]] = {}
        self.received = 0
        """Intents received so far."""

    def _describe(self) -> str:
        return f"intent listener {self.name!r}"

    def poll(self) -> list:
        """The intents received since the last call, oldest first (never blocks)."""
        if not self._pending:
            return []
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
        return items

    def _push(self, item: object) -> None:
        with self._lock:
            self._pending.append(item)
        self.received += 1

    def _run(self) -> None:
        resolver = pylsl.ContinuousResolver(prop="name", value=self.name, forget_after=5.0)
        tick = 0
        try:
            while not self._stop_event.is_set():
                if tick % 10 == 0:
                    self._adopt(resolver.results())
                tick += 1
                self._pull_all()
                self._stop_event.wait(self.poll_interval)
        finally:
            for inlet, _, _ in self._inlets.values():
                inlet.close_stream()
            self._inlets.clear()

    def _adopt(self, infos: list) -> None:
        for info in infos:
            uid = info.uid()
            if uid in self._inlets:
                continue
            is_text = info.channel_format() == pylsl.cf_string
            inlet = pylsl.StreamInlet(info, max_buflen=5, recover=False)
            try:
                inlet.open_stream(timeout=1.0)
            except pylsl.TimeoutError:
                continue
            labels = [] if is_text else channel_labels(inlet.info(timeout=1.0))
            self._inlets[uid] = (inlet, is_text, labels)
            logger.info("%s: listening to %s (%s).", self._describe(), info.source_id(),
                        "commands" if is_text else f"levels of {', '.join(labels)}")

    def _pull_all(self) -> None:
        lost = []
        for uid, (inlet, is_text, labels) in self._inlets.items():
            try:
                samples, _ = inlet.pull_chunk(timeout=0.0)
            except pylsl.LostError:
                lost.append(uid)
                continue
            if not samples:
                continue
            if is_text:
                for sample in samples:
                    self._push(str(sample[0]))
            else:
                self._push(dict(zip(labels, (float(v) for v in samples[-1]))))
        for uid in lost:
            self._inlets.pop(uid)[0].close_stream()


__all__ = ["LslIntent", "channel_labels"]
