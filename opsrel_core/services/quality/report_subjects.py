"""The subject of a report named by a caller: a job's partition or a day, checked against the
catalog (``opsrel_core.domain.dq_subjects`` says which report a key makes)."""

import sqlalchemy as sa

from opsrel_core.domain import error_codes
from opsrel_core.domain.dq_subjects import DAILY, Subject, check_key, parse_day, subject_of
from opsrel_core.errors import NotFoundException
from opsrel_core.persistence.repositories.dq_reports import DqReportRepository
from opsrel_core.persistence.tables import BatchJob
from opsrel_core.persistence.uow import UnitOfWork

JOB_NOT_FOUND_CODE = error_codes.BAT_RECORD_NOT_FOUND


def require_job(repo: DqReportRepository, job_id: str) -> BatchJob:
    """The job of the catalog with this id.

    Raises:
        NotFoundException: BAT-011 when no job has this id.
    """
    job = repo.job(job_id)
    if job is None:
        raise NotFoundException(JOB_NOT_FOUND_CODE, f"no batch job {job_id!r}", {"job_id": job_id})
    return job


def partition_subject(engine: sa.Engine, job_id: str, partition_key: str) -> Subject:
    """The subject of a job's partition report: DAILY for a day of a daily job, else PARTITION.

    Raises:
        NotFoundException: BAT-011 when no job has this id.
        ValueError: a blank or too long partition key.
    """
    check_key(partition_key)
    with UnitOfWork(engine) as uow:
        kind = require_job(DqReportRepository(uow.session), job_id).partitions
    return subject_of(job_id, partition_key, kind)


def daily_subject(engine: sa.Engine, partition_key: str, job_id: str | None) -> Subject:
    """The subject of a day's report: of ``job_id``, else of the catalog's one daily job (None
    when the catalog has none: every job's results).

    Raises:
        ValueError: the key is not an ISO date, or ``job_id`` is None and the catalog holds
            several daily jobs.
        NotFoundException: BAT-011 when ``job_id`` names no job.
    """
    day = parse_day(partition_key)
    with UnitOfWork(engine) as uow:
        repo = DqReportRepository(uow.session)
        if job_id is not None:
            require_job(repo, job_id)
        else:
            daily = repo.daily_job_ids()
            if len(daily) > 1:
                raise ValueError(f"the catalog holds several daily jobs ({', '.join(daily)}): "
                                 "name the job of the report")
            job_id = daily[0] if daily else None
    return Subject(DAILY, job_id, day.isoformat(), day)
