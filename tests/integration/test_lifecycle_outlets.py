"""LSL outlets on the shared lifecycle base (realtime/core/lifecycle.py): messages name the stream."""

from __future__ import annotations

import pytest

from devices.lsl_outlet import MarkerOutlet
from realtime.core.schemas import markers_stream_spec


def test_outlet_messages_name_the_stream(lsl_prefix: str) -> None:
    markers = MarkerOutlet(markers_stream_spec(lsl_prefix))
    with pytest.raises(RuntimeError, match=rf"The outlet '{lsl_prefix}-markers' is not started\. Use MarkerOutlet\.start\(\)"):
        markers("hello", 0.0)
    with markers:
        markers("hello", 1.0)
    assert not markers.running
