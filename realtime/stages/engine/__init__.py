"""The EMG engine: motor-unit pools, analytical MUAPs and a numba overlap-add.

Public API::

    from realtime.stages.engine import EmgEngine, EngineSettings, simulate_emg, get_layout

See ``docs/engine.md`` for the model, the data and the numbers.
"""

from realtime.stages.engine.engine import Discharges, EmgEngine, compile_kernels, simulate_emg
from realtime.stages.engine.layout import Layout
from realtime.stages.engine.layouts import LAYOUTS, get_layout
from realtime.stages.engine.settings import MUAP_MODES, EngineSettings

__all__ = [
    "LAYOUTS",
    "MUAP_MODES",
    "Discharges",
    "EmgEngine",
    "compile_kernels",
    "EngineSettings",
    "Layout",
    "get_layout",
    "simulate_emg",
]
