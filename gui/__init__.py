"""The live viewer: a separate process that reads myostream's LSL streams and draws them.

The package is an LSL *consumer*: it never calls pipeline stages, so a slow
GUI can never stall the producer. Modules:

- :mod:`gui.ring_buffer`: preallocated ring buffers filled by ``pull_chunk(dest_obj=...)``.
- :mod:`gui.decimate`: min/max decimation of traces to the pixel width.
- :mod:`gui.streams`: stream discovery, metadata parsing, inlets with loss/return detection.
- :mod:`gui.traces`, :mod:`gui.heatmap`, :mod:`gui.panels`: the plot widgets.
- :mod:`gui.viewer`: the main window and the presenter that drives it at ~30 Hz.
- :mod:`gui.process`: starting the viewer's process, its readiness line, its CPU priority.

The commands are ``view`` and ``bench viewer`` (:mod:`realtime.app.cli`); a test
producer of the streams it draws is ``demo-outlet`` (:mod:`realtime.app.demo_outlet`).
Like every peer of the foundation, the package imports only :mod:`realtime.core`.

Importing this package does not import Qt; the Qt modules import it themselves.
"""

from __future__ import annotations
