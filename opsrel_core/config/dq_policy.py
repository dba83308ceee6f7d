"""The baseline a WARN rule's warnings are measured against before they raise DQ-002
(``opsrel_core.services.dq_alert_policy``)."""

import dataclasses
from collections.abc import Mapping

from opsrel_core.config.environment import or_process
from opsrel_core.domain.dq_baseline import BaselinePolicy


@dataclasses.dataclass(frozen=True)
class WarnPolicy:
    """The baseline a WARN rule's warnings are measured against (``BaselinePolicy``)."""

    baseline: BaselinePolicy = BaselinePolicy()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "WarnPolicy":
        """Read ``OPSREL_DQ_BASELINE_WINDOW``, ``OPSREL_DQ_BASELINE_MIN_HISTORY``,
        ``OPSREL_DQ_NOISY_SHARE`` and ``OPSREL_DQ_RISE_FACTOR`` (empty values count as unset).

        Raises:
            ValueError: a value that is not a number, or out of range (see ``BaselinePolicy``).
        """
        env = or_process(environ)
        default = BaselinePolicy()
        return cls(BaselinePolicy(
            window=int(env.get("OPSREL_DQ_BASELINE_WINDOW") or default.window),
            min_history=int(env.get("OPSREL_DQ_BASELINE_MIN_HISTORY") or default.min_history),
            noisy_share=float(env.get("OPSREL_DQ_NOISY_SHARE") or default.noisy_share),
            rise_factor=float(env.get("OPSREL_DQ_RISE_FACTOR") or default.rise_factor),
        ))
