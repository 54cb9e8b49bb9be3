"""Helpers for the benchmarks: the deployment they run, the processes they start and what those measure.

The modules here are not benchmarks themselves (``make bench`` runs only ``bench/*.py``); several are run
as separate processes (``python -m bench.kit.hub``), so each pipeline stage has its own CPU and memory.
"""
