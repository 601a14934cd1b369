"""The configuration: its schema, the settings types built from it, and the helpers the Snakefile runs before
validating it.

The schema (``config.schema.yaml``, package data of ``rnn_dynamics``; ``workflow/schemas/`` links to it)
documents every key and holds every default. A stage's settings are a frozen dataclass derived from
``Section``: its fields are keys of one config section, their defaults are the schema's, and
``from_config`` builds it from the section, so no default is written twice.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.resources
import inspect
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

import yaml

__all__ = [
    "MOVED_KEYS",
    "SCHEMA",
    "Section",
    "check_keys",
    "check_values",
    "coerce_scalars",
    "defaults",
    "keys",
    "runtime",
    "schema",
    "unknown_keys",
]

# Package data, beside this module: found wherever the package is installed.
SCHEMA = importlib.resources.files("rnn_dynamics") / "config.schema.yaml"
# A field's metadata flag: the field says where or how a stage runs, not what it computes (see ``runtime``).
_RUNTIME = "runtime"

# Snakemake parses nested `--config key={a: 1}` values with YAML's BaseLoader, which
# leaves every scalar a string. These patterns are what YAML's safe loader would read
# as numbers, booleans or null.
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_SPECIAL = {"true": True, "false": False, "null": None, "~": None}
# Keys that have moved: an unknown-key message names where they went.
MOVED_KEYS = {
    ("training", "batch_size"): "models.batch_size, a list (a grid axis: one model per value)",
    ("states", "split"): "states.splits, a list (one analysis per split)",
}


@functools.cache
def schema() -> dict:
    """The config schema (read once)."""
    try:
        return yaml.safe_load(SCHEMA.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{SCHEMA}: the config schema, which holds every default, is missing; it is package data of "
            "rnn_dynamics: reinstall it (pip install -e .)"
        ) from None


def _node(section: str) -> dict:
    """The schema of a config section (``"training"``), of a dataset kind (``"datasets.table"``) or of an entry
    of a section's mapping of named entries (``"models.import"``: one imported network)."""
    if section.startswith("datasets."):
        return schema()["$defs"][section.removeprefix("datasets.")]
    name, _, entry = section.partition(".")
    node = schema()["properties"][name]
    return node["properties"][entry]["additionalProperties"] if entry else node


def keys(section: str) -> list[str]:
    """The keys a config section (or dataset kind) may hold, in the schema's order."""
    return list(_node(section)["properties"])


def defaults(section: str) -> dict:
    """The schema's default of every key that has one, in a config section (``"training"``) or a
    dataset kind (``"datasets.table"``)."""
    return {
        key: copy.deepcopy(entry["default"])
        for key, entry in _node(section)["properties"].items()
        if "default" in entry
    }


def runtime():
    """A settings field that says where or how a stage runs (a device, a thread count), not what it
    computes: ``Section.params`` leaves it out, so changing it reruns nothing."""
    return dataclasses.field(metadata={_RUNTIME: True})


_S = TypeVar("_S", bound="Section")


def _with_default(value, metadata) -> dataclasses.Field:
    """A dataclass field defaulting to ``value`` (a fresh copy for every instance where it is mutable)."""
    if isinstance(value, (dict, list)):
        return dataclasses.field(default_factory=functools.partial(copy.deepcopy, value), metadata=metadata)
    return dataclasses.field(default=value, metadata=metadata)


class Section:
    """Base of the settings types: a frozen dataclass whose fields are keys of one config section.

    A subclass names its section (``class Settings(config.Section, section="training")``) and declares
    fields without defaults: each takes the schema's default here, so ``Settings(epochs=3)`` and
    ``Settings.from_config(section)`` fill the keys left out from the schema. The field order is the
    order of ``params``.
    """

    SECTION: ClassVar[str]

    def __init_subclass__(cls, section: str, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.SECTION = section
        known, given = keys(section), defaults(section)
        for name in inspect.get_annotations(cls):
            if name not in known:
                raise TypeError(f"{cls.__name__}.{name}: the config section {section} has no key {name!r}")
            declared = cls.__dict__.get(name)
            metadata = declared.metadata if isinstance(declared, dataclasses.Field) else {}
            if name in given:
                setattr(cls, name, _with_default(given[name], metadata))

    @classmethod
    def from_config(cls: type[_S], values: Mapping) -> _S:
        """The settings of a config section's ``values``; a key left out takes the schema's default.

        Keys of the section that are not fields (another stage's) are ignored. Raises ValueError
        naming the keys that the section does not have.
        """
        known = keys(cls.SECTION)
        unknown = sorted(key for key in values if key not in known)
        if unknown:
            raise ValueError(f"{cls.SECTION}: unknown key(s) {unknown}; known: {known}")
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: copy.deepcopy(value) for key, value in values.items() if key in names})

    @classmethod
    def from_params(cls: type[_S], params: Mapping, **runtime) -> _S:
        """The settings of one job: its rule's ``params`` (the dict ``params()`` made) and the ``runtime``
        fields, which the rule passes apart (a device as a resource, threads as its ``threads``), so that
        a script reads nothing but its rule's params, inputs and resources.

        Raises ValueError naming the fields that ``params`` lacks or has beyond the stage's, and the
        runtime fields missing or unknown.
        """
        fields = {field.name: bool(field.metadata.get(_RUNTIME)) for field in dataclasses.fields(cls)}
        decided = [name for name, is_runtime in fields.items() if not is_runtime]
        missing = [name for name in decided if name not in params]
        extra = sorted(key for key in params if key not in decided)
        if missing or extra:
            raise ValueError(
                f"{cls.SECTION} params: missing {missing}, unexpected {extra}; the rule's params are "
                f"{cls.__name__}.params(), the keys {decided}"
            )
        wrong = sorted(set(runtime) ^ {name for name, is_runtime in fields.items() if is_runtime})
        if wrong:
            raise ValueError(f"{cls.__name__}: runtime fields {wrong} missing or unknown")
        return cls(**copy.deepcopy(dict(params)), **runtime)

    def params(self) -> dict:
        """The fields that decide the stage's output (all but the ``runtime`` ones), in field order: the
        rule's ``params``, so that Snakemake reruns the stage when one of them changes, and only then."""
        return {
            field.name: copy.deepcopy(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if not field.metadata.get(_RUNTIME)
        }


def coerce_scalars(value):
    """Turn strings that spell numbers, booleans or null into those values, recursively."""
    if isinstance(value, dict):
        return {key: coerce_scalars(item) for key, item in value.items()}
    if isinstance(value, list):
        return [coerce_scalars(item) for item in value]
    if isinstance(value, str):
        text = value.strip()
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        if text.lower() in _SPECIAL:
            return _SPECIAL[text.lower()]
    return value


def unknown_keys(config: dict, schema: dict, prefix: tuple = ()) -> list[tuple[tuple, list[str]]]:
    """Keys of ``config`` that ``schema`` does not allow, as (key path, allowed keys at that level).

    Only objects with ``additionalProperties: false`` and listed ``properties`` are
    checked (the sections of config.yaml); everything else is left to the validator.
    """
    properties = schema.get("properties")
    if not isinstance(config, dict) or properties is None or schema.get("additionalProperties") is not False:
        return []
    found = [(prefix + (key,), sorted(properties)) for key in config if key not in properties]
    for key, value in config.items():
        if key in properties:
            found += unknown_keys(value, properties[key], prefix + (key,))
    return found


def _has_key(mapping, path: tuple) -> bool:
    for key in path:
        if not isinstance(mapping, dict) or key not in mapping:
            return False
        mapping = mapping[key]
    return True


def check_keys(config: dict, schema_path: str | os.PathLike, configfiles: list) -> None:
    """Stop with one short message per unknown key: the key, the file it is in, and the keys allowed there.

    The schema validator would print the whole schema (hundreds of lines) instead.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = unknown_keys(config, schema)
    if not problems:
        return
    files = {str(path): yaml.safe_load(Path(path).read_text()) or {} for path in configfiles if Path(path).exists()}
    lines = []
    for path, allowed in problems:
        sources = [name for name, content in files.items() if _has_key(content, path)] or ["--config"]
        section = f" under {'.'.join(path[:-1])}" if len(path) > 1 else ""
        moved = f"; it is now {MOVED_KEYS[path]}" if path in MOVED_KEYS else ""
        lines.append(
            f"unknown config key {'.'.join(path)!r} (in {', '.join(sources)}){moved}; "
            f"allowed keys{section}: {', '.join(allowed)}"
        )
    raise ValueError("\n".join(lines) + f"\n(every key is documented in {schema_path})")


def check_values(config: dict) -> None:
    """Stop with one short message per pair of keys whose values do not go together, which the schema
    (one key at a time) cannot check: the key names, their values and what to change.

    Runs after the schema's validation, before any job: ``fixed_points.shards`` must not exceed
    ``fixed_points.starts``, since the starts are split among the shards and a shard without
    starts has nothing to solve.
    """
    problems = []
    search = config.get("fixed_points", {})
    shards, starts = search.get("shards"), search.get("starts")
    if isinstance(shards, int) and isinstance(starts, int) and shards > starts:
        problems.append(
            f"fixed_points.shards ({shards}) is larger than fixed_points.starts ({starts}): the starts are split "
            f"among the shards, so {shards - starts} shards would have none to solve; set fixed_points.shards to "
            f"at most {starts}, or raise fixed_points.starts"
        )
    if problems:
        raise ValueError("\n".join(problems))
