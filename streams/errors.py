"""The errors every layer of skillstream raises, each with the exit code it means.

SkillstreamError                 exit 1, message printed, no traceback
├── UsageError                   exit 2: a command was misused (bad flag, bad file)
├── ConfigError                  exit 2: settings, rules or a catalog file are invalid
└── ServiceUnavailable           exit 3: Kafka, the database or a subscriber cannot be reached

They live at the bottom of the stack (``streams``, imported by ``sinks`` and the
application) so that a lower package never imports the application to report a
problem; the ``skillstream`` command turns each into one clear line and its exit code.
"""

from __future__ import annotations


class SkillstreamError(Exception):
    exit_code = 1


class UsageError(SkillstreamError):
    exit_code = 2


class ConfigError(SkillstreamError):
    exit_code = 2


class ServiceUnavailable(SkillstreamError):
    """A service is down or unreachable; the message names it and says what to do."""

    exit_code = 3

    def __init__(self, service: str, problem: str, hint: str = "") -> None:
        self.service = service
        self.problem = problem
        self.hint = hint
        text = f"{service} unavailable: {problem}"
        if hint:
            text += f"\n  what to do: {hint}"
        super().__init__(text)
