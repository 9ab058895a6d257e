"""Exceptions and error text shared by every layer."""

from __future__ import annotations

ERROR_LINE_LENGTH = 300  # characters of an error's first line shown in a warning or message


class StoppedByUser(Exception):
    """A stage that caught SIGINT/SIGTERM and stopped cleanly raises a subclass; its run ends KILLED."""


def error_line(exc: BaseException) -> str:
    """An error's first line, cut short: MLflow's carry whole SQL statements, torch's a page of advice."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:ERROR_LINE_LENGTH]
