"""Builders shared by the test suite and the benchmarks: keys, policies, worlds, a generated town."""
