"""Loading and validating the project's TOML files (domains, LLM configs, personas, studies).

One place turns a pydantic error into the line a user can act on: the file, the field, what
was expected and what was found, so a typo in a study file never costs a traceback hunt.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """The base of every project file's model: an unknown key is refused (a misspelt setting must
    not be ignored silently) and a loaded file's values cannot be changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(ValueError):
    """A project file or setting does not match its schema; the message names source and field."""


Model = TypeVar("Model", bound=BaseModel)
SECRET_FIELDS = frozenset({"api_key"})


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file ({error.strerror})") from None


def describe_problem(problem: Mapping[str, Any], source: str, prefix: str = "") -> str:
    """One pydantic error as `source: field.path: what was expected, got what was found`."""
    loc = tuple(str(part) for part in problem["loc"])
    path = prefix + (".".join(loc) or "(top level)")
    if problem["type"] == "extra_forbidden":
        return f"{source}: {path}: unknown field (check its spelling)"
    # Pydantic names its internal classes in type errors; readers only need "a table".
    message = re.sub(r" or instance of \w+", "", problem["msg"].removeprefix("Value error, "))
    message = message.replace("valid dictionary", "table")
    message = message[0].lower() + message[1:]
    if problem["type"] == "missing":
        return f"{source}: {path}: {message}"
    shown = "<hidden>" if loc and loc[-1] in SECRET_FIELDS else short_repr(problem.get("input"))
    return f"{source}: {path}: {message}, got {shown}"


Describe = Callable[[Mapping[str, Any], str, str], str]


def describe_validation_error(
    error: ValidationError, source: str, prefix: str = "", describe: Describe = describe_problem, most: int = 3
) -> str:
    """Up to `most` problems on one line: a misspelt key shows up together with the missing one."""
    problems = error.errors(include_url=False)
    described = [describe(p, source, prefix).removeprefix(f"{source}: ") for p in problems[:most]]
    extra = len(problems) - most
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra > 0 else ""
    return f"{source}: " + "; ".join(described) + more


def validate(model: type[Model], data: Any, source: Path | str, prefix: str = "") -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, str(source), prefix)) from None


def load_toml_file(model: type[Model], path: Path) -> Model:
    return validate(model, read_toml(path), path)


def short_repr(value: Any) -> str:
    """A value as a message quotes it: its repr, cut to 60 characters (a file's 15 MB field is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
