"""The attacks run on the same real hubs as the end-to-end tests."""

from tests.hub.conftest import start_hub  # noqa: F401 - a fixture, found by name
