"""Run tags opsrel reads and writes; all under the ``opsrel/`` prefix."""

TRIGGER = "opsrel/trigger"
OPERATOR = "opsrel/operator"
REASON = "opsrel/reason"
REPLAY_ID = "opsrel/replay_id"
PARENT_EXECUTION_ID = "opsrel/parent_execution_id"
