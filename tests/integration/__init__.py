"""Integration tests: the engine against real test servers (see tests/testbed)."""
