"""Exceptions and error text shared by every layer."""

from __future__ import annotations

ERROR_LINE_LENGTH = 300  # characters of an error's first line shown in a warning or message


class StoppedByUser(Exception):
    """A stage that caught SIGINT/SIGTERM and stopped cleanly raises a subclass; its run ends KILLED."""


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain: what a wrapper such as MlflowException says only in its traceback."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__
    return exc


def error_line(exc: BaseException) -> str:
    """An error's first line, cut short: MLflow's carry whole SQL statements, torch's a page of advice."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:ERROR_LINE_LENGTH]
