"""myostream real-time core: blocks, stages, the runner, the activation model and the EMG engine."""

from realtime.core.block import Block, empty_block
from realtime.core.logs import logger, set_log_level

__all__ = ["Block", "empty_block", "logger", "set_log_level"]
__version__ = "0.1.0"
