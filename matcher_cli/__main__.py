"""``python -m matcher_cli``: the same as the ``matcher`` command."""

from matcher_cli.app import main

main()
