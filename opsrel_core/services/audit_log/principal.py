"""The acting principal: who is authenticated for the work that runs now.

An audit record names, beside the operator name the caller passes, the principal that was
authenticated for the action: ``token:<id>`` (set by the admin API's authentication), ``os:<user>``
(the CLI), ``sensor:<name>`` (a Dagster sensor's evaluation). The entry point sets it once and
``audit_change`` reads it, so no service passes it along. It is a context variable, so that
concurrent requests and sensor threads each keep their own.
"""

import contextlib
import contextvars
from collections.abc import Iterator

from opsrel_core.domain import operator_names

MAX_PRINCIPAL_LENGTH = 120

acting_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "opsrel_acting_principal", default=None)


@contextlib.contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Run the block with ``principal`` as the acting principal of every audit record written.

    Entry points wrap their work in it: the CLI as ``os:<user>``, each Dagster sensor as
    ``sensor:<name>``. The admin API sets ``acting_principal`` for the request (``token:<id>``).
    """
    token = acting_principal.set(principal)
    try:
        yield
    finally:
        acting_principal.reset(token)


def current_principal() -> str:
    """The acting principal recorded now: the one an entry point set, else ``os:<user>`` (code
    that runs outside every entry point, a script using the services, acts as its OS user).
    At most ``MAX_PRINCIPAL_LENGTH`` (120) characters, the column's width."""
    principal = acting_principal.get()
    return principal[:MAX_PRINCIPAL_LENGTH] if principal else operator_names.os_principal()
