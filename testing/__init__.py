"""Drivers shared by the tests and the benchmarks: a real hub driven over HTTP, a user-like Jupyter server, free
ports. Not shipped in the wheel."""
