"""The myostream command line from a checkout: ``python launch.py --help``.

A shim: the same as ``python -m realtime.app.cli`` or the installed
``myostream`` script (:mod:`realtime.app.cli.main`).
"""

import sys
from pathlib import Path

# Allow `python launch.py ...` from a checkout without installation.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from realtime.app.cli.main import cli, main  # noqa: E402

__all__ = ["cli", "main"]

if __name__ == "__main__":
    main()
