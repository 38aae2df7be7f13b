"""Noise and artefacts added to the engine's EMG: amplifier noise, 1/f noise, power line,
baseline wander, IMU-driven motion artefacts and ECG crosstalk.

Public API::

    from realtime.stages.artefacts import ArtefactSettings, ArtefactStage, add_artefacts

See ``docs/artefacts.md``.
"""

from realtime.stages.artefacts.settings import POWERLINE_FREQUENCIES, ArtefactSettings
from realtime.stages.artefacts.stage import COMPONENTS, ArtefactStage, add_artefacts

__all__ = ["COMPONENTS", "POWERLINE_FREQUENCIES", "ArtefactSettings", "ArtefactStage", "add_artefacts"]
