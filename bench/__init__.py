"""Benchmarks: run each as ``python -m bench.<name>``; they print tables and write bench/results/."""
