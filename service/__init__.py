"""The thin HTTP service over :mod:`matcher` (FastAPI + uvicorn).

It holds no optimisation logic: routes translate HTTP into library calls. It is built in a
later step (rounds in, durable solve jobs, results out); the library never imports it.
"""
