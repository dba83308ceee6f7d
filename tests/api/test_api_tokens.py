"""ApiTokenService and its migration, on both backends."""

import pytest
import sqlalchemy as sa

from opsrel_core.persistence.tables import AuditLog
from opsrel_core.services.api_tokens import ApiToken, ApiTokenService, Role, hash_token


def test_token_is_stored_hashed_and_authenticates_until_revoked(engine):
    tokens = ApiTokenService(engine)
    plaintext, view = tokens.create("alice", "operator", by="root", reason="new colleague")
    assert view.role is Role.OPERATOR and view.revoked_at is None
    with engine.connect() as conn:
        stored = conn.scalar(sa.select(ApiToken.token_hash).where(ApiToken.token_id == view.token_id))
    assert stored == hash_token(plaintext) and plaintext not in stored
    assert tokens.authenticate(plaintext) == ("alice", Role.OPERATOR)
    assert tokens.authenticate(plaintext + "x") is None
    assert tokens.authenticate("") is None
    assert tokens.revoke(view.token_id, by="root", reason="left").revoked_at is not None
    assert tokens.authenticate(plaintext) is None


def test_audited_create_and_revoke_write_one_record_each(engine):
    tokens = ApiTokenService(engine)
    _, view = tokens.create("bob", "viewer", by="root", reason="new colleague")
    revoked = tokens.revoke(view.token_id, by="root", reason="left")
    again = tokens.revoke(view.token_id, by="root", reason="left")
    assert again.audit_id is None
    with engine.connect() as conn:
        rows = conn.execute(sa.select(AuditLog.audit_id, AuditLog.action, AuditLog.operator_id)
                            .order_by(AuditLog.audit_id)).all()
    assert [(r.audit_id, r.action, r.operator_id) for r in rows] == [
        (view.audit_id, "CREATE_API_TOKEN", "root"), (revoked.audit_id, "REVOKE_API_TOKEN", "root")
    ]


def test_bad_role_and_unknown_token(engine):
    tokens = ApiTokenService(engine)
    with pytest.raises(ValueError):
        tokens.create("alice", "root", by="root", reason="typo")
    with pytest.raises(LookupError):
        tokens.revoke(999, by="root", reason="typo")
