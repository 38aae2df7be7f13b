"""The processing stages: activation network inference, resampling, the EMG engine, artefacts, faults.

Each stage follows :mod:`realtime.core.contract`; stages import only the
foundation (:mod:`realtime.core`).
"""
