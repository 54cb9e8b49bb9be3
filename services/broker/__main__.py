"""``python -m services.broker``: the same as ``jigsaw broker run``."""

from services.cli import main

if __name__ == "__main__":
    main(["broker", "run"])
