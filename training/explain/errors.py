"""The one error type of explanations: bad requests and unsupported encoders, not bugs."""
from __future__ import annotations


class ExplainError(ValueError):
    pass
