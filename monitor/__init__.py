"""Signal monitor: turns research briefs into monitoring rules, polls feeds, alerts on evidence."""

__version__ = "0.2.0"
