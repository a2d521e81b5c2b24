"""Helpers for tests and benchmarks (as mmdet.testing): not used by the runtime package."""
