"""``python -m services.cli``: the ``jigsaw`` tool, for processes started with this interpreter."""

from services.cli import main

main()
