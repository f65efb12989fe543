from __future__ import annotations

import pytest

from tests.images.support import Images, build_both


@pytest.fixture(scope="session")
def images() -> Images:
    """Both images, built by the same script as `make images` (reusing the cached base and layers), once for
    every test that runs them."""
    return build_both()
