"""The foundation: what every other part of myostream builds on.

Blocks (:mod:`.block`), the stage contract (:mod:`.contract`), units and
constants (:mod:`.units`), input checks (:mod:`.checks`), logging
(:mod:`.logs`), anatomy names (:mod:`.anatomy`), stream schemas
(:mod:`.schemas`), the lifecycle of resource parts (:mod:`.lifecycle`), how
to start the command line in a new process (:mod:`.launcher`) and thread
scheduling (:mod:`.priority`). It imports nothing else of the project.
"""
