"""The configuration: its schema's defaults, and the helpers the Snakefile runs before validating it.

``workflow/schemas/config.schema.yaml`` documents every key and holds every
default; Snakemake's validation fills them into the config of a run. Library code
that takes a config section's values (``training.Settings``, ``datasets.prepare``,
``fixed_points.gather``, ...) defaults to the same values through ``defaults``, so
no default is written twice.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path

import yaml

__all__ = ["SCHEMA", "check_keys", "check_values", "coerce_scalars", "defaults", "schema", "unknown_keys"]

# The schema beside the Snakefile: the package is installed from its checkout (pip install -e .).
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Snakemake parses nested `--config key={a: 1}` values with YAML's BaseLoader, which
# leaves every scalar a string. These patterns are what YAML's safe loader would read
# as numbers, booleans or null.
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_SPECIAL = {"true": True, "false": False, "null": None, "~": None}


@functools.cache
def schema() -> dict:
    """The config schema (read once)."""
    try:
        return yaml.safe_load(SCHEMA.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{SCHEMA}: the config schema, which holds every default, is missing; install rnn_dynamics "
            "from its checkout (pip install -e .)"
        ) from None


def defaults(section: str) -> dict:
    """The schema's default of every key that has one, in a config section (``"training"``) or a
    dataset kind (``"datasets.table"``)."""
    if section.startswith("datasets."):
        node = schema()["$defs"][section.removeprefix("datasets.")]
    else:
        node = schema()["properties"][section]
    return {key: copy.deepcopy(entry["default"]) for key, entry in node["properties"].items() if "default" in entry}


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
        lines.append(
            f"unknown config key {'.'.join(path)!r} (in {', '.join(sources)}); "
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
