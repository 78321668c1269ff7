"""The app's `DeployGate` for the views, typed (`app.extensions` holds anything)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from service.http import DeployGate


def deploy_gate() -> DeployGate:
    """What the views share: settings, targets and tokens, the store pool, the task queue, the watcher."""
    extension: DeployGate = current_app.extensions["deploy_gate"]
    return extension
