"""Loading and validating the project's TOML files (domains, configs, personas, studies).

One place turns a pydantic error into the message a user can act on: the file, the field
and what was expected, on one line, so a typo in a study file never costs a traceback hunt.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError


class ConfigError(ValueError):
    """A project file is missing or does not match its schema; the message names file and field."""


Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def validate(model: type[Model], data: Any, source: Path | str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {describe_validation_error(error)}") from None


def load_toml_file(model: type[Model], path: Path) -> Model:
    return validate(model, read_toml(path), path)
