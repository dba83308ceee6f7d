"""The old home of ``OutputRecorder``: its names, re-exported from ``opsrel_core.services.results``
so importers outside ``opsrel_core`` keep working."""

from opsrel_core.services.results import NewVersion, OutputRecorder, RecordedOutput

__all__ = ["NewVersion", "OutputRecorder", "RecordedOutput"]
