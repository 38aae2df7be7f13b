"""Fault injection for controller testing: scripted (a JSON/TOML file) and at run time.

Public API::

    from realtime.stages.faults import Fault, FaultStage, load_faults, apply_faults

See ``docs/faults.md``.
"""

from realtime.stages.faults.schedule import (
    FAULT_KINDS,
    FAULT_PARAMS,
    Fault,
    load_faults,
    parse_faults,
)
from realtime.stages.faults.stage import FaultedRecord, FaultStage, ScheduledFault, apply_faults

__all__ = [
    "FAULT_KINDS",
    "FAULT_PARAMS",
    "Fault",
    "FaultStage",
    "FaultedRecord",
    "ScheduledFault",
    "apply_faults",
    "load_faults",
    "parse_faults",
]
