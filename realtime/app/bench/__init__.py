"""Latency and soak benchmarks: an IMU source, the simulator and a consumer, each in its own process.

- :mod:`realtime.app.bench.workers`: the three process bodies (started as
  the hidden commands ``bench worker imu|sim|consumer``).
- :mod:`realtime.app.bench.session`: starts the three processes for one
  configuration and collects what they recorded.
- :mod:`realtime.app.bench.analysis`: latency, rate, grid and loss figures from
  those records (pure numpy).
- :mod:`realtime.app.bench.latency`: the configuration sweep of ``bench latency``.
- :mod:`realtime.app.bench.soak`: the long run of ``bench soak``.
- :mod:`realtime.app.bench.report`: markdown tables and PNG plots.
- :mod:`realtime.app.bench.provisional`: cost and accuracy of the network
  stage's provisional rows (``launch.py bench provisional --json P``).

The commands that run them live in :mod:`realtime.app.cli` (``bench_*`` modules).

See ``docs/latency.md``.
"""
