"""The golden vectors vendored in tests/data/golden equal the shared source of truth."""

from __future__ import annotations

import pytest

from tests.conftest import VENDORED_GOLDEN, shared_dir


@pytest.mark.parametrize("name", ["odi.json", "scoring.json"])
def test_vendored_golden_copy_equals_the_shared_file(name):
    source = shared_dir() / "golden" / name
    if not source.exists():
        pytest.skip(f"{source} is not beside this clone; the copy is used as it is")
    assert (VENDORED_GOLDEN / name).read_bytes() == source.read_bytes()
