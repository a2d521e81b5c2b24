"""Benchmarks as package code; `tools/benchmark_*.py` are their command lines."""
