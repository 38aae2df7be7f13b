"""``python -m realtime.app.cli ...``: the myostream command line (the same as ``python launch.py``)."""

from realtime.app.cli.main import main

main()
