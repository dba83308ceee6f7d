"""A failed run read between Dagster's two writes (its FAILURE, then its retry decision) is
read again until the decision is there, so a run about to be retried raises no alert."""

import threading
import time

import dagster as dg

from opsrel_dagster.projection.launch_facts import WILL_RETRY_TAG, will_retry, with_retry_decision


@dg.op
def _noop() -> None:
    return None


@dg.job
def _job() -> None:
    _noop()


def test_a_failed_run_waits_for_its_retry_decision():
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True}}) as instance:
        run = instance.create_run_for_job(_job)
        instance.handle_run_event(run.run_id, dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_FAILURE.value, job_name=_job.name,
            message="failed"))
        failed = instance.get_run_by_id(run.run_id)
        assert failed.status == dg.DagsterRunStatus.FAILURE and WILL_RETRY_TAG not in failed.tags
        # Dagster's second write, a moment after the status.
        later = threading.Timer(0.3, instance.add_run_tags, (run.run_id, {WILL_RETRY_TAG: "true"}))
        later.start()
        started = time.monotonic()
        decided = with_retry_decision(instance, failed)
        later.join()
        assert will_retry(decided) and 0.25 < time.monotonic() - started < 2.0
        # Without the second write the run is taken as it is after the wait.
        other = instance.create_run_for_job(_job)
        instance.handle_run_event(other.run_id, dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_FAILURE.value, job_name=_job.name,
            message="failed"))
        lone = instance.get_run_by_id(other.run_id)
        assert not will_retry(with_retry_decision(instance, lone, wait_seconds=0.2))


def test_without_run_retries_nothing_waits():
    with dg.instance_for_test() as instance:
        run = instance.create_run_for_job(_job)
        instance.handle_run_event(run.run_id, dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_FAILURE.value, job_name=_job.name,
            message="failed"))
        failed = instance.get_run_by_id(run.run_id)
        started = time.monotonic()
        assert with_retry_decision(instance, failed) is failed
        assert time.monotonic() - started < 0.05
