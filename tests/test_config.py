"""The configuration: the schema as the one home of every default, and the settings types built from it."""

import ast
import dataclasses
from pathlib import Path

import pytest

from rnn_dynamics.data import datasets, synthetic
from rnn_dynamics.dynamics import analyses, context, fixed_points, similarity, states
from rnn_dynamics.ground import config
from rnn_dynamics.networks import imported, training

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rnn_dynamics"
SETTINGS = [
    training.Settings,
    fixed_points.SearchSettings,
    fixed_points.GatherSettings,
    analyses.Settings,
    datasets.PrepareSettings,
    states.Settings,
    synthetic.Settings,
    similarity.Settings,
    context.Settings,
    imported.Settings,
]
# The keys a settings type requires (no default in the schema), with example values.
REQUIRED = {
    imported.Settings: {
        "architecture": "gru",
        "layers": 1,
        "embedding": 16,
        "hidden": 8,
        "weights": "weights.pt",
        "vocabulary": "vocab.txt",
    }
}


def schema_defaults() -> dict[str, list]:
    """Every config key that has a default, with its defaults (one per section that holds the key)."""
    sections = [name for name, node in config.schema()["properties"].items() if "properties" in node]
    sections += [f"datasets.{kind}" for kind, node in config.schema()["$defs"].items() if "properties" in node]
    found: dict[str, list] = {}
    for section in sections:
        for key, value in config.defaults(section).items():
            found.setdefault(key, []).append(value)
    return found


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _same(value, default) -> bool:
    """Equal and of the same kind: True is not 1, 1.0 is 1."""
    if isinstance(value, bool) or isinstance(default, bool):
        return type(value) is type(default) and value == default
    return value is not _NOT_LITERAL and value == default


def _names_key(name: str, key: str) -> bool:
    """Whether a constant's name spells a config key among its words: ``APPROXIMATE_Q_TOL`` spells ``q_tol``."""
    words, key_words = name.lower().strip("_").split("_"), key.split("_")
    return any(words[i : i + len(key_words)] == key_words for i in range(len(words)))


def _called(call: ast.Call) -> str:
    """The name of the function a call calls (``find`` for ``solver.find(...)``)."""
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def package_functions() -> set[str]:
    """The names of the package's functions and classes (calls of other libraries' are not checked: their
    ``encoding="utf-8"`` is not the config's)."""
    return {
        node.name
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }


def copied_defaults(source: str, defaults: dict[str, list], functions: set[str]) -> list[tuple[int, str, object, str]]:
    """The places in ``source`` that write a literal copy of a config key's schema default: a function's default
    for a parameter named as the key, a keyword argument named as the key in a call of one of ``functions``,
    a module or class constant whose name spells the key, and a dict literal's entry under the key. Each as
    (line, key, value, what)."""
    found = []

    def check(where: str, key: str, node) -> None:
        value = _literal(node)
        if key in defaults and any(_same(value, default) for default in defaults[key]):
            found.append((node.lineno, key, value, f"{where} {key} = {ast.unparse(node)}"))

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            positional = node.args.posonlyargs + node.args.args
            pairs = list(zip(positional[len(positional) - len(node.args.defaults) :], node.args.defaults))
            pairs += [(arg, default) for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults) if default]
            for arg, default in pairs:
                check(f"the default of {getattr(node, 'name', 'lambda')}'s parameter", arg.arg, default)
        elif isinstance(node, ast.Call) and _called(node) in functions:
            for keyword in node.keywords:
                if keyword.arg:
                    check(f"the keyword argument of {ast.unparse(node.func)}", keyword.arg, keyword.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    check("the dict entry", key.value, value)
    for scope in [tree] + [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]:
        for statement in scope.body:
            if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
                continue
            for target in statement.targets if isinstance(statement, ast.Assign) else [statement.target]:
                if isinstance(target, ast.Name):
                    for key in defaults:
                        if _names_key(target.id, key):
                            check(f"the constant {target.id} for", key, statement.value)
    return sorted(found, key=lambda place: (place[0], place[1]))


def test_the_check_finds_every_kind_of_copy():
    """A default, a keyword argument, a constant, a class field and a dict entry that copy a schema default are
    found; other values (EXACT_Q_TOL, progress, threads = 3), names that are not keys (tolerance) and values that
    are not literals are not."""
    source = """
APPROXIMATE_Q_TOL = 1e-6
EXACT_Q_TOL = 1e-12
_DEFAULTS = {"unique_metric": "chebyshev", "q_tol": q_tol}
def find(system, max_iterations=200, tolerance=1e-6, *, bounded=True, progress=True):
    return solve(system, learning_rate=1e-2, seed=seed)
class Settings:
    epochs: int = 10
    threads: int = 3
"""
    found = [(line, key) for line, key, _, _ in copied_defaults(source, schema_defaults(), {"solve"})]
    assert found == [
        (2, "q_tol"),
        (4, "unique_metric"),
        (5, "bounded"),
        (5, "max_iterations"),
        (6, "learning_rate"),
        (8, "epochs"),
    ]


# Literals equal to a schema default that are not copies of it, each with the reason.
NOT_COPIES = {
    ("dynamics/solver.py", "method", "lm"): "polish always runs Levenberg-Marquardt: exact roots need its Newton steps",
    ("data/text.py", "min_count", 1): "Vocabulary's neutral default, keeping every word; prepare passes its own",
    ("data/text.py", "max_length", None): "encode's neutral default, no truncation; the states pass prepare's",
    ("networks/imported.py", "layer_dropout", 0.0): "an imported network is built to be evaluated, never trained: "
    "no dropout, whatever training.layer_dropout says",
    ("networks/model.py", "classes", 2): "a model is binary unless built for the prepared data's N classes (not the "
    "synthetic section's key of the same name)",
    ("data/download.py", "md5", None): "fetch checks an md5 only where given; GloVe and the sha256 kinds have none",
    ("data/download.py", "size", None): "fetch checks a size only where given; GloVe and the sha256 kinds have none",
}


def library_copies() -> dict[str, list[tuple[int, str, object, str]]]:
    defaults, functions = schema_defaults(), package_functions()
    return {
        str(path.relative_to(PACKAGE)): copied_defaults(path.read_text(), defaults, functions)
        for path in PACKAGE.rglob("*.py")
    }


def test_the_library_writes_no_schema_default_again():
    """Each default is written once, in the schema: the library takes it from there (a settings type) or asks
    for the value (a required argument)."""
    found = {
        (module, key, repr(value)): (line, what)
        for module, copies in library_copies().items()
        for line, key, value, what in copies
    }
    exceptions = {(module, key, repr(value)) for module, key, value in NOT_COPIES}
    assert {place: found[place] for place in found if place not in exceptions} == {}
    # Every exception is still there: one that is gone leaves the list.
    assert exceptions <= set(found)


def test_every_settings_type_is_tested_here():
    import importlib

    for path in PACKAGE.rglob("[!_]*.py"):
        importlib.import_module("rnn_dynamics." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    assert {cls for cls in config.Section.__subclasses__() if cls.__module__.startswith("rnn_dynamics")} == set(
        SETTINGS
    )


@pytest.mark.parametrize("settings_type", SETTINGS, ids=lambda settings_type: settings_type.__qualname__)
def test_a_settings_type_holds_keys_of_its_section_and_defaults_to_the_schema(settings_type):
    fields = [field.name for field in dataclasses.fields(settings_type)]
    assert set(fields) <= set(config.keys(settings_type.SECTION))
    required = REQUIRED.get(settings_type, {})
    defaults = config.defaults(settings_type.SECTION) | required
    assert dataclasses.asdict(settings_type(**required)) == {name: defaults[name] for name in fields}
    assert settings_type.from_config(required) == settings_type(**required)
    # Built from a whole section, it takes its own keys and leaves the others (another stage's) alone.
    assert settings_type.from_config(defaults) == settings_type(**required)


def test_from_config_names_an_unknown_key_and_params_leave_out_where_a_stage_runs():
    with pytest.raises(ValueError, match=r"fixed_points: unknown key\(s\) \['q_tolerance'\]"):
        fixed_points.SearchSettings.from_config({"q_tolerance": 1e-6})
    search = fixed_points.SearchSettings.from_config({"q_tol": 1e-8, "device": "cpu", "unique_tol": 0.1})
    assert (search.q_tol, search.device) == (1e-8, "cpu")
    assert "device" not in search.params() and search.params()["q_tol"] == 1e-8
    assert list(training.Settings().params())[-2:] == ["dropout", "layer_dropout"]


@pytest.mark.parametrize("settings_type", SETTINGS, ids=lambda settings_type: settings_type.__qualname__)
def test_a_job_rebuilds_its_settings_from_the_rules_params_and_where_it_runs(settings_type):
    """``from_params`` is the inverse of ``params()`` given the runtime fields: what a script builds from its
    rule's params is the settings the rule was planned with."""
    settings = settings_type(**REQUIRED.get(settings_type, {}))
    runtime = {
        field.name: getattr(settings, field.name)
        for field in dataclasses.fields(settings_type)
        if field.name not in settings.params()
    }
    assert settings_type.from_params(settings.params(), **runtime) == settings


def test_from_params_names_a_missing_or_foreign_key_and_a_missing_runtime_field():
    params = fixed_points.GatherSettings(q_tol=1e-8).params()
    assert fixed_points.GatherSettings.from_params(params).q_tol == 1e-8
    with pytest.raises(ValueError, match=r"missing \['q_tol'\], unexpected \['starts'\]"):
        fixed_points.GatherSettings.from_params({**{k: v for k, v in params.items() if k != "q_tol"}, "starts": 5})
    with pytest.raises(ValueError, match=r"runtime fields \['device'\]"):
        analyses.Settings.from_params(analyses.Settings().params())


def test_the_train_and_hidden_states_jobs_read_their_params_back():
    from rnn_dynamics.ground.grid import ModelSpec

    spec = ModelSpec("gru", 1, 8, 8, 0, batch_size=16)
    settings = training.Settings(epochs=2, device="cpu", threads=1)
    assert training.Settings.from_job(settings.params_for(spec), spec, "cpu", 1) == settings
    with pytest.raises(ValueError, match="batch_size 16 is not the model's"):
        training.Settings.from_job(settings.params_for(spec), ModelSpec("gru", 1, 8, 8, 0), "cpu", 1)
    section = {"sample_reviews": 10, "splits": ["test", "train"], "seed": 3}
    params = states.Settings.job_params(section, "train")
    assert list(params) == ["sample_reviews", "split", "seed"] and params["split"] == "train"
    assert states.Settings.from_job(params) == states.Settings(sample_reviews=10, splits=["train"], seed=3)


def test_a_settings_type_may_only_name_keys_of_its_section():
    with pytest.raises(TypeError, match="no key 'batch'"):

        @dataclasses.dataclass(frozen=True)
        class Wrong(config.Section, section="training"):
            batch: int


def test_a_mutable_default_is_not_shared():
    first, second = training.Settings(), training.Settings()
    assert (
        first.architecture_learning_rates == {}
        and first.architecture_learning_rates is not second.architecture_learning_rates
    )
