"""Sign-in sessions of the planner's workspace, and the CSRF tokens of its forms.

A person signs in once with their tenant's API key (the key itself is never kept: only
its hash, to refuse the session as soon as the key is revoked). The session is a
server-side record (table ``web_sessions``) named by a random token; the browser holds the
token in an HttpOnly, SameSite=Strict cookie (Secure when the request came over HTTPS),
signed with HMAC-SHA256 by a server secret kept in the data directory (``web-secret``,
created with mode 0600). Signing out ends the record, so the old cookie is refused even if
it was copied.

Every form carries a CSRF token: HMAC(secret, "csrf:" + session token) once signed in, and
HMAC(secret, "pre:" + nonce) on the sign-in form, whose nonce lives in a short-lived
cookie of its own. A form without the right token is refused with 403.

Single sign-on later: :func:`SessionStore.start` is the one place a session begins, from
a tenant and the hash of the credential that proved it. An OpenID Connect login would be
two more routes in :mod:`service.web.pages` (redirect to the provider; callback that checks
the ID token and maps its ``sub``/group claim to a tenant) ending in the same ``start``
call, with the provider's subject in place of the key hash and :meth:`SessionStore.tenant_of`
checking that instead of the API key table.

The table, ``web_sessions``, is the service's (:mod:`service.store`, migration 0003), so one
schema and one migration history hold everything the service stores.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from service.store import Store, api_keys, hash_key, web_sessions

__all__ = ["COOKIE", "PRE_COOKIE", "Session", "SessionStore", "load_secret"]

COOKIE = "spin_session"
"""The session cookie."""
PRE_COOKIE = "spin_pre"
"""The sign-in form's nonce cookie (for its CSRF token)."""
SESSION_S = 12 * 3600.0
"""How long a session lasts after sign-in."""

def load_secret(data_dir: Path) -> bytes:
    """The server secret of ``data_dir/web-secret``, made (32 random bytes, mode 0600) on
    first use. Several service processes sharing the data directory share it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "web-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 32:
            raise RuntimeError(f"{path} is shorter than 32 bytes: delete it to make a new "
                               "one (every session then ends)") from None
        return secret
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(32))
    return path.read_bytes()


@dataclass(frozen=True)
class Session:
    """A signed-in person: their tenant, and the CSRF token their forms must carry."""

    tenant: str
    token: str
    csrf: str


class SessionStore:
    """Sessions in the service's database, and the signatures of their cookies."""

    def __init__(self, store: Store, secret: bytes) -> None:
        self.store = store
        self.secret = secret

    # signatures

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def cookie_value(self, token: str) -> str:
        """The signed cookie of a session token."""
        return f"{token}.{self._mac('cookie', token)}"

    def token_of(self, cookie: str | None) -> str | None:
        """The token of a correctly signed cookie, else None."""
        if not cookie or "." not in cookie:
            return None
        token, sig = cookie.rsplit(".", 1)
        return token if hmac.compare_digest(sig, self._mac("cookie", token)) else None

    def csrf_for(self, token: str) -> str:
        """The CSRF token of a session's forms."""
        return self._mac("csrf", token)

    def pre_csrf(self, nonce: str) -> str:
        """The CSRF token of the sign-in form shown with ``nonce``."""
        return self._mac("pre", nonce)

    @staticmethod
    def same(given: str | None, expected: str) -> bool:
        """Constant-time comparison of a submitted token."""
        return bool(given) and hmac.compare_digest(str(given), expected)

    # records

    def start(self, tenant: str, credential_hash: str) -> str:
        """Begin a session for ``tenant`` (proved by ``credential_hash``); its token."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.write() as conn:
            # sessions over a day past their end are of no more use, even for an audit
            conn.execute(web_sessions.delete().where(
                web_sessions.c.expires_at < now - 24 * 3600))
            conn.execute(web_sessions.insert().values(
                id=hash_key(token), tenant=tenant, credential_hash=credential_hash,
                created_at=now, expires_at=now + SESSION_S, ended_at=None))
        return token

    def sign_in(self, api_key: str) -> str | None:
        """A new session's token for a valid API key, else None."""
        key = api_key.strip()
        tenant = self.store.tenant_for_key(key) if key else None
        return None if tenant is None else self.start(tenant, hash_key(key))

    def tenant_of(self, token: str) -> str | None:
        """The tenant of a live session: not ended, not expired, its key not revoked."""
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(web_sessions.c.tenant)
                .join(api_keys, api_keys.c.key_hash == web_sessions.c.credential_hash)
                .where(web_sessions.c.id == hash_key(token),
                       web_sessions.c.ended_at.is_(None),
                       web_sessions.c.expires_at > time.time(),
                       api_keys.c.revoked_at.is_(None))).first()
        return None if row is None else str(row.tenant)

    def session(self, cookie: str | None) -> Session | None:
        """The live session of a cookie, else None."""
        token = self.token_of(cookie)
        if token is None:
            return None
        tenant = self.tenant_of(token)
        return None if tenant is None else Session(tenant, token, self.csrf_for(token))

    def end(self, token: str) -> None:
        """Sign out: the session's cookie is refused from now on."""
        with self.store.write() as conn:
            conn.execute(web_sessions.update().where(
                web_sessions.c.id == hash_key(token), web_sessions.c.ended_at.is_(None))
                .values(ended_at=time.time()))
