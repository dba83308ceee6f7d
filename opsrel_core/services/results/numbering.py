"""A new version of an asset partition: numbered one above the partition's highest, inactive.

Results are never overwritten: every materialization is stored as a new version (content hash,
row count, storage location, execution id). The same execution recording again (a retried step)
gets its version back. Two writers numbering one partition at once both read the same highest
number; the unique (asset, partition, number) refuses the second commit, which numbers again.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from opsrel_core.domain import error_codes
from opsrel_core.domain import result_versions as rules
from opsrel_core.errors import LogicException
from opsrel_core.persistence.repositories.result_versions import ResultVersionRepository
from opsrel_core.persistence.tables import ResultVersion, utcnow
from opsrel_core.persistence.uow import UnitOfWork
from opsrel_core.services.results.views import ATTEMPTS, Repository, ResultVersionView


def stage_version(session: Session, *, asset_key: str, partition_key: str, execution_id: str,
                  content_hash: str, row_count: int, storage_uri: str | None,
                  repository: Repository = ResultVersionRepository) -> ResultVersion:
    """The execution's version of an asset partition: the one it recorded already (a retried
    step), else a new inactive row numbered one above the partition's highest, added to
    ``session`` and not committed.

    A concurrent writer taking the same number surfaces as ``IntegrityError`` at the caller's
    flush or commit (the unique asset, partition and number), where the caller numbers again.

    Args:
        repository: the result-version SQL over ``session`` (an in-memory fake's in the unit
            tier).
    """
    repo = repository(session)
    existing = repo.of_execution(asset_key, partition_key, execution_id)
    if existing is not None:
        return existing
    return repo.add(dict(
        asset_key=asset_key, partition_key=partition_key,
        version_number=rules.next_number(repo.highest_number(asset_key, partition_key)),
        execution_id=execution_id, content_hash=content_hash, row_count=row_count,
        storage_uri=storage_uri, is_active=False, created_at=utcnow(),
    ))


def create_version(engine: sa.Engine, repository: Repository, *, asset_key: str,
                   partition_key: str, execution_id: str, content_hash: str, row_count: int,
                   storage_uri: str | None) -> ResultVersionView:
    """Stage and commit one version, numbering again while concurrent writers take the number.

    The arguments are those of ``ResultVersionService.create_version``.

    Raises:
        LogicException: LOG-001 after ``ATTEMPTS`` conflicts with concurrent writers.
    """
    for _attempt in range(ATTEMPTS):
        with UnitOfWork(engine) as uow:
            try:
                row = stage_version(
                    uow.session, asset_key=asset_key, partition_key=partition_key,
                    execution_id=execution_id, content_hash=content_hash, row_count=row_count,
                    storage_uri=storage_uri, repository=repository)
                uow.commit()
            except sa.exc.IntegrityError:
                continue  # a concurrent writer took this number: number again
            return ResultVersionView.of(row)
    raise LogicException(
        error_codes.LOG_INVARIANT_BROKEN,
        f"could not number a version of {asset_key}/{partition_key} after {ATTEMPTS} attempts",
    )
