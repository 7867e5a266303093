"""The crash proof starts from the end-to-end tests' demo bureau."""

from tests.e2e.conftest import demo_snapshot

__all__ = ["demo_snapshot"]  # the fixture
