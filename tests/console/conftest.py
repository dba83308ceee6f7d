"""The console's tests: a served console (``tests.support.console``)."""

from tests.support.console import console_site  # noqa: F401 - fixture
