"""Sensors act as themselves: every audit record a sensor's evaluation writes names it.

``acts_as_sensor(name)`` wraps a sensor's evaluation function so that the core's acting principal
(``opsrel_core.services.audit_log.acting_principal``) is ``sensor:<name>`` while it runs: a replay
the landing sensor records, a manual run the projection records, each says which sensor wrote
it, beside the operator name. Put it under ``@dg.sensor(...)``; the wrapped function keeps its
signature, so Dagster still sees its context and resource parameters.
"""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from opsrel_core.domain.operator_names import sensor_principal
from opsrel_core.services.audit_log import acting_as

F = TypeVar("F", bound=Callable[..., Any])


def acts_as_sensor(name: str) -> Callable[[F], F]:
    """Decorate a sensor evaluation function (not a generator) to act as ``sensor:<name>``."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def evaluate(*args: Any, **kwargs: Any) -> Any:
            with acting_as(sensor_principal(name)):
                return fn(*args, **kwargs)

        return evaluate  # type: ignore[return-value]

    return decorate
