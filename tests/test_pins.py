"""requirements.txt is the one list of pins: pyproject.toml, envs/*.yaml and .ci/run follow it."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
        assert match, f"not an exact pin: {line!r}"
        found[match[1].lower()] = match[2]
    return found


def requirements():
    return pins((ROOT / "requirements.txt").read_text().splitlines())


def test_requirements_are_exact_pins():
    assert {"torch", "snakemake", "pandas", "pyarrow", "scikit-learn", "matplotlib", "tqdm"} <= set(requirements())


def test_pyproject_lists_the_pinned_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in project["dependencies"]}
    names |= {
        re.split(r"[<>=!~ \[]", d)[0].lower() for extra in project["optional-dependencies"].values() for d in extra
    }
    assert names == set(requirements())


def test_conda_environments_follow_the_pins():
    required = requirements()
    for env in sorted((ROOT / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        env_pins = pins(pip)
        assert env_pins, f"{env.name} pins nothing"
        for name, version in env_pins.items():
            assert required.get(name) == version, (
                f"{env.name}: {name}=={version}, requirements.txt says {required.get(name)}"
            )


def test_ci_installs_from_the_pins():
    assert "-r requirements.txt" in (ROOT / ".ci" / "run").read_text()
