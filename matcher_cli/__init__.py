"""The ``matcher`` command: the only code that imports both the library and the service.

The library (:mod:`matcher`) never imports the HTTP service (:mod:`service`); the service
never imports the command line. This package sits on top of both: the library's commands
(``validate``, ``solve``, ``report``, ``batch``, ...) and the service's (``serve``,
``keys``) are one typer app, :data:`app`, run by :func:`main` (the console script).
"""

import gc

# A command loads OR-Tools, pandas and the round's pydantic models: millions of objects and
# no garbage cycles worth collecting. At the default threshold (a collection every 700
# allocations) the collector ran through those imports for about 60 ms of a 0.8 s
# `matcher solve` on the NEL sample (measured with the collector off: the difference
# vanishes). This package is the program, not a library: it sets the process's threshold.
gc.set_threshold(10_000, 10, 10)

from matcher_cli.app import app, main  # noqa: E402 (after the collector is set)

__all__ = ["app", "main"]
