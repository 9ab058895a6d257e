"""Appearance hints that a user gives: colours on the command line or per file in a CSV."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from sketch2face.colour import Lab, parse_colour
from sketch2face.config import HINT_NAMES
from sketch2face.inference.inputs import SketchInput
from sketch2face.models.sketch_to_photo import SketchToPhoto

SketchHints = Mapping[str, Lab | None]  # a sketch's hints by name; None: no hint (the generator guesses)
HINTS_FILE_COLUMN = "file"


class HintsError(ValueError):
    """Hints a user gave that cannot be used: a bad colour, a hints file row naming no input, ..."""


def check_hints_for_model(model: SketchToPhoto, given: Iterable[str], where: str) -> None:
    """HintsError when colours are given for a hint the generator was not trained with."""
    extra = sorted(set(given) - set(model.config.hints))
    if extra:
        hints = model.config.hints
        takes = f"takes only {', '.join(hints)} hints" if hints else "was trained without hints"
        raise HintsError(f"{where} gives {' and '.join(extra)} colours, but this generator {takes}")


def parse_hint(text: str, where: str) -> Lab | None:
    """A colour a user gave; HintsError names `where` it was given and what is allowed."""
    try:
        return parse_colour(text)
    except ValueError as exc:
        raise HintsError(f"{where}: {exc}") from None


def read_hints_file(path: Path, inputs: Sequence[SketchInput]) -> dict[str, dict[str, Lab | None]]:
    """Per-input hints from a CSV with columns `file` and any of the hint names (`skin`, `hair`).

    A `file` names an input as given or relative to a folder given; every row must name one
    (a row for a file that is not among the inputs is an error naming the row), and no input may
    be named twice. An empty cell gives no hint for that file from the CSV. Returns, by input
    path, the colours each row gives.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HintsError(f"{path}: cannot read it as CSV ({detail})") from None
    table.columns = [column.strip().lower() for column in table.columns]
    unknown = [column for column in table.columns if column != HINTS_FILE_COLUMN and column not in HINT_NAMES]
    problems = [f"no '{HINTS_FILE_COLUMN}' column"] if HINTS_FILE_COLUMN not in table.columns else []
    problems += [f"unknown columns {unknown}"] if unknown else []
    if problems:
        allowed = f"the columns are {HINTS_FILE_COLUMN} and any of {', '.join(HINT_NAMES)}"
        raise HintsError(f"{path}: {' and '.join(problems)}; {allowed}")
    by_name: dict[str, list[SketchInput]] = {}
    for item in inputs:
        for name in item.names():
            by_name.setdefault(name, []).append(item)
    hints: dict[str, dict[str, Lab | None]] = {}
    named_on: dict[str, int] = {}
    for index, row in table.iterrows():
        line = int(index) + 2  # the header is line 1
        where = f"{path} line {line}"
        named = row[HINTS_FILE_COLUMN].strip()
        matches = by_name.get(os.path.normpath(named)) if named else None
        if not matches:
            raise HintsError(f"{where}: file '{row[HINTS_FILE_COLUMN]}' is not one of the sketches given")
        colours = {name: parse_hint(row[name], f"{where}, {name}") for name in HINT_NAMES if row.get(name, "").strip()}
        for item in matches:
            key = str(item.path)
            if key in named_on:
                raise HintsError(f"{where}: {item.path} already has hints on line {named_on[key]}")
            named_on[key] = line
            hints[key] = colours
    return hints
