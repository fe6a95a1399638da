"""Shared fixtures: the real Fashion-MNIST (skipped with a reason when it is not installed)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def real_data():
    """The four arrays of the real Fashion-MNIST, found the way the CLI finds them (no download)."""
    from scratchmlp import ScratchMLPError
    from scratchmlp.data import load
    try:
        return load(download=False)
    except ScratchMLPError as e:
        pytest.skip(f"real Fashion-MNIST not available ({e}); `make test` installs "
                    "Debian's dataset-fashion-mnist where apt works")
