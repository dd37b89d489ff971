"""Errors that end a `zapq schedule` run (per-charge problems are counted, never raised).

ScheduleError
├── ConfigError        the rules file or a setting is wrong: exit code 2, nothing was read
│   └── RulesError     the rules file cannot be read or is invalid
└── SourceUnavailable  the source cannot be reached or read: exit code 1, alerted on
"""

from __future__ import annotations

from service.errors import ServiceError


class ScheduleError(ServiceError):
    code = "schedule_failed"


class ConfigError(ScheduleError):
    code = "invalid_config"


class RulesError(ConfigError):
    code = "invalid_rules"


class SourceUnavailable(ScheduleError):
    """The source refused, failed or answered something unreadable (after retries)."""

    code = "source_unavailable"
