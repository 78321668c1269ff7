import os

import pytest

from tests.interop.prisma_cli import PRISMA_BIN, prisma_available


def pytest_collection_modifyitems(config, items):
    if prisma_available():
        return
    # `make test` installs the CLI and sets DEPLOY_GATE_REQUIRE_PRISMA, so CI can never skip these.
    if os.environ.get("DEPLOY_GATE_REQUIRE_PRISMA") == "1":
        raise pytest.UsageError(f"The Prisma CLI is required but not installed at {PRISMA_BIN}: run `make prisma-cli`.")
    skip = pytest.mark.skip(reason="Prisma CLI not installed (make prisma-cli)")
    for item in items:
        if "interop" in item.keywords:
            item.add_marker(skip)
