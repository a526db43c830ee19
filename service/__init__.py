"""The thin HTTP service over :mod:`matcher` (FastAPI + uvicorn); see ``README-section.md``.

It holds no optimisation logic: routes translate HTTP into library calls. ``app`` assembles
the application, ``routes`` holds one router per resource, ``schemas`` the HTTP envelopes,
``store`` the database (SQLite or PostgreSQL), ``jobs`` the durable job runner (one child
process per solve), ``workers`` the capped worker processes that read rounds (``intake``,
``intake_work``) and explain results (``explainers``), ``auth`` the API keys, ``settings``
the configuration and ``logs`` the JSON log lines. The library never imports this package.
"""
