r"""Pydantic 2 base config and YAML loading, with the original tml's names and behaviour.

`BaseConfig` forbids unknown fields and checks field groups declared on fields:
`one_of="group"` (exactly one field of the group is set) and `at_most_one_of="group"`
(at most one is). Declare them as the original did, `pydantic.Field(None,
one_of="lr")`, or without pydantic's deprecation warning for extra keyword
arguments, `pydantic.Field(None, json_schema_extra={"one_of": "lr"})`.

`load_config_from_yaml` reads a YAML file into a config:

- **Environment substitution.** `$VAR` and `${VAR}` are replaced from the environment,
  `$USER` by the login name, `$$` by `$`; a name the environment does not define is
  left as written. Unlike the original tml, which substituted into the file's text
  before parsing it, the file is parsed first and only scalar *values* are
  substituted: a variable's value is always one scalar, never YAML structure (a value
  `"1\nconstant: 5"` cannot add a key), and mapping keys are never substituted (they
  are field and task names, not settings). A substituted plain (unquoted, untagged)
  scalar is typed as YAML types it, so `lr: $LR` with `LR=0.001` reads the float
  0.001 and `steps: $N` with `N=40` the int 40, as before; a quoted `"$LR"` stays a
  string. A text that parses only without the braces of its `${VAR}`s (`{lr: ${LR}}`
  or `{num_steps: ${K}000}`, whose braces end the flow mapping, parsed in the
  original) is read that way, each still meaning `${VAR}`.
  `substitute_env=False` turns substitution off.
- **Limits.** A hostile or broken file gets a `ValueError` naming the file, the
  position and the problem, before it can take much time or memory: a file larger
  than 64 MiB (at most that much plus one byte is ever read, so `/dev/zero` is
  refused at once); more than 1,000,000 YAML nodes counted with every alias expanded
  (a "billion laughs" document, whose few hundred bytes of nested aliases stand for
  billions of nodes); an alias inside its own anchor (a cyclic document); more than
  100 levels of nesting; an integer literal of more than 1,000 digits; a key written
  twice in one mapping (PyYAML keeps the last; a merged key may still be overridden).
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import string
import types
import typing
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

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


def _short(value: Any, limit: int = 120) -> str:
    """repr(value), cut to `limit` characters: a message names a value, it does not dump it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _admits_none(annotation: Any) -> bool:
    """Whether a field's type takes None (`T | None`, `Optional[T]`, `Any`)."""
    if annotation is Any or annotation is None or annotation is type(None):
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _admits_none(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_admits_none(arg) for arg in typing.get_args(annotation))
    return False


@functools.cache  # per class: every validation of every config reads it
def _implicitly_optional(model: type[pydantic.BaseModel]) -> frozenset[str]:
    """Names (and aliases) of the fields written `x: T = Field(None)` for a T without None."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        if not info.is_required() and info.default is None and not _admits_none(info.annotation):
            names.add(name)
            if info.alias:
                names.add(info.alias)
            # validation_alias: a name, or AliasChoices of names (an AliasPath reaches
            # into nested data, which holds no field of this model)
            aliases = info.validation_alias
            choices = aliases.choices if isinstance(aliases, pydantic.AliasChoices) else [aliases]
            names.update(c for c in choices if isinstance(c, str))
    return frozenset(names)


class BaseConfig(pydantic.BaseModel):
    """Base of every config: unknown fields are errors, `one_of` groups are enforced.

    A field declared as the original did, `x: T = pydantic.Field(None, one_of="g")`,
    takes an explicit None (YAML's `null`) as unset, as pydantic 1 made such a field
    Optional; pydantic 2 would refuse it.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _none_is_unset(cls, data: Any) -> Any:
        optional = _implicitly_optional(cls)
        if (
            optional
            and isinstance(data, dict)
            and any(data[k] is None for k in optional if k in data)
        ):
            return {k: v for k, v in data.items() if not (v is None and k in optional)}
        return data

    @pydantic.model_validator(mode="after")
    def _check_field_groups(self) -> BaseConfig:
        for (kind, group), names in _field_groups(type(self)).items():
            chosen = [name for name in names if getattr(self, name) is not None]
            if kind == "one_of" and len(chosen) != 1:
                got = ", ".join(f"{n}={_short(getattr(self, n))}" for n in chosen) or "none set"
                msg = f"exactly one of {', '.join(names)} is required ({group!r}); got {got}"
                raise ValueError(msg)
            if kind == "at_most_one_of" and len(chosen) > 1:
                got = ", ".join(f"{n}={_short(getattr(self, n))}" for n in chosen)
                msg = f"at most one of {', '.join(names)} can be set ({group!r}); got {got}"
                raise ValueError(msg)
        return self

    def pretty_print(self) -> str:
        """The config as YAML, for logs, as the original printed it (`yaml.dump`).

        Plain YAML (tuples as lists), which `load_config_from_yaml` reads back (with
        `substitute_env=False` where a string holds a `$`).
        """
        return yaml.safe_dump(self.model_dump(mode="json"))


# Limits of load_config_from_yaml (see the module docstring). A real config is a few
# kilobytes and a few hundred nodes; each limit is thousands of times that.
_MAX_YAML_BYTES = 64 * 2**20
_MAX_YAML_NODES = 1_000_000
_MAX_YAML_DEPTH = 100
_MAX_INT_DIGITS = 1000
_READ_CHUNK = 2**20

_STR_TAG = "tag:yaml.org,2002:str"


class _Refused(Exception):
    """A limit of the loader was hit; becomes a ValueError naming the file and position."""

    def __init__(self, problem: str, mark: Any) -> None:  # a yaml.Mark, or None
        super().__init__(problem)
        self.problem = problem
        self.mark = mark


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Limits(yaml.composer.Composer, yaml.constructor.SafeConstructor):
    """PyYAML's composer and safe constructor with the limits.

    The composer builds the node graph with each alias a reference to its anchor's node
    (no copy), so a billion-laughs document composes in microseconds; it is everything
    downstream (validation, printing) that would expand it. Counting nodes here, aliases
    expanded, as the graph is built refuses such a document before anything walks it.
    The composer recurses once per nesting level, so the depth limit also keeps it far
    from Python's recursion limit.
    """

    def _init_limits(self) -> None:
        self._nodes = 0  # nodes composed so far, aliases counted as their anchor's size
        self._depth = 0
        self._sizes: dict[str, int] = {}  # anchor -> size of its node, aliases expanded
        self._open_anchors: set[str] = set()  # anchors whose node is being composed
        self.explicit_tags: set[int] = set()  # id() of scalars with a tag written out

    def _count(self, n: int, mark: Any) -> None:
        self._nodes += n
        if self._nodes > _MAX_YAML_NODES:
            problem = (
                f"more than {_MAX_YAML_NODES:,} YAML nodes with aliases expanded (nested "
                "aliases that multiply, as in a 'billion laughs' document?); refused"
            )
            raise _Refused(problem, mark)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            name = str(event.anchor)
            if name in self._open_anchors:
                problem = f"alias *{name} inside its own anchor (a cyclic document); refused"
                raise _Refused(problem, event.start_mark)
            # An undefined alias is PyYAML's own error (raised by the call below).
            self._count(self._sizes.get(name, 0), event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > _MAX_YAML_DEPTH:
            problem = f"more than {_MAX_YAML_DEPTH} levels of nesting; refused"
            raise _Refused(problem, event.start_mark)
        anchor: str | None = getattr(event, "anchor", None)
        before = self._nodes
        self._count(1, event.start_mark)
        if anchor is not None:
            self._open_anchors.add(anchor)
        explicit = isinstance(event, yaml.ScalarEvent) and event.tag not in (None, "!")
        node = super().compose_node(parent, index)
        if anchor is not None:
            self._open_anchors.discard(anchor)
            self._sizes[anchor] = self._nodes - before
        if explicit:
            self.explicit_tags.add(id(node))
        self._depth -= 1
        return node

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        """PyYAML's, refusing a key written twice in one mapping.

        PyYAML keeps the last value, so `constant: 0.1` then `constant: 0.2` silently
        meant 0.2: always a mistake in a config. Checked as the mapping is composed, on
        its own keys as written (an alias of a key counts as that key): a merge
        (`<<: *base`) is resolved later, when constructing, and its keys may still be
        overridden, as YAML intends.
        """
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], yaml.ScalarNode] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            first = seen.get((key.tag, key.value))
            if first is None:
                seen[(key.tag, key.value)] = key
            else:  # the same key written again, or an alias of it used twice
                shown = key.value if len(key.value) <= 40 else key.value[:37] + "..."
                line = first.start_mark.line + 1 if first.start_mark else "?"
                problem = f"key {shown!r} appears twice (first at line {line})"
                raise _Refused(problem, key.start_mark)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with a value its tag cannot read reported as YAML at the node.

        PyYAML converts a tagged scalar with `int()`, `float()`, a date constructor or
        base64 and lets their errors escape: `!!int` alone is an IndexError, `!!int x`
        or `2001-02-30` a ValueError, `!!timestamp x` an AttributeError.
        """
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, IndexError, KeyError, OverflowError, AttributeError) as e:
            if isinstance(e, yaml.YAMLError):
                raise
            value = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
            shown = value if len(value) <= 40 else value[:37] + "..."
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            problem = f"cannot read {shown!r} as {tag}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from None

    if TYPE_CHECKING:  # given by the parser and resolver each loader adds to this class

        def __init__(self, stream: str) -> None: ...
        def peek_event(self) -> Any: ...
        def resolve(self, kind: Any, value: Any, implicit: Any) -> str: ...
        def dispose(self) -> None: ...


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    """PyYAML's int, refusing literals whose conversion would take seconds (or fail)."""
    text = str(node.value).replace("_", "").lstrip("+-")
    if text[:2].lower() in ("0x", "0b", "0o"):  # YAML 1.1's prefixes; 0o is PyYAML's too
        text = text[2:]
    digits = len(text)
    if digits > _MAX_INT_DIGITS:
        problem = f"an integer literal of {digits:,} digits; at most {_MAX_INT_DIGITS:,} are read"
        raise _Refused(problem, node.start_mark)
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


class _PyLoader(_Limits, yaml.SafeLoader):
    """The limits on PyYAML's pure-Python scanner and parser (`yaml.safe_load`'s)."""

    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._init_limits()


_Loader: type[_Limits] = _PyLoader
_PyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)

try:
    from yaml._yaml import CParser  # what yaml.CSafeLoader is built on
except ImportError:  # PyYAML built without libyaml: the pure-Python parser, ~20x slower
    pass
else:

    class _CLoader(_Limits, CParser, yaml.resolver.Resolver):
        """The limits on libyaml's scanner and parser (`yaml.CSafeLoader`'s).

        Only the events come from C: composing (with the limits), typing and building
        the values stay PyYAML's Python, exactly as `yaml.safe_load` does them. The
        pure-Python scanner takes about a second per megabyte of a long scalar, so the
        largest file accepted would take minutes; libyaml reads it in a second or two.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._init_limits()

    _CLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    _Loader = _CLoader


def _environment() -> dict[str, str]:
    """The values `$VAR` / `${VAR}` take: the environment, and the login name for `$USER`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): leave $USER alone
        user = os.environ.get("USER", "$USER")
    return {**os.environ, "USER": user}


def _value_nodes(root: yaml.Node, *, keys: bool = False) -> Iterator[yaml.Node]:
    """Every node reachable from `root` through values (and keys, with `keys`), once each.

    Each is yielded before its children are read.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value) if keys else (value,))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _unshare_keys(root: yaml.Node, loader: _Limits) -> None:
    """Gives a copy of its own to each value that is a key's node (`? &k $T` then `*k`).

    Substitution rewrites value nodes in place; a key aliased as a value would have its
    key rewritten too.
    """
    containers = [
        node
        for node in _value_nodes(root)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode))
    ]
    keys = {
        id(k) for node in containers if isinstance(node, yaml.MappingNode) for k, _ in node.value
    }

    def own(v: yaml.Node) -> yaml.Node:
        if id(v) not in keys or not isinstance(v, yaml.ScalarNode):
            return v
        copy = yaml.ScalarNode(v.tag, v.value, v.start_mark, v.end_mark, v.style)
        if id(v) in loader.explicit_tags:
            loader.explicit_tags.add(id(copy))
        return copy

    for container in containers:
        if isinstance(container, yaml.MappingNode):
            container.value = [(k, own(v)) for k, v in container.value]
        else:
            container.value = [own(v) for v in container.value]


def _substitute_env(root: yaml.Node, loader: _Limits, env: Mapping[str, str]) -> None:
    """Substitutes `$VAR` / `${VAR}` in every scalar value of the node graph, in place.

    Keys are left alone. A plain scalar without a written tag is typed again from its
    new text, as YAML would have typed that text, so `$LR` can still be a float; it
    stays a scalar whatever the text (no structure comes from a variable). Each node is
    visited once, however many aliases refer to it.
    """
    _unshare_keys(root, loader)
    for node in _value_nodes(root):
        if not isinstance(node, yaml.ScalarNode) or "$" not in node.value:
            continue
        text = string.Template(node.value).safe_substitute(env)
        if text == node.value:
            continue
        node.value = text
        if not node.style and id(node) not in loader.explicit_tags:  # plain: None or ""
            node.tag = loader.resolve(yaml.ScalarNode, text, (True, False))


def _read_yaml_text(path: str | os.PathLike[str]) -> str:
    # Never an unbounded read: /dev/zero or a huge file costs at most the limit plus
    # one byte. Read in chunks, as read(limit + 1) would allocate the whole limit for
    # every small config.
    chunks: list[bytes] = []
    size = 0
    with Path(path).open("rb") as f:
        while size <= _MAX_YAML_BYTES:
            chunk = f.read(min(_READ_CHUNK, _MAX_YAML_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size > _MAX_YAML_BYTES:
        msg = (
            f"{os.fspath(path)}: larger than {_MAX_YAML_BYTES / 2**20:g} MiB, the most a "
            "config file may be; refused"
        )
        raise ValueError(msg)
    return b"".join(chunks).decode("utf-8")


# `${NAME}` not escaped by a `$`, and what stands for it while the text is parsed: two
# private-use characters, which YAML takes in a plain scalar and no config holds.
_BRACED_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_OPEN, _CLOSE = "\ue000", "\ue001"


def _restore_braces(root: yaml.Node | None) -> None:
    """Writes each placeholder of `_parse`'s retry back as `${NAME}`, keys included."""
    for node in () if root is None else _value_nodes(root, keys=True):
        if isinstance(node, yaml.ScalarNode):
            node.value = node.value.replace(_OPEN, "${").replace(_CLOSE, "}")


def _parse(text: str, substitute_env: bool) -> tuple[_Limits, yaml.Node | None]:
    """A loader and the document's node graph; `${VAR}` unbraced where only that parses.

    The original tml substituted into the text before parsing, so `{lr: ${LR}}` and
    `{num_steps: ${K}000}` worked there; here the braces of `${LR}` end a flow mapping.
    A text that does not parse as it is, but does with each `${NAME}` written without
    its braces (as two private-use characters around the name, written back as `${NAME}`
    once parsed), is read that way; any other text keeps its own error. The caller
    disposes of the loader.
    """
    loader = _Loader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.MarkedYAMLError as first:
        loader.dispose()
        if not substitute_env or "${" not in text or _OPEN in text or _CLOSE in text:
            raise
        retry = _Loader(_BRACED_VARIABLE.sub(rf"{_OPEN}\1{_CLOSE}", text))
        try:
            root = retry.get_single_node()
        except yaml.YAMLError:
            retry.dispose()
            raise first from None
        except BaseException:
            retry.dispose()
            raise
        _restore_braces(root)
        return retry, root
    except BaseException:
        loader.dispose()
        raise


def _load_yaml(yaml_path: str | os.PathLike[str], *, substitute_env: bool = True) -> Any:
    """The parsed YAML document at `yaml_path` (plain dicts, lists and scalars).

    Reads it as `load_config_from_yaml` does (limits and environment substitution in
    the module docstring), without validating it into a config.

    Raises:
        OSError: the file cannot be read.
        UnicodeDecodeError: the file is not UTF-8.
        yaml.YAMLError: the file is not valid YAML.
        ValueError: a limit is exceeded (the message names the file, position, problem).
    """
    text = _read_yaml_text(yaml_path)
    loader: _Limits | None = None
    try:
        loader, root = _parse(text, substitute_env)
        if root is None:
            return None
        if substitute_env:
            _substitute_env(root, loader, _environment())
        return loader.construct_document(root)
    except _Refused as e:
        where = f":{e.mark.line + 1}:{e.mark.column + 1}" if e.mark is not None else ""
        msg = f"{os.fspath(yaml_path)}{where}: {e.problem}"
        raise ValueError(msg) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_config_from_yaml(
    config_type: type[C], yaml_path: str | os.PathLike[str], *, substitute_env: bool = True
) -> C:
    """Reads a YAML file into `config_type`, substituting environment variables.

    `$VAR` / `${VAR}` in scalar values are taken from the environment after parsing
    (never in keys, never as YAML structure); see the module docstring for that and
    for the limits that refuse hostile files.

    Args:
        config_type: the pydantic config class to validate into.
        yaml_path: path of the YAML file.
        substitute_env: False reads `$VAR` as the literal text `$VAR`.

    Returns:
        The validated config.

    Raises:
        pydantic.ValidationError: a field is missing, unknown or invalid; each error's
            `loc` is the YAML path of the field.
        yaml.YAMLError: the file is not valid YAML.
        ValueError: the file exceeds a limit (size, nodes with aliases expanded,
            nesting, integer length) or is not UTF-8 (`UnicodeDecodeError`).
        OSError: the file cannot be read.
    """
    return config_type.model_validate(_load_yaml(yaml_path, substitute_env=substitute_env))
