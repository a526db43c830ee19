"""What ``matcher serve`` and ``matcher keys`` do (the library's CLI imports this lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.settings import Settings


def settings_with(*, data_dir: Path | None = None, database_url: str | None = None,
                  **more: Any) -> Settings:
    """Settings from the environment, with the command line's options on top."""
    overrides: dict[str, Any] = {k: v for k, v in more.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)


def serve(settings: Settings) -> None:
    """Run the service with uvicorn until interrupted (logs as JSON lines on stderr)."""
    # lazy: the server stack and the app load only when it serves
    import uvicorn

    from service.app import create_app
    from service.http_timeouts import timed_protocol
    from service.logs import configure_logging

    configure_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                access_log=False, timeout_graceful_shutdown=10,
                http=timed_protocol(settings.header_timeout_s, settings.body_timeout_s))


def create_key(settings: Settings, tenant: str) -> str:
    """A new API key for ``tenant`` in the configured database."""
    from service.store import Store  # lazy: the database stack loads only when used

    store = Store(settings.resolved_database_url(), pool=False)
    try:
        store.migrate()
        return store.create_key(tenant)
    finally:
        store.dispose()


def revoke_key(settings: Settings, key: str) -> str | None:
    """Revoke ``key``; its tenant, or None when the key is unknown."""
    from service.store import Store  # lazy: the database stack loads only when used

    store = Store(settings.resolved_database_url(), pool=False)
    try:
        store.migrate()
        return store.revoke_key(key)
    finally:
        store.dispose()
