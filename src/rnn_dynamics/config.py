"""Configuration helpers used by the Snakefile before schema validation."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

__all__ = ["check_keys", "coerce_scalars", "unknown_keys"]

# Snakemake parses nested `--config key={a: 1}` values with YAML's BaseLoader, which
# leaves every scalar a string. These patterns are what YAML's safe loader would read
# as numbers, booleans or null.
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_SPECIAL = {"true": True, "false": False, "null": None, "~": None}


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
            f"unknown config key {'.'.join(path)!r} (in {', '.join(sources)}); allowed keys{section}: {', '.join(allowed)}"
        )
    raise ValueError("\n".join(lines) + f"\n(every key is documented in {schema_path})")
