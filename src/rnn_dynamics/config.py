"""Configuration helpers used by the Snakefile before schema validation."""

from __future__ import annotations

import re

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
