"""Run tags opsrel reads and writes; all under the ``opsrel/`` prefix (defined in the core)."""

from opsrel_core.domain.run_tags import OPERATOR, PARENT_EXECUTION_ID, REASON, REPLAY_ID, TRIGGER

__all__ = ["OPERATOR", "PARENT_EXECUTION_ID", "REASON", "REPLAY_ID", "TRIGGER"]
