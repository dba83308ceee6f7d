"""The application role the PostgreSQL tests run as (least privilege, see ``docs/deployment.md``).

The migration role is the server's admin login (``postgres``, which migrates the session's
template database); the tests' application login is ``APP_ROLE``, a cluster-wide role that owns
nothing and holds only the grants of ``opsrel db grant`` (``roles.apply_grants``, which creates
it when missing). It is never dropped: other test sessions on the same server may be using it.
"""

import sqlalchemy as sa

APP_ROLE = "opsrel_test_app"


def as_role(url: str, role: str) -> str:
    """``url`` logging in as ``role`` (same server and database, no password)."""
    return sa.engine.make_url(url).set(username=role, password=None).render_as_string(
        hide_password=False
    )


def app_url(url: str) -> str:
    """``url`` logging in as ``APP_ROLE``; a SQLite URL is returned as is."""
    return url if url.startswith("sqlite") else as_role(url, APP_ROLE)
