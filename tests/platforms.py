"""Fakes of Vercel's and GitHub's APIs as fixtures, for the integration and worker tests alike.

Loaded by tests/conftest.py as a plugin.
"""

from __future__ import annotations

import pytest

from tests.service.integrations.fake_vercel import FakeVercel
from tests.service.integrations.fakes import FakeGitHub, rsa_key
from tests.service.integrations.payloads import APP_ID, INSTALLATION, REPOSITORY, TEAM

VERCEL_TOKEN = "vercel-integration-token-abcdef"


@pytest.fixture(scope="session")
def github_key():
    return rsa_key()


@pytest.fixture
def vercel_api():
    with FakeVercel(VERCEL_TOKEN, TEAM) as fake:
        yield fake


@pytest.fixture
def github_api(github_key):
    with FakeGitHub(APP_ID, github_key.public_key, INSTALLATION, REPOSITORY) as fake:
        yield fake
