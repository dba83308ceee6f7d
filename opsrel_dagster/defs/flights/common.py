"""Conventions shared by the flights assets: partitions, group and job id."""

import dagster as dg

FLIGHTS_GROUP = "flights"
FLIGHTS_JOB_ID = "flights_daily"
"""The flights pipeline's job id in the ops batch-job catalog."""

flights_partitions = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")
"""One partition per local flight date of 2013 (the ``year``/``month``/``day`` columns)."""
