"""``python -m apps.cli``: the ``jigsaw`` tool, for processes started with this interpreter."""

from apps.cli import main

main()
