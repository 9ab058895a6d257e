"""Reading `params.yaml` exactly as DVC reads it (ruamel.yaml, YAML 1.2, safe), then validating it.

DVC's `-S` overrides, `dvc params diff` and the stages must agree on every value: `2e-4` is a
number, a key given twice is an error, `<<: *anchor` merges may be overridden.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError

from sketch2face.config.messages import ParamsError, parse_params
from sketch2face.config.schema import Params

DEFAULT_PARAMS_PATH = Path("params.yaml")


def _non_string_key(node: object, where: str = "") -> str | None:
    """The first mapping key that is not a string (YAML allows `? [lr, beta1]`; params keys are names)."""
    if isinstance(node, dict):
        for key, value in node.items():
            name = f"{where}.{key}" if where else str(key)
            if not isinstance(key, str):
                return f"{where or '(top level)'}: keys must be names, found {key!r}"
            problem = _non_string_key(value, name)
            if problem:
                return problem
    elif isinstance(node, list):
        for index, item in enumerate(node):
            problem = _non_string_key(item, f"{where}.{index}")
            if problem:
                return problem
    return None


def read_yaml(path: Path) -> object:
    """The parsed file, as DVC's `YAML(typ="safe")` parses it; every failure is a one-line ParamsError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        raw = YAML(typ="safe").load(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ParamsError(f"{path}: line {line}: {exc.problem}") from None
    except YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    problem = _non_string_key(raw)
    if problem:
        raise ParamsError(f"{path}: {problem}")
    return raw


def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Reads and validates `params.yaml`: every bad key is listed before any work starts."""
    path = Path(path)
    return parse_params(read_yaml(path), origin=str(path))
