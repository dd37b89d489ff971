"""Invalid settings as one line per problem on stderr, naming the ZAPQ_* variable, never its value.

    zapq: invalid setting ZAPQ_WORKER__MAX_JOBS: must be >= 1
    zapq: invalid setting ZAPQ_WORKER__RETRY_DELAYS_SECONDS: item 2: must be a number
    zapq: invalid setting ZAPQ_WORKER (JSON): max_jobs: must be >= 1

pydantic's own text (``str(ValidationError)``) ends every problem with ``input_value=...``: a bad
timeout printed the Redis URL with its password and the Evolution key next to it. So each line is
written here from the error's type, location and ctx (the constraint: ``ge``, ``expected`` ...),
never from ``input``; the text of our own validators (``value_error``) is first stripped of
quoted strings, numbers that are not a bound, and anything equal to a value that was given.

A check across settings (a model validator) has no location: it raises SettingProblem, naming
the settings it compares; a plain ValueError there is described by the dotted setting names its
text mentions. Every command of service/cli.py reads its settings through load_settings().
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from service.settings import Settings

PREFIX = "ZAPQ_"
DELIMITER = "__"
#: The exit status of every command whose settings are invalid (EX_USAGE-like, as argparse).
EXIT_INVALID_SETTINGS = 2

# Constraints from pydantic's ctx, in the words of the configuration reference.
_BOUNDS = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "missing": "is required",
    "json_invalid": "is not valid JSON",
    "list_type": "must be a list (comma-separated, or a JSON array)",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# A number, unless it follows a comparison (">= 0" is a bound, not a value).
_NUMBER = re.compile(r"(?<![<>=] )(?<![<>=\w.\-])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")
_DOTTED = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+\b")
_SETTINGS_ERROR_FIELD = re.compile(r'for field "(\w+)"')


class SettingProblem(ValueError):
    """A failed check across settings, raised by a model validator.

    ``settings`` are dotted paths (``worker.job_timeout_seconds``); ``constraint`` is written
    without any value, as it is printed as is.
    """

    def __init__(self, settings: Sequence[str], constraint: str) -> None:
        super().__init__(constraint)
        self.settings = tuple(settings)
        self.constraint = constraint


def env_name(path: Sequence[str]) -> str:
    """("worker", "max_jobs") -> ZAPQ_WORKER__MAX_JOBS."""
    return PREFIX + DELIMITER.join(part.upper() for part in path)


def load_settings() -> Settings:
    """The process's settings (service.settings.get_settings), or exit 2 with one line per
    problem. The one way a command reads them."""
    # Imported here: service.settings imports SettingProblem from this module.
    from service.settings import Settings, get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        fail(describe(exc, Settings, os.environ))
    except ValueError as exc:  # pydantic-settings' SettingsError (unparsable JSON), our own
        fail(describe_value_error(exc, Settings))


def fail(problems: Sequence[str]) -> NoReturn:
    for problem in problems:
        sys.stderr.write(f"zapq: {problem}\n")
    sys.stderr.flush()
    sys.exit(EXIT_INVALID_SETTINGS)


def describe(exc: ValidationError, model: type[BaseModel], environ: Mapping[str, str]) -> list[str]:
    """One line per error of ``exc`` (raised by ``model()``), values left out."""
    given = {key.upper() for key in environ}
    return [_line(error, model, given) for error in exc.errors(include_url=False)]


def describe_value_error(exc: ValueError, model: type[BaseModel]) -> list[str]:
    """A ValueError outside pydantic's validation: pydantic-settings' unparsable JSON, or ours."""
    field = _SETTINGS_ERROR_FIELD.search(str(exc))
    if field:
        reason = "is not valid JSON" if isinstance(exc.__cause__, ValueError) else "unreadable"
        return [f"invalid setting {env_name([field.group(1)])}: {reason}"]
    return [f"invalid settings: {_custom(exc, model, [])}"]


def _line(error: ErrorDetails, model: type[BaseModel], given: set[str]) -> str:
    path, rest = _split(error["loc"], model)
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SettingProblem):
        names = ", ".join(env_name([*path, *p.split(".")]) for p in cause.settings)
        return f"invalid settings {names}: {cause.constraint}"
    reason = _reason(error, model)
    if not path:  # a model validator's plain ValueError: its text names the settings
        return f"invalid settings: {reason}"
    name, inner = _variable(path, given)
    where = "".join(f"{part}: " for part in [*inner, *rest])
    return f"invalid setting {name}: {where}{reason}"


def _split(loc: Sequence[int | str], model: type[BaseModel]) -> tuple[list[str], list[str]]:
    """The location's setting path (fields of nested models) and what is inside the value."""
    path: list[str] = []
    current: Any = model
    for index, part in enumerate(loc):
        fields = getattr(current, "model_fields", {})
        if not isinstance(part, str) or part not in fields:
            return path, [_position(item) for item in loc[index:]]
        path.append(part)
        current = fields[part].annotation
    return path, []


def _position(part: int | str) -> str:
    # A dict key is input too: it is not printed.
    return f"item {part + 1}" if isinstance(part, int) else "an entry"


def _variable(path: list[str], given: set[str]) -> tuple[str, list[str]]:
    """The variable that was set: ZAPQ_WORKER__MAX_JOBS, or ZAPQ_WORKER holding JSON."""
    for length in range(len(path), 0, -1):
        name = env_name(path[:length])
        if name in given:
            suffix = " (JSON)" if length < len(path) else ""
            return name + suffix, path[length:]
    return env_name(path), []


def _reason(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in {"value_error", "assertion_error"}:
        cause = ctx.get("error")
        if isinstance(cause, json.JSONDecodeError):
            return "is not valid JSON"
        return _custom(cause, model, list(_leaves(error.get("input"))))
    if kind in _BOUNDS:
        return _BOUNDS[kind].format(**{key: _plain(value) for key, value in ctx.items()})
    # pydantic's msg is made from the type and ctx, never the input; "Input should" reads badly.
    message = error["msg"].replace("Input should be", "must be")
    return _redact(message, list(_leaves(error.get("input"))))


def _plain(value: object) -> object:
    """1.0 -> 1: bounds read as the reference writes them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _custom(cause: object, model: type[BaseModel], given: list[str]) -> str:
    """Our own validator's text, with every setting's value taken out."""
    text = _NUMBER.sub("...", _QUOTED.sub("'...'", str(cause or "failed a check")))
    text = _redact(text, given)
    return _DOTTED.sub(lambda match: _as_env(match.group(0), model), text)


def _redact(text: str, given: list[str]) -> str:
    """Every given value that is still in ``text`` (numbers are gone already), as a whole word."""
    for value in sorted(given, key=len, reverse=True):
        if not _NUMBER.fullmatch(value):
            text = re.sub(rf"(?<![\w.]){re.escape(value)}(?![\w])", "...", text)
    return text


def _leaves(value: Any) -> Iterator[str]:
    """Every scalar in an error's input (a model validator gets the whole input) as text."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None and str(value).strip():
        yield str(value).strip()


def _as_env(dotted: str, model: type[BaseModel]) -> str:
    return env_name(dotted.split(".")) if _is_setting(dotted, model) else dotted


def _is_setting(dotted: str, model: type[BaseModel]) -> bool:
    current: Any = model
    for part in dotted.split("."):
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return False
        current = fields[part].annotation
    return True
