"""The ``matcher`` command: the only code that imports both the library and the service.

The library (:mod:`matcher`) never imports the HTTP service (:mod:`service`); the service
never imports the command line. This package sits on top of both: the library's commands
(``validate``, ``solve``, ``report``, ``batch``, ...) and the service's (``serve``,
``keys``) are one typer app, :data:`app`, run by :func:`main` (the console script).
"""

from matcher_cli.app import app, main

__all__ = ["app", "main"]
