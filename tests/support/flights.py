"""The example flights pipeline as one Dagster job, for tests that create runs by hand."""

import dagster as dg


def flights_job() -> dg.JobDefinition:
    """All flights assets as the job ``flights_job``, with the code location's resources.

    Returns:
        A job definition for ``DagsterInstance.create_run_for_job`` (runs created, not launched).
    """
    from opsrel_dagster.defs.flights import defs as flights_defs
    from opsrel_dagster.defs.flights import FLIGHT_ASSETS

    return dg.Definitions(
        assets=FLIGHT_ASSETS,
        jobs=[dg.define_asset_job("flights_job", selection=FLIGHT_ASSETS)],
        resources=dict(flights_defs.resources),
    ).resolve_job_def("flights_job")
