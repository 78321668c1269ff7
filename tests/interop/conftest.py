import os

import pytest

from tests.interop.prisma7_engine import PINNED_WASM, engine_available
from tests.interop.prisma_cli import PRISMA_BIN, prisma_available

# Each oracle, the test module that uses it, whether it is there, and what installs it.
_ORACLES = (
    ("test_prisma_7_engine.py", engine_available, f"The Prisma 7 engine is required but not installed at {PINNED_WASM}: run `make prisma7-engine`."),
    (None, prisma_available, f"The Prisma CLI is required but not installed at {PRISMA_BIN}: run `make prisma-cli`."),
)


def _oracle_of(item: pytest.Item) -> tuple[str | None, object, str]:
    return next(oracle for oracle in _ORACLES if oracle[0] is None or item.path.name == oracle[0])


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "interop" not in item.keywords:
            continue
        _, available, missing = _oracle_of(item)
        if available():
            continue
        # `make test` installs the oracles and sets DEPLOY_GATE_REQUIRE_PRISMA, so CI can never skip these.
        if os.environ.get("DEPLOY_GATE_REQUIRE_PRISMA") == "1":
            raise pytest.UsageError(missing)
        item.add_marker(pytest.mark.skip(reason=missing))
