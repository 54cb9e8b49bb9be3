"""Jigsaw's shared kernel: the pieces that both connectors and services import.

It never imports from ``services`` or ``connectors``.
"""

__version__ = "0.1.0"
