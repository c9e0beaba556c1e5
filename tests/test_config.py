"""`tml.core.config` and the optimizer configs: field groups, YAML loading, errors.

The original tml declared field groups as `pydantic.Field(None, one_of="x")`; under
pydantic 2 that still works but warns (PydanticDeprecatedSince20), so those classes
are defined under `pytest.warns`. The warning-free spelling is
`json_schema_extra={"one_of": "x"}`.
"""

from __future__ import annotations

import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest
import yaml

import tml.core.config as tml_config
from tests.oracle import assert_same_bits, reference_array
from tml.core.config import BaseConfig, load_config_from_yaml
from tml.optimizers import compute_lr
from tml.optimizers.config import (
    AdagradConfig,
    AdamConfig,
    LearningRate,
    LinearRampToConstant,
    LinearRampToCosine,
    MultiTaskLearningRates,
    OptimizerConfig,
    PiecewiseConstant,
    SgdConfig,
    get_optimizer_algorithm_config,
)

# ---------------------------------------------------------------------------
# BaseConfig


class Plain(BaseConfig):
    name: str
    size: int = 3


def test_base_config_forbids_unknown_fields() -> None:
    assert Plain(name="a").size == 3
    with pytest.raises(pydantic.ValidationError, match="colour") as info:
        Plain(name="a", colour="red")
    assert info.value.errors()[0]["type"] == "extra_forbidden"
    assert info.value.errors()[0]["loc"] == ("colour",)


def _original_style() -> tuple[type[BaseConfig], type[BaseConfig]]:
    with pytest.warns(pydantic.PydanticDeprecatedSince20):

        class Exactly(BaseConfig):
            x: int | None = pydantic.Field(None, one_of="xy")
            y: int | None = pydantic.Field(None, one_of="xy")
            z: int | None = None

    with pytest.warns(pydantic.PydanticDeprecatedSince20):

        class AtMost(BaseConfig):
            x: int | None = pydantic.Field(None, at_most_one_of="xy")
            y: int | None = pydantic.Field(None, at_most_one_of="xy")

    return Exactly, AtMost


def _warning_free_style() -> tuple[type[BaseConfig], type[BaseConfig]]:
    # filterwarnings=error in pyproject: any warning here fails the test.
    class Exactly(BaseConfig):
        x: int | None = pydantic.Field(None, json_schema_extra={"one_of": "xy"})
        y: int | None = pydantic.Field(None, json_schema_extra={"one_of": "xy"})
        z: int | None = None

    class AtMost(BaseConfig):
        x: int | None = pydantic.Field(None, json_schema_extra={"at_most_one_of": "xy"})
        y: int | None = pydantic.Field(None, json_schema_extra={"at_most_one_of": "xy"})

    return Exactly, AtMost


@pytest.mark.parametrize(
    "declare", [_original_style, _warning_free_style], ids=["original", "json_schema_extra"]
)
def test_one_of(declare: Any) -> None:
    exactly, _ = declare()
    assert exactly(x=1).x == 1
    assert exactly(y=0).y == 0  # 0 is set: only None counts as unset
    assert exactly(x=1, z=5).z == 5  # z is not in the group
    with pytest.raises(pydantic.ValidationError) as info:
        exactly()
    assert "x" in str(info.value)
    assert "y" in str(info.value)
    with pytest.raises(pydantic.ValidationError) as info:
        exactly(x=1, y=2)
    message = str(info.value)
    assert "x=1" in message
    assert "y=2" in message
    with pytest.raises(pydantic.ValidationError):
        exactly(x=None, y=None, z=1)


@pytest.mark.parametrize(
    "declare", [_original_style, _warning_free_style], ids=["original", "json_schema_extra"]
)
def test_at_most_one_of(declare: Any) -> None:
    _, at_most = declare()
    assert at_most().x is None
    assert at_most(x=1).x == 1
    assert at_most(y=2).y == 2
    with pytest.raises(pydantic.ValidationError) as info:
        at_most(x=1, y=2)
    assert "x=1" in str(info.value)
    assert "y=2" in str(info.value)


def test_fields_written_without_optional_take_an_explicit_none(tmp_path: Path) -> None:
    # The original wrote `x: T = pydantic.Field(None, one_of=...)`, which pydantic 1 made
    # Optional: its YAML configs set the unused ones to null (recap's
    # `single_task_learning_rate: null`). pydantic 2 alone refuses that None.
    with pytest.warns(pydantic.PydanticDeprecatedSince20):

        class Recap(BaseConfig):
            multi: int = pydantic.Field(None, one_of="lr")
            single: int = pydantic.Field(None, one_of="lr")
            note: str = None  # type: ignore[assignment]
            strict: int = 0

    assert Recap(multi=1, single=None, note=None).single is None
    assert Recap.model_validate({"multi": None, "single": 2}).single == 2
    path = tmp_path / "recap.yaml"
    path.write_text("multi: 3\nsingle: null\nnote: null\n")
    assert load_config_from_yaml(Recap, path).multi == 3
    with pytest.raises(pydantic.ValidationError, match="exactly one of multi, single"):
        Recap(multi=None, single=None)
    with pytest.raises(pydantic.ValidationError, match="valid integer"):
        Recap(multi=1, strict=None)  # a default that is not None: None stays refused
    with pytest.raises(pydantic.ValidationError, match="valid integer"):
        Recap(multi="a")

    # Under any name the field is read by: alias, validation_alias, one of AliasChoices.
    class Aliased(BaseConfig):
        a: int = pydantic.Field(None, alias="a_alias")  # type: ignore[assignment]
        b: int = pydantic.Field(None, validation_alias="b_alias")  # type: ignore[assignment]
        c: int = pydantic.Field(  # type: ignore[assignment, pydantic-alias]
            None, validation_alias=pydantic.AliasChoices("c1", "c2")
        )

    assert Aliased.model_validate({"a_alias": None, "b_alias": None, "c2": None}).b is None
    assert Aliased.model_validate({"a_alias": 1, "b_alias": 2, "c1": 3}).c == 3


def test_groups_are_independent_and_inherited() -> None:
    class Two(BaseConfig):
        a: int | None = pydantic.Field(None, json_schema_extra={"one_of": "first"})
        b: int | None = pydantic.Field(None, json_schema_extra={"one_of": "first"})
        c: int | None = pydantic.Field(None, json_schema_extra={"one_of": "second"})
        d: int | None = pydantic.Field(None, json_schema_extra={"one_of": "second"})

    class Child(Two):
        e: int = 0

    for cls in (Two, Child):
        assert cls(a=1, d=2).d == 2
        with pytest.raises(pydantic.ValidationError, match="second"):
            cls(a=1)
        with pytest.raises(pydantic.ValidationError, match="first"):
            cls(a=1, b=1, c=1)
    with pytest.raises(pydantic.ValidationError) as info:
        Child(a=1, c=1, f=3)
    assert [e["loc"] for e in info.value.errors()] == [("f",)]


# ---------------------------------------------------------------------------
# load_config_from_yaml


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class Paths(BaseConfig):
    plain: str
    braced: str
    user: str
    unknown: str
    embedded: str


def test_environment_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TML_TEST_ROOT", "/data/run7")
    monkeypatch.setenv("TML_TEST_TAG", "v2")
    # getpass.getuser() reads the first of these that is set; set them all alike.
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "tml_tester")
    monkeypatch.delenv("TML_TEST_SURELY_UNSET", raising=False)
    path = _write(
        tmp_path,
        """
        plain: $TML_TEST_ROOT/model
        braced: ${TML_TEST_ROOT}_${TML_TEST_TAG}
        user: /home/$USER/ckpt
        unknown: $TML_TEST_SURELY_UNSET/x
        embedded: "a${TML_TEST_TAG}b"
        """,
    )
    config = load_config_from_yaml(Paths, path)
    assert config.plain == "/data/run7/model"
    assert config.braced == "/data/run7_v2"
    assert config.user == "/home/tml_tester/ckpt"
    assert config.unknown == "$TML_TEST_SURELY_UNSET/x"
    assert config.embedded == "av2b"
    assert load_config_from_yaml(Paths, str(path)) == config  # str paths too


def test_substitution_can_fill_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TML_TEST_LR", "0.25")
    monkeypatch.setenv("TML_TEST_RAMP", "40")
    path = _write(
        tmp_path,
        """
        linear_ramp_to_constant:
          learning_rate: $TML_TEST_LR
          num_ramp_steps: ${TML_TEST_RAMP}
        """,
    )
    lr = load_config_from_yaml(LearningRate, path)
    assert lr.linear_ramp_to_constant == LinearRampToConstant(learning_rate=0.25, num_ramp_steps=40)
    assert compute_lr(lr, 20) == 0.125


class Document(BaseConfig):
    """Any YAML document, unvalidated: what the loader itself produced."""

    data: Any = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> dict[str, Any]:
        return {"data": data}


class Injectable(BaseConfig):
    plain: str
    other: str = "default"


def test_an_environment_value_is_one_scalar_never_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Substituted into the text before parsing (the original behaviour), this value
    # would end `plain` after "a" and set `other`; substituted after parsing it is the
    # value of `plain`, newline and all.
    monkeypatch.setenv("TML_TEST_VALUE", "a\nother: injected")
    path = _write(tmp_path, "plain: $TML_TEST_VALUE\n")
    config = load_config_from_yaml(Injectable, path)
    assert config.plain == "a\nother: injected"
    assert config.other == "default"

    monkeypatch.setenv("TML_TEST_LR", "1\nconstant: 5")
    path = _write(tmp_path, "learning_rate: $TML_TEST_LR\nnum_ramp_steps: 10\n")
    with pytest.raises(pydantic.ValidationError) as info:
        load_config_from_yaml(LinearRampToConstant, path)
    (err,) = info.value.errors()  # one bad value, not an unknown key `constant`
    assert err["loc"] == ("learning_rate",)
    assert err["input"] == "1\nconstant: 5"


def test_substituted_plain_scalars_are_typed_as_yaml_types_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same types yaml.safe_load gives the substituted text, as the original did
    # (YAML 1.1: "1e-3" has no dot, so it is a string; pydantic reads it as a number
    # for a float field); structure in a value stays text.
    env = {"N": "40", "F": "0.5", "B": "true", "Z": "null", "E": "1e-3", "L": "[1, 2]"}
    for name, value in env.items():
        monkeypatch.setenv(f"TML_TEST_{name}", value)
    path = _write(
        tmp_path,
        """
        n: $TML_TEST_N
        f: ${TML_TEST_F}
        b: $TML_TEST_B
        z: $TML_TEST_Z
        e: $TML_TEST_E
        l: $TML_TEST_L
        quoted: "$TML_TEST_N"
        tagged: !!str $TML_TEST_N
        joined: $TML_TEST_N$TML_TEST_N
        """,
    )
    data = load_config_from_yaml(Document, path).data
    assert data == {
        "n": 40,
        "f": 0.5,
        "b": True,
        "z": None,
        "e": "1e-3",
        "l": "[1, 2]",  # text substitution made this the list [1, 2]
        "quoted": "40",
        "tagged": "40",
        "joined": 4040,
    }
    path = _write(tmp_path, "constant: $TML_TEST_E\n")
    assert load_config_from_yaml(LearningRate, path).constant == 0.001


def test_keys_are_not_substituted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TML_TEST_TASK", "is_clicked")
    path = _write(tmp_path, "$TML_TEST_TASK: {constant: 0.1}\nx: $TML_TEST_TASK\n")
    data = load_config_from_yaml(Document, path).data
    assert data == {"$TML_TEST_TASK": {"constant": 0.1}, "x": "is_clicked"}
    # Nor a key whose node is also a value (an anchored key, aliased): its uses as a
    # value are substituted, the key is not.
    path = _write(tmp_path, "? &k $TML_TEST_TASK\n: 1\nb: *k\nc: [*k]\n")
    data = load_config_from_yaml(Document, path).data
    assert data == {"$TML_TEST_TASK": 1, "b": "is_clicked", "c": ["is_clicked"]}


def test_substitution_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TML_TEST_ROOT", "/data")
    path = _write(tmp_path, "plain: $TML_TEST_ROOT/x\nother: ${TML_TEST_ROOT}\n")
    config = load_config_from_yaml(Injectable, path, substitute_env=False)
    assert (config.plain, config.other) == ("$TML_TEST_ROOT/x", "${TML_TEST_ROOT}")
    assert load_config_from_yaml(Injectable, path).plain == "/data/x"


def test_aliases_are_substituted_once_and_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TML_TEST_LR", "0.25")
    path = _write(tmp_path, "a: &lr {constant: $TML_TEST_LR}\nb: *lr\n")
    assert load_config_from_yaml(Document, path).data == {
        "a": {"constant": 0.25},
        "b": {"constant": 0.25},
    }


# ---------------------------------------------------------------------------
# load_config_from_yaml: hostile files are refused, cheaply


def _loaders() -> list[Any]:
    loaders = [pytest.param(tml_config._PyLoader, id="pure-python")]
    c_loader = getattr(tml_config, "_CLoader", None)
    if c_loader is not None:
        loaders.append(pytest.param(c_loader, id="libyaml"))
    return loaders


@pytest.fixture(params=_loaders())
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each YAML parser the loader may use (libyaml's when PyYAML has it)."""
    monkeypatch.setattr(tml_config, "_Loader", request.param)
    return request.param


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """`levels` anchors, each a list of `width` aliases of the one before: width**levels."""
    lines = ["a0: &a0 [" + ",".join(['"x"'] * width) + "]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.usefixtures("loader")
def test_billion_laughs_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    # 9 levels of 9 aliases: 9**9 = 387,420,489 strings in ~420 bytes. Loading it built
    # the aliased graph cheaply; whatever walked it afterwards (validation of an Any
    # field, printing) expanded it.
    path = _write(tmp_path, billion_laughs() + "data: *a8\n")
    assert path.stat().st_size < 500
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"more than 1,000,000 YAML nodes with aliases") as e:
            load_config_from_yaml(Document, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not isinstance(e.value, pydantic.ValidationError)
    # Lines 1-6 define a0..a5: 9 + 81 + ... + 9**6 strings, about 600,000 nodes with
    # the lists; a6 on line 7 (9**7 strings) crosses 1,000,000, unused or not.
    assert str(e.value).startswith(f"{path}:7:")
    assert peak < 20 * 2**20


@pytest.mark.usefixtures("loader")
def test_aliases_within_the_limit_load(tmp_path: Path) -> None:
    # 4 levels of 9: 9**4 = 6,561 strings, plus the lists: far under the limit.
    path = _write(tmp_path, billion_laughs(levels=4) + "data: *a3\n")
    data = load_config_from_yaml(Document, path).data
    assert len(data["data"]) == 9
    assert data["data"][0][0][0] == ["x"] * 9


@pytest.mark.usefixtures("loader")
def test_node_limit_counts_aliases_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A list of 10 and 10 aliases of it: 1 + 10 (the list) + 1 (outer) + 10 * 11 = 122.
    monkeypatch.setattr(tml_config, "_MAX_YAML_NODES", 122)
    text = "a: &a [" + ", ".join("0" * 10) + "]\nb: [" + ", ".join(["*a"] * 10) + "]\n"
    path = _write(tmp_path, "{" + text.replace("\n", ", ").rstrip(", ") + "}\n")
    # The mapping and its 2 keys: 3 more nodes than the lists'.
    monkeypatch.setattr(tml_config, "_MAX_YAML_NODES", 122 + 3)
    assert len(load_config_from_yaml(Document, path).data["b"]) == 10
    monkeypatch.setattr(tml_config, "_MAX_YAML_NODES", 122 + 2)
    with pytest.raises(ValueError, match="YAML nodes"):
        load_config_from_yaml(Document, path)


@pytest.mark.usefixtures("loader")
def test_a_cyclic_document_is_refused(tmp_path: Path) -> None:
    # PyYAML builds a list that contains itself; validation and printing would not end.
    path = _write(tmp_path, "data: &a [1, *a]\n")
    with pytest.raises(ValueError, match=r"alias \*a inside its own anchor") as e:
        load_config_from_yaml(Document, path)
    assert str(e.value).startswith(f"{path}:1:")


@pytest.mark.usefixtures("loader")
def test_braced_variables_inside_flow_mappings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The original substituted into the text, so `{lr: ${LR}}` parsed; here the braces
    # would end the flow mapping. Such a text is read without the braces, each still
    # meaning `${VAR}`: also where a name character follows, as in `${K}000`.
    monkeypatch.setenv("TML_TEST_LR", "0.25")
    monkeypatch.setenv("TML_TEST_N", "40")
    text = (
        "lr: {cosine_decay: {learning_rate: ${TML_TEST_LR}, num_steps: ${TML_TEST_N}}}\n"
        'tag: ["${TML_TEST_LR}x", ${TML_TEST_N}, ${TML_TEST_N}00, ${TML_TEST_N}_a]\n'
        "other: {${TML_TEST_N}: ${TML_TEST_UNSET}0}\n"
    )
    data = load_config_from_yaml(Document, _write(tmp_path, text)).data
    assert data == {
        "lr": {"cosine_decay": {"learning_rate": 0.25, "num_steps": 40}},
        "tag": ["0.25x", 40, 4000, "40_a"],
        # Keys are not substituted; an unset variable stays as written.
        "other": {"${TML_TEST_N}": "${TML_TEST_UNSET}0"},
    }
    # A text broken otherwise keeps its own error; without substitution nothing changes.
    with pytest.raises(yaml.YAMLError, match="flow mapping") as e:
        load_config_from_yaml(Document, _write(tmp_path, "x: {a: ${TML_TEST_LR}, b: [}\n"))
    assert "column 9" in str(e.value)  # where the text as written breaks, at `${`
    with pytest.raises(yaml.YAMLError):
        load_config_from_yaml(Document, _write(tmp_path, text), substitute_env=False)


@pytest.mark.usefixtures("loader")
def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    # PyYAML kept the last: `constant: 0.1` then `constant: 0.2` silently meant 0.2.
    path = _write(tmp_path, "lr:\n  constant: 0.1\n  constant: 0.2\n")
    with pytest.raises(ValueError, match=r"key 'constant' appears twice \(first at line 2\)") as e:
        load_config_from_yaml(Document, path)
    assert str(e.value).startswith(f"{path}:3:")
    with pytest.raises(ValueError, match="key 'a' appears twice"):
        load_config_from_yaml(Document, _write(tmp_path, "{a: 1, b: 2, a: 3}\n"))
    # Not duplicates: one key as an int and as a string; a merged key overridden.
    data = load_config_from_yaml(Document, _write(tmp_path, "1: x\n'1': y\n")).data
    assert data == {1: "x", "1": "y"}
    text = "base: &b {lr: 0.1, steps: 5}\nrun:\n  <<: *b\n  lr: 0.3\n"
    data = load_config_from_yaml(Document, _write(tmp_path, text)).data
    assert data["run"] == {"lr": 0.3, "steps": 5}
    # A chain of merges, the merged anchor built after its user: as yaml.safe_load reads it.
    text = "base: &B {k: 1}\ndefs:\n  x: &X {<<: *B, k: 2}\ny: {<<: *X}\n"
    data = load_config_from_yaml(Document, _write(tmp_path, text)).data
    assert data == yaml.safe_load(text)
    # An alias of a key is that key.
    with pytest.raises(ValueError, match="key 'a' appears twice"):
        load_config_from_yaml(Document, _write(tmp_path, "m: {&k a: 1, *k : 2}\n"))


@pytest.mark.usefixtures("loader")
def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    # PyYAML's composer recursed once per level: RecursionError, 100,000 levels deep.
    path = _write(tmp_path, "data: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises((ValueError, yaml.YAMLError), match="nesting") as e:
        load_config_from_yaml(Document, path)
    assert str(path) in str(e.value) or isinstance(e.value, yaml.YAMLError)
    block = "".join(f"{'  ' * k}k{k}:\n" for k in range(150)) + "  " * 150 + "x\n"
    with pytest.raises(ValueError, match="more than 100 levels of nesting"):
        load_config_from_yaml(Document, _write(tmp_path, block))
    ok = "".join(f"{'  ' * k}k{k}:\n" for k in range(99)) + "  " * 99 + "x\n"
    assert load_config_from_yaml(Document, _write(tmp_path, ok)).data is not None


@pytest.mark.usefixtures("loader")
def test_huge_integer_literal_is_refused(tmp_path: Path) -> None:
    # int() of 10 million digits: Python refuses past 4300 (a ValueError deep in PyYAML).
    path = _write(tmp_path, "constant: " + "1" * 10_000_000 + "\n")
    with pytest.raises(ValueError, match=r":1:11: an integer literal of 10,000,000 digits"):
        load_config_from_yaml(LearningRate, path)
    # Hexadecimal converts at any length, into an int too large to print.
    with pytest.raises(ValueError, match="an integer literal of 20,000 digits"):
        load_config_from_yaml(Document, _write(tmp_path, "data: 0x" + "f" * 20_000 + "\n"))
    # 1,000 digits are read, a sign, a 0x and underscores not counted among them.
    for text in ("9" * 1000, "-" + "9" * 1000, "+" + "9" * 1000, "0x" + "f" * 1000, "1_0" * 500):
        got = load_config_from_yaml(Document, _write(tmp_path, f"data: {text}\n")).data
        assert got == {"data": int(text, 0)}
    with pytest.raises(ValueError, match="an integer literal of 1,001 digits"):
        load_config_from_yaml(Document, _write(tmp_path, "data: -" + "9" * 1001 + "\n"))


@pytest.mark.usefixtures("loader")
@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        # What PyYAML raised: IndexError, ValueError, ValueError, AttributeError.
        ("!!int\n", ":1:1:", "cannot read '' as !!int"),
        ("constant: !!int x\n", ":1:11:", "cannot read 'x' as !!int"),
        ("a: 2001-02-30\n", ":1:4:", "cannot read '2001-02-30' as !!timestamp"),
        ("a: [!!timestamp x]\n", ":1:5:", "cannot read 'x' as !!timestamp"),
    ],
)
def test_a_value_its_tag_cannot_read_is_a_yaml_error(
    tmp_path: Path, text: str, where: str, problem: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(yaml.YAMLError) as e:
        load_config_from_yaml(Document, path)
    mark = e.value.problem_mark  # type: ignore[attr-defined]
    assert f":{mark.line + 1}:{mark.column + 1}:" == where
    assert e.value.problem == problem  # type: ignore[attr-defined]


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:  # sparse: 64 MiB + 1 of zeros
        f.truncate(64 * 2**20 + 1)
    with pytest.raises(ValueError, match=r"big.yaml: larger than 64 MiB"):
        load_config_from_yaml(Document, path)
    exact = tmp_path / "exact.yaml"
    with exact.open("wb") as f:  # exactly the limit: read, then refused as YAML (NULs)
        f.write(b"data: 1\n")
        f.truncate(64 * 2**20)
    with pytest.raises(yaml.YAMLError):
        load_config_from_yaml(Document, exact)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_devices_are_refused(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    with pytest.raises(ValueError, match=f"{device}: larger than 64 MiB"):
        load_config_from_yaml(Document, device)


def _validation_error(tmp_path: Path, config_type: Any, text: str) -> pydantic.ValidationError:
    path = _write(tmp_path, text)
    with pytest.raises(pydantic.ValidationError) as info:
        load_config_from_yaml(config_type, path)
    assert isinstance(info.value, ValueError)
    return info.value


def test_unknown_key_loc_is_the_yaml_path(tmp_path: Path) -> None:
    error = _validation_error(
        tmp_path,
        OptimizerConfig,
        """
        adam:
          lr: 0.001
        learning_rate:
          linear_ramp_to_cosine:
            learning_rate: 0.001
            final_learning_rate: 0.0
            num_ramp_steps: 10
            final_num_steps: 100
            warmup: 3
        """,
    )
    locs = [e["loc"] for e in error.errors()]
    assert ("learning_rate", "linear_ramp_to_cosine", "warmup") in locs


def test_bad_value_loc_is_the_yaml_path(tmp_path: Path) -> None:
    error = _validation_error(
        tmp_path,
        OptimizerConfig,
        """
        sgd:
          lr: 0.1
        learning_rate:
          linear_ramp_to_cosine:
            learning_rate: 0.001
            final_learning_rate: 0.0
            num_ramp_steps: 100
            final_num_steps: 100
        """,
    )
    (err,) = error.errors()
    # A rule the core checks ends at its field too, as the docstring says.
    assert err["loc"] == ("learning_rate", "linear_ramp_to_cosine", "final_num_steps")
    assert "final_num_steps" in err["msg"]
    assert "100" in err["msg"]
    for text, loc in (
        ("constant: -1", ("constant",)),
        (
            "sequence: [{schedule: {constant: 1}, num_steps: 5}, "
            "{schedule: {cosine_decay: {learning_rate: 1, num_steps: 0}}}]",
            ("sequence", 1, "schedule", "cosine_decay", "num_steps"),
        ),
        (
            "sequence: [{schedule: {constant: 1}, num_steps: 5}, "
            "{schedule: {constant: 1}, num_steps: 5}]",
            ("sequence", 1, "num_steps"),
        ),
    ):
        (err,) = _validation_error(tmp_path, LearningRate, text).errors()
        assert err["loc"] == loc, text
    error = _validation_error(
        tmp_path,
        LearningRate,
        """
        piecewise_constant:
          learning_rate_boundaries: [100, 250.5]
          learning_rate_values: [0.1, 0.01, 0.001]
        """,
    )
    (err,) = error.errors()
    assert err["loc"] == ("piecewise_constant", "learning_rate_boundaries", 1)
    assert err["input"] == 250.5


def test_tower_error_names_the_tower(tmp_path: Path) -> None:
    error = _validation_error(
        tmp_path,
        MultiTaskLearningRates,
        """
        tower_learning_rates:
          is_clicked:
            constant: 0.1
          is_replied:
            constant: -0.1
        """,
    )
    locs = [e["loc"] for e in error.errors()]
    assert any(loc[:2] == ("tower_learning_rates", "is_replied") for loc in locs), locs


def test_invalid_yaml_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "constant: [0.1\n")
    with pytest.raises(Exception, match=r"(?i)yaml|expected|flow"):
        load_config_from_yaml(LearningRate, path)


# ---------------------------------------------------------------------------
# Optimizer and learning-rate configs from YAML


def test_optimizer_config_from_yaml(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        adam:
          lr: 0.001
          betas: [0.8, 0.99]
          eps: 1.0e-8
        learning_rate:
          linear_ramp_to_cosine:
            learning_rate: 0.001
            final_learning_rate: 1.0e-5
            num_ramp_steps: 1000
            final_num_steps: 100000
        """,
    )
    config = load_config_from_yaml(OptimizerConfig, path)
    assert config.sgd is None
    assert config.adagrad is None
    algorithm = get_optimizer_algorithm_config(config)
    assert isinstance(algorithm, AdamConfig)
    assert algorithm.lr == 0.001
    assert tuple(algorithm.betas) == (0.8, 0.99)
    assert algorithm.eps == 1e-8
    assert isinstance(config.learning_rate, LearningRate)
    assert isinstance(config.learning_rate.linear_ramp_to_cosine, LinearRampToCosine)
    steps = np.array([0, 999, 1000, 50_000, 100_000, 100_001])
    expected = reference_array(
        {
            "linear_ramp_to_cosine": {
                "learning_rate": 0.001,
                "final_learning_rate": 1e-5,
                "num_ramp_steps": 1000,
                "final_num_steps": 100000,
            }
        },
        steps,
    )
    assert_same_bits(compute_lr(config.learning_rate, steps), expected)


@pytest.mark.parametrize(
    ("text", "cls", "fields"),
    [
        ("sgd:\n  lr: 0.1\n  momentum: 0.9\n", SgdConfig, {"lr": 0.1, "momentum": 0.9}),
        ("adagrad:\n  lr: 0.05\n", AdagradConfig, {"lr": 0.05}),
        ("adam:\n  lr: 0.002\n", AdamConfig, {"lr": 0.002}),
    ],
    ids=["sgd", "adagrad", "adam"],
)
def test_each_algorithm(tmp_path: Path, text: str, cls: type, fields: dict[str, Any]) -> None:
    config = load_config_from_yaml(OptimizerConfig, _write(tmp_path, text))
    algorithm = get_optimizer_algorithm_config(config)
    assert type(algorithm) is cls
    for name, value in fields.items():
        assert getattr(algorithm, name) == value
    assert config.learning_rate is None


@pytest.mark.parametrize(
    ("cls", "fields", "loc"),
    [
        (SgdConfig, {"lr": True}, ("lr",)),
        (SgdConfig, {"lr": 0.1, "momentum": True}, ("momentum",)),
        (AdamConfig, {"lr": 0.1, "eps": True}, ("eps",)),
        (AdamConfig, {"lr": 0.1, "betas": [0.9, np.True_]}, ("betas", 1)),
        (AdagradConfig, {"lr": 0.1, "eps": True}, ("eps",)),
    ],
    ids=repr,
)
def test_an_algorithm_number_is_never_a_bool(
    cls: type[BaseConfig], fields: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    # pydantic's lax mode read `lr: yes` as 1.0: an optimizer trained at lr 1.
    with pytest.raises(pydantic.ValidationError, match="not a bool") as info:
        cls.model_validate(fields)
    assert info.value.errors()[0]["loc"] == loc


def test_adagrad_eps_is_torchs_default_and_never_zero() -> None:
    # The original's 0 made a parameter whose gradients were all zero NaN at step one.
    assert AdagradConfig(lr=0.1).eps == 1e-10
    with pytest.raises(pydantic.ValidationError, match="greater than 0"):
        AdagradConfig(lr=0.1, eps=0)


@pytest.mark.parametrize(
    "config",
    [
        {
            "piecewise_constant": {
                "learning_rate_boundaries": [10],
                "learning_rate_values": {1.0, 0.5},
            }
        },
        {
            "piecewise_constant": {
                "learning_rate_boundaries": {10, 20},
                "learning_rate_values": [1, 2, 3],
            }
        },
        {"multistep_decay": {"learning_rate": 1.0, "milestones": frozenset({5, 9}), "gamma": 0.5}},
        {"sequence": set()},
    ],
    ids=repr,
)
def test_a_set_is_no_list_of_values_on_either_path(config: dict[str, Any]) -> None:
    # pydantic's lax mode took a set as a list, in hash order: values reordered.
    with pytest.raises(pydantic.ValidationError, match="must be a list"):
        LearningRate.model_validate(config)
    with pytest.raises(TypeError, match="must be a list"):
        compute_lr(config, 0)


def test_optimizer_config_needs_exactly_one_algorithm() -> None:
    with pytest.raises(pydantic.ValidationError, match="adam"):
        OptimizerConfig()
    with pytest.raises(pydantic.ValidationError, match="sgd"):
        OptimizerConfig(adam=AdamConfig(lr=0.1), sgd=SgdConfig(lr=0.1))
    with pytest.raises(pydantic.ValidationError, match="nesterov"):
        OptimizerConfig(sgd={"lr": 0.1, "nesterov": True})


def test_get_optimizer_algorithm_config_without_algorithm() -> None:
    empty = OptimizerConfig.model_construct(adam=None, sgd=None, adagrad=None, learning_rate=None)
    with pytest.raises(ValueError, match=r"(?i)optimizer"):
        get_optimizer_algorithm_config(empty)


def test_multi_task_learning_rates_from_yaml(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        tower_learning_rates:
          is_clicked:
            linear_ramp_to_constant:
              learning_rate: 0.01
              num_ramp_steps: 100
          is.replied:
            piecewise_constant:
              learning_rate_boundaries: [10, 20.0]
              learning_rate_values: [0.3, 0.2, 0.1]
        backbone_learning_rate:
          constant: 0.005
        """,
    )
    config = load_config_from_yaml(MultiTaskLearningRates, path)
    assert list(config.tower_learning_rates) == ["is_clicked", "is.replied"]  # order kept
    replied = config.tower_learning_rates["is.replied"]
    assert isinstance(replied.piecewise_constant, PiecewiseConstant)
    assert replied.piecewise_constant.learning_rate_boundaries == [10, 20]
    assert config.backbone_learning_rate is not None
    assert config.backbone_learning_rate.constant == 0.005
    assert compute_lr(replied, 20) == 0.1
    assert compute_lr(config.tower_learning_rates["is_clicked"], 50) == 0.005
    no_backbone = MultiTaskLearningRates(tower_learning_rates={"t": LearningRate(constant=0.1)})
    assert no_backbone.backbone_learning_rate is None


def test_learning_rate_kinds_and_yaml_shape() -> None:
    """A LearningRate's dump is the YAML shape, and it round-trips through compute_lr."""
    lr = LearningRate(
        linear_ramp_to_cosine={
            "learning_rate": 0.1,
            "final_learning_rate": 0.2,  # allowed: ends higher than it peaks
            "num_ramp_steps": 5.0,  # integral float accepted
            "final_num_steps": 9,
        }
    )
    dumped = lr.model_dump()
    assert dumped["linear_ramp_to_cosine"]["num_ramp_steps"] == 5
    assert dumped["constant"] is None
    steps = np.arange(12)
    assert_same_bits(compute_lr(lr, steps), compute_lr(dumped, steps))
    assert_same_bits(compute_lr(lr, steps), reference_array(dumped, steps))


@pytest.mark.parametrize(
    ("text", "want"), [("1e5", 100_000), ("100", 100), ("1.5e1", 15), (" 7 ", 7)]
)
def test_a_step_count_written_as_yaml_1_1_leaves_it_is_read_on_every_path(
    tmp_path: Path, text: str, want: int
) -> None:
    # PyYAML reads `num_steps: 1e5` as the string "1e5": the compiled reader took it,
    # the model refused it, so a YAML file failed where the same dict worked.
    cfg = {"cosine_decay": {"learning_rate": 1.0, "num_steps": text}}
    assert LearningRate.model_validate(cfg).cosine_decay.num_steps == want  # type: ignore[union-attr]
    assert compute_lr(cfg, want // 2) == compute_lr(LearningRate.model_validate(cfg), want // 2)
    path = _write(tmp_path, f"cosine_decay: {{learning_rate: 1.0, num_steps: {text.strip()}}}\n")
    assert load_config_from_yaml(LearningRate, path).cosine_decay.num_steps == want  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["10.5", "abc", "\uff11\uff10", "nan"])
def test_a_step_count_string_that_is_no_integer_is_refused_on_every_path(text: str) -> None:
    cfg = {"cosine_decay": {"learning_rate": 1.0, "num_steps": text}}
    with pytest.raises(pydantic.ValidationError, match="num_steps"):
        LearningRate.model_validate(cfg)
    with pytest.raises(ValueError, match="num_steps"):
        compute_lr(cfg, 0)


def test_pretty_print_is_yaml_that_loads_back(tmp_path: Path) -> None:
    # The original printed yaml.dump(self.dict()), for logs.
    config = OptimizerConfig(
        adam={"lr": 0.001, "betas": (0.8, 0.9)},
        learning_rate={"linear_ramp_to_constant": {"learning_rate": 0.1, "num_ramp_steps": 5}},
    )
    text = config.pretty_print()
    assert yaml.safe_load(text)["adam"] == {"lr": 0.001, "betas": [0.8, 0.9], "eps": 1e-7}
    assert load_config_from_yaml(OptimizerConfig, _write(tmp_path, text)) == config


def test_a_one_of_error_names_the_fields_without_dumping_them() -> None:
    # It embedded the full repr of every config set: 54,000 characters here.
    with pytest.raises(pydantic.ValidationError) as info:
        LearningRate(
            constant=0.1,
            piecewise_constant={
                "learning_rate_boundaries": list(range(1, 5001)),
                "learning_rate_values": [0.1] * 5001,
            },
        )
    msg = info.value.errors()[0]["msg"]
    assert "exactly one of" in msg
    assert "constant=0.1" in msg
    assert "piecewise_constant=" in msg
    assert len(msg) < 1000


def test_a_model_holding_two_kinds_after_validation_is_refused_not_read_as_one() -> None:
    # An assignment or model_construct skips the one_of check; the first kind set was
    # evaluated and the other dropped, a wrong number instead of the dict path's error.
    from tml.optimizers import Schedule

    assigned = LearningRate(constant=0.1)
    linear = {"learning_rate": 0.0, "final_learning_rate": 1.0, "num_steps": 10}
    assigned.linear = linear  # type: ignore[assignment]  # pydantic stores it unchecked
    constructed = LearningRate.model_construct(
        constant=0.5, cosine_decay={"learning_rate": 0.1, "num_steps": 10}
    )
    for model, kinds in ((assigned, "constant, linear"), (constructed, "constant, cosine_decay")):
        with pytest.raises(ValueError, match=f"exactly one of .*; got {kinds}$"):
            compute_lr(model, 5)
        with pytest.raises(ValueError, match=f"got {kinds}$"):
            Schedule(model)
    assert compute_lr(LearningRate(constant=0.1), 5) == 0.1


def test_numpy_bools_and_bytes_are_read_as_the_dict_path_reads_them() -> None:
    # The models refused np.True_ for a flag, which the dict path takes, and took b"10"
    # for a step count, which it refuses.
    config = {
        "exponential_decay": {
            "learning_rate": 0.1,
            "decay_rate": 0.5,
            "decay_steps": 10,
            "staircase": np.True_,
        }
    }
    assert compute_lr(LearningRate.model_validate(config), 15) == compute_lr(config, 15) == 0.05
    config = {"cosine_decay": {"learning_rate": 0.1, "num_steps": b"10"}}
    with pytest.raises(pydantic.ValidationError, match="must be an integer, not bytes"):
        LearningRate.model_validate(config)
    with pytest.raises(TypeError):
        compute_lr(config, 0)
