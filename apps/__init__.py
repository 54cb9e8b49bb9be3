"""Composition roots: the only code that imports across the layers (the CLI and the demo)."""
