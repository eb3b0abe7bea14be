"""Errors the adapters raise when AWS answers but the answer is unusable."""

from __future__ import annotations


class AdapterError(RuntimeError):
    """AWS answered, but not with what this function needs."""


class ResourceNotFoundError(AdapterError):
    """A fleet, a service or a scaling policy the settings name does not exist."""


class PartialFailureError(AdapterError):
    """Some entries of a batch call were still rejected after the retries."""
