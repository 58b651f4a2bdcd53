"""Errors an operator sees; the CLI turns each into one clear message and exit code.

The tree is defined in ``streams.errors`` (the bottom of the stack, so that ``streams``
and ``sinks`` report problems without importing the application) and named here too,
where the application's modules have always found it.
"""

from __future__ import annotations

from streams.errors import ConfigError, ServiceUnavailable, SkillstreamError, UsageError

__all__ = ["ConfigError", "ServiceUnavailable", "SkillstreamError", "UsageError"]
