"""Latency and soak benchmarks: an IMU source, the simulator and a consumer, each in its own process.

- :mod:`realtime.benchmarks.workers`: the three process bodies
  (``python -m realtime.benchmarks.workers imu|sim|consumer``).
- :mod:`realtime.benchmarks.session`: starts the three processes for one
  configuration and collects what they recorded.
- :mod:`realtime.benchmarks.analysis`: latency, rate, grid and loss figures from
  those records (pure numpy).
- :mod:`realtime.benchmarks.latency`: the configuration sweep of ``bench latency``.
- :mod:`realtime.benchmarks.soak`: the long run of ``bench soak``.
- :mod:`realtime.benchmarks.report`: markdown tables and PNG plots.
- :mod:`realtime.benchmarks.provisional`: cost and accuracy of the network
  stage's provisional rows (``python -m realtime.benchmarks.provisional --json P``).

See ``docs/latency.md``.
"""
