"""API keys: ``Authorization: Bearer KEY`` maps each request to its tenant (an ICS).

Keys are random secrets made by ``matcher keys create TENANT`` and stored only as hashes.
Every route but ``/health`` depends on :data:`TenantDep`; handlers pass the tenant to every
store call, so no query can reach another tenant's rows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.store import Store

bearer = HTTPBearer(auto_error=False, description="An API key from `matcher keys create`.")


def get_store(request: Request) -> Store:
    """The application's store."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def current_tenant(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's tenant; 401 without a valid, unrevoked key."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "missing API key: send 'Authorization: Bearer KEY'",
                            headers={"WWW-Authenticate": "Bearer"})
    tenant = store.tenant_for_key(credentials.credentials)
    if tenant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.tenant = tenant
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]
