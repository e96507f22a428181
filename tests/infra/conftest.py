"""Helpers for the infrastructure tests. The moto server, the deployed stack and the
environment come from the session-wide tests/conftest.py."""
import os
from pathlib import Path

import pytest

from tools import package

ROOT = Path(__file__).resolve().parents[2]
LINT_VENV = ROOT / ".venv-lint"


@pytest.fixture(scope="session")
def stateful_template() -> dict:
    return package.load_cfn(package.TEMPLATE)


@pytest.fixture(scope="session")
def aws_template() -> dict:
    return package.load_cfn(package.AWS_TEMPLATE)


@pytest.fixture(scope="session")
def cfn_lint() -> str:
    """cfn-lint from its own virtualenv (its pins clash with the app's: see requirements-lint.txt)."""
    path = Path(os.environ.get("FOULE_CFN_LINT", LINT_VENV / "bin" / "cfn-lint"))
    if not path.exists():
        pytest.skip(f"{path} is missing: create it with `make lint-venv` "
                    "(python3.11 -m venv .venv-lint && .venv-lint/bin/pip install -r requirements-lint.txt)")
    return str(path)
