"""`zapq schedule` settings: the ``schedule`` group of Settings (env ``ZAPQ_SCHEDULE__*``),
defined in service/settings/schedule.py and named here for the scheduler's modules."""

from service.settings import ScheduleSettings, SourceKind

__all__ = ["ScheduleSettings", "SourceKind"]
