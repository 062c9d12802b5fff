"""`lower_priority`: a benchmark's test runs its servers, wrk and valgrind niced.

Those tests load the machine on purpose, and the suite runs in several processes at once:
niced, they take the cores only when the tests that measure load of their own (durability,
multi-worker, limits) leave them idle, instead of starving those below their thresholds.
Only modules that check ratios or counts within their own run use it (`pytestmark`); the
load gate's smoke test checks an absolute p95 and keeps its priority.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

NICENESS = 10


@pytest.fixture
def lower_priority() -> Iterator[None]:
    before = os.nice(0)
    os.nice(NICENESS)  # inherited by every process the test starts
    yield
    # Only a privileged process may raise its priority again; otherwise this test process
    # stays niced for the benchmark tests after it, which is harmless.
    with contextlib.suppress(PermissionError):
        os.nice(before - os.nice(0))
