"""The run tags opsrel reads and writes, all under the ``opsrel/`` prefix.

They are plain strings, so the core's rules (attribution, the replay plan) can name them without
knowing the orchestrator; the Dagster adapter stamps and reads them on runs.
"""

TRIGGER = "opsrel/trigger"
"""How opsrel itself launched the run (``CLI`` for ``opsrel run`` and embedded replays)."""
OPERATOR = "opsrel/operator"
"""Who decided the run: an operator id, or ``sensor:<name>`` / ``schedule:<name>``."""
REASON = "opsrel/reason"
"""Why the run was launched, in the operator's words (or the automatic reason)."""
REPLAY_ID = "opsrel/replay_id"
"""The ops ``replay`` row the run belongs to."""
PARENT_EXECUTION_ID = "opsrel/parent_execution_id"
"""The execution whose result the run replaces, or the failed execution it redoes."""
