"""Ozé's domain: campaigns, identity, storage, errors and settings (no chalice here).

The domain modules are imported on first use (`oze.campaigns…` in app.py): a request
calls one or two, and each module imported is cold-start time (make bench, cold). The
HTTP edge, settings, errors and identity load with the app.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import (
        answers,
        audit,
        campaigns,
        clock,
        exports,
        figures,
        finalisation,
        matching,
        media,
        owners,
        payments,
        payouts,
        pledges,
        privacy,
        reconciliation,
        sandbox_pages,
        subsidies,
        updates,
    )

__all__ = [
    "answers",
    "audit",
    "campaigns",
    "clock",
    "exports",
    "figures",
    "finalisation",
    "matching",
    "media",
    "owners",
    "payments",
    "payouts",
    "pledges",
    "privacy",
    "reconciliation",
    "sandbox_pages",
    "subsidies",
    "updates",
]
LAZY = frozenset(__all__)


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
