"""Pydantic 2 base config and YAML loading, with the original tml's names and behaviour.

`BaseConfig` forbids unknown fields and checks field groups declared on fields:
`one_of="group"` (exactly one field of the group is set) and `at_most_one_of="group"`
(at most one is). Declare them as the original did, `pydantic.Field(None,
one_of="lr")`, or without pydantic's deprecation warning for extra keyword
arguments, `pydantic.Field(None, json_schema_extra={"one_of": "lr"})`.
"""

from __future__ import annotations

import functools
import getpass
import os
import string
from collections import defaultdict
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

__all__ = ["BaseConfig", "load_config_from_yaml"]

_GROUP_KINDS = ("one_of", "at_most_one_of")

C = TypeVar("C", bound="BaseConfig")


@functools.cache  # per class: every validation of every config reads it
def _field_groups(model: type[pydantic.BaseModel]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if not isinstance(extra, dict):
            continue
        for kind in _GROUP_KINDS:
            group = extra.get(kind)
            if group is not None:
                groups[(kind, str(group))].append(name)
    return dict(groups)


class BaseConfig(pydantic.BaseModel):
    """Base of every config: unknown fields are errors, `one_of` groups are enforced."""

    model_config = pydantic.ConfigDict(extra="forbid")

    @pydantic.model_validator(mode="after")
    def _check_field_groups(self) -> BaseConfig:
        for (kind, group), names in _field_groups(type(self)).items():
            chosen = [name for name in names if getattr(self, name) is not None]
            if kind == "one_of" and len(chosen) != 1:
                got = ", ".join(f"{n}={getattr(self, n)!r}" for n in chosen) or "none set"
                msg = f"exactly one of {', '.join(names)} is required ({group!r}); got {got}"
                raise ValueError(msg)
            if kind == "at_most_one_of" and len(chosen) > 1:
                got = ", ".join(f"{n}={getattr(self, n)!r}" for n in chosen)
                msg = f"at most one of {', '.join(names)} can be set ({group!r}); got {got}"
                raise ValueError(msg)
        return self

    def pretty_print(self) -> str:
        """The config as indented JSON, as the original printed it."""
        return self.model_dump_json(indent=2)


def _substitute_env(text: str) -> str:
    """Replaces `$VAR` and `${VAR}` from the environment and `$USER`; unknown names stay."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): leave $USER alone
        user = os.environ.get("USER", "$USER")
    return string.Template(text).safe_substitute(os.environ, USER=user)


def load_config_from_yaml(config_type: type[C], yaml_path: str | os.PathLike[str]) -> C:
    """Reads a YAML file into `config_type`, substituting environment variables first.

    Args:
        config_type: the pydantic config class to validate into.
        yaml_path: path of the YAML file.

    Returns:
        The validated config.

    Raises:
        pydantic.ValidationError: a field is missing, unknown or invalid; each error's
            `loc` is the YAML path of the field.
        yaml.YAMLError: the file is not valid YAML.
    """
    with Path(yaml_path).open(encoding="utf-8") as f:
        data: Any = yaml.safe_load(_substitute_env(f.read()))
    return config_type.model_validate(data)
