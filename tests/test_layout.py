"""The package's layout: every module declares its public names, and imports run one way, bottom to top."""

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rnn_dynamics"
# The package's layers, bottom to top: a subpackage each, whose ``__all__`` lists its modules bottom to top.
LAYER_PACKAGES = ["ground", "data", "networks", "dynamics", "outputs", "api"]


def layer_order(package: str) -> list[str]:
    """The modules of ``package`` (dotted, below rnn_dynamics) bottom to top, subpackages expanded in place;
    the names a package re-exports from its modules, which are no modules, have no place of their own."""
    order = []
    for name in importlib.import_module(f"rnn_dynamics.{package}").__all__:
        dotted = f"{package}.{name}"
        path = PACKAGE / Path(*dotted.split("."))
        if (path / "__init__.py").is_file():
            order += layer_order(dotted)
        elif path.with_suffix(".py").is_file():
            order.append(dotted)
    return order


# Bottom to top: a module may import only the modules before it (README.md, "Layout").
LAYERS = [module for layer in LAYER_PACKAGES for module in layer_order(layer)]
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if path.name != "__init__.py"
)


def modules_in(name: str) -> set[str]:
    """The modules that importing ``name`` (a module, or a package: every module in it) brings in."""
    return {name} if name in MODULES else {module for module in MODULES if module.startswith(f"{name}.")}


def imported_modules(name: str) -> set[str]:
    """The package's modules that module ``name`` imports, anywhere in its code (a package: all its modules)."""
    tree = ast.parse((PACKAGE / Path(*name.split("."))).with_suffix(".py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rnn_dynamics"):
            base = node.module.removeprefix("rnn_dynamics").lstrip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}".lstrip(".")
                found |= modules_in(candidate) or modules_in(base)
        elif isinstance(node, ast.Import):
            found |= {
                module
                for alias in node.names
                if alias.name.startswith("rnn_dynamics.")
                for module in modules_in(alias.name.removeprefix("rnn_dynamics."))
            }
    return found


def test_every_module_has_its_place_in_the_layers():
    assert sorted(LAYERS) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_imports_run_one_way(name):
    above = [module for module in imported_modules(name) if LAYERS.index(module) >= LAYERS.index(name)]
    assert not above, f"{name} imports {above}, which stand above it (or are itself)"


PACKAGES = sorted(
    ".".join(path.parent.relative_to(PACKAGE).parts) for path in PACKAGE.rglob("__init__.py") if path.parent != PACKAGE
)


def test_the_package_root_holds_only_the_layers():
    """Every module lives in its layer's folder, so the tree shows the architecture."""
    assert sorted(path.name for path in PACKAGE.glob("*.py")) == ["__init__.py"]
    assert sorted(name for name in PACKAGES if "." not in name) == sorted(LAYER_PACKAGES)


@pytest.mark.parametrize("name", ["", *PACKAGES, *MODULES])
def test_every_module_declares_its_public_names(name):
    """A module's ``__all__`` names its attributes; a package's names its submodules, in layer order, and the
    names it re-exports from them."""
    module = importlib.import_module(f"rnn_dynamics.{name}".rstrip("."))
    assert isinstance(module.__all__, list)
    missing = [
        entry
        for entry in module.__all__
        if not hasattr(module, entry) and importlib.util.find_spec(f"{module.__name__}.{entry}") is None
    ]
    assert missing == []


def test_no_relative_imports():
    relative = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(ast.parse(path.read_text())))
    ]
    assert relative == []


def test_the_config_schema_is_package_data_that_the_workflow_links_to():
    """The library reads its schema beside its modules, wherever it is installed; the Snakefile validates
    against workflow/schemas/config.schema.yaml, a link to the same file."""
    import tomllib

    from rnn_dynamics.ground import config

    root = PACKAGE.parents[1]
    link = root / "workflow" / "schemas" / "config.schema.yaml"
    assert (PACKAGE / "config.schema.yaml").is_file() and not (PACKAGE / "config.schema.yaml").is_symlink()
    assert link.is_symlink() and link.resolve() == (PACKAGE / "config.schema.yaml").resolve()
    assert Path(str(config.SCHEMA)).resolve() == (PACKAGE / "config.schema.yaml").resolve()
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "config.schema.yaml" in package_data["rnn_dynamics"]


# What planning a run must not import: every `snakemake` call and every SLURM job parses the workflow.
NUMERICAL = {"torch", "sklearn", "scipy", "matplotlib", "skdim", "DSA"}


def imports_in(paths, pattern: str) -> list[str]:
    """The distinct import lines matching ``pattern`` in the files ``paths``."""
    return sorted({line for path in paths for line in re.findall(pattern, path.read_text(), re.M)})


def loaded_by(imports: list[str], names) -> list[str]:
    """Which of the modules ``names`` a fresh Python process has loaded after running the lines ``imports``."""
    code = "\n".join([*imports, "import sys", f"print(sorted(set(sys.modules) & set({sorted(names)!r})))"])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return ast.literal_eval(result.stdout.strip())


def test_the_workflow_plans_without_numerical_libraries():
    """The package imports of the Snakefile and the rules (stage settings, grid, catalogue, registry) bring in
    none of the numerical libraries, which the jobs' scripts import where they compute."""
    root = PACKAGE.parents[1]
    sources = [root / "Snakefile", *sorted((root / "workflow" / "rules").glob("*.smk"))]
    imports = imports_in(sources, r"^from rnn_dynamics\S* import (?:\([^)]*\)|.+)$")
    assert imports
    assert loaded_by(imports, NUMERICAL) == [], imports


# The jobs that only read stored results (the gather, the tables but the tolerance sweep, the HTML tables, the
# timeline, the state and fixed-point figures, the results page): each starts without torch's imports.
READING_SCRIPTS = ("gather_fixed_points", "accuracy_table", "comparison_table", "comparison_across_datasets",
                   "context_table", "data_table", "evidence_table", "explained_variance_table", "fixed_point_table",
                   "seeds_table", "table_html", "timeline", "state_figures", "fixed_point_figures",
                   "results_page")  # fmt: skip


def test_the_jobs_that_read_stored_results_import_no_torch():
    scripts = [PACKAGE.parents[1] / "scripts" / f"{name}.py" for name in READING_SCRIPTS]
    imports = imports_in(scripts, r"^(?:from rnn_dynamics\S* import .+|import \S+)$")
    assert any("tables" in line for line in imports), imports
    assert loaded_by(imports, {"torch"}) == [], imports
