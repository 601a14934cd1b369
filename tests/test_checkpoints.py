"""Networks the pipeline did not train (models.import): the checks of a checkpoint against its declared sizes, the
classifier it becomes over a dataset's vocabulary, and an imported GRU through the tiny pipeline."""

import json
import random
import re

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from torch import nn

from rnn_dynamics.data import text
from rnn_dynamics.ground.grid import MODEL_ID_PATTERN, ModelSpec
from rnn_dynamics.networks import imported, model

VOCABULARY = ["<pad>", "<unk>", "good", "bad", "the", "film", "was"]


class UserNet(nn.Module):
    """A network as a user writes it: torch's own embedding, recurrent module and readout."""

    def __init__(self, cell=nn.GRU, vocab=len(VOCABULARY), embedding=4, hidden=5, layers=2, outputs=1, bias=True):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.rnn = cell(embedding, hidden, num_layers=layers, batch_first=True, bias=bias)
        self.readout = nn.Linear(hidden, outputs)

    def forward(self, tokens):
        states, _ = self.rnn(self.embedding(tokens))
        return self.readout(states[:, -1])


def saved(tmp_path, net, tokens=VOCABULARY, **declared):
    """Settings of ``net`` saved as a state dict with ``tokens`` as its vocabulary; ``declared`` overrides the
    sizes the entry declares (by default ``net``'s own)."""
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    (tmp_path / "vocab.txt").write_text("".join(f"{token}\n" for token in tokens))
    sizes = {
        "architecture": {nn.GRU: "gru", nn.LSTM: "lstm", nn.RNN: "vanilla"}[type(net.rnn)],
        "layers": net.rnn.num_layers,
        "embedding": net.rnn.input_size,
        "hidden": net.rnn.hidden_size,
    }
    return imported.Settings(
        **{**sizes, **declared}, weights=str(tmp_path / "weights.pt"), vocabulary=str(tmp_path / "vocab.txt")
    )


def test_an_imported_id_names_its_sizes_and_reads_back():
    spec = imported.Settings(
        architecture="lstm", layers=2, embedding=50, hidden=64, weights="w.pt", vocabulary="v.txt", seed=3
    ).spec("mine")
    assert spec.id == "lstm-L2-E50-H64-Imine-s3"
    assert ModelSpec.parse(spec.id) == spec
    assert spec.systems("per_layer") == ["layer1", "layer2"]
    assert re.fullmatch(MODEL_ID_PATTERN, spec.id)
    with pytest.raises(ValueError, match="lower-case letters and digits"):
        ModelSpec("gru", 1, 4, 5, 0, imported="My-net")


@pytest.mark.parametrize("cell", [nn.GRU, nn.LSTM, nn.RNN])
@pytest.mark.parametrize("outputs", [1, 2])
def test_the_classifier_gives_the_user_networks_logits_on_the_datasets_tokens(tmp_path, cell, outputs):
    torch.manual_seed(0)
    net = UserNet(cell, outputs=outputs).eval()
    checkpoint = imported.load(saved(tmp_path, net), "mine")
    # The dataset's vocabulary orders the words otherwise, and has one the checkpoint lacks.
    dataset = ["<pad>", "<unk>", "the", "film", "was", "good", "awful"]
    classifier, mapped = imported.classifier(checkpoint, dataset, 2, "reviews")
    assert mapped.tolist() == [0, 1, 4, 5, 6, 2, 1]
    ours = torch.tensor([[2, 3, 4, 5], [2, 3, 4, 6]])  # "the film was good", "the film was awful"
    theirs = torch.tensor([[4, 5, 6, 2], [4, 5, 6, 1]])
    with torch.no_grad():
        logits = net(theirs)
        expected = logits[:, 0] if outputs == 1 else logits[:, 1] - logits[:, 0]
        got = classifier(ours, torch.tensor([4, 4]))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_a_network_without_recurrent_biases_reads_them_as_zero(tmp_path):
    torch.manual_seed(1)
    net = UserNet(nn.RNN, layers=1, bias=False).eval()
    checkpoint = imported.load(saved(tmp_path, net), "mine")
    assert torch.equal(checkpoint.recurrent["bias_hh_l0"], torch.zeros(5))
    classifier, _ = imported.classifier(checkpoint, VOCABULARY, 2, "reviews")
    tokens = torch.tensor([[2, 4, 3]])
    with torch.no_grad():
        torch.testing.assert_close(classifier(tokens, torch.tensor([3])), net(tokens)[:, 0])


@pytest.mark.parametrize(
    "declared, named",
    [
        ({"hidden": 6}, r"key 'rnn\.weight_ih_l0' has shape \(15, 4\).*hidden 6, which needs \(18, 4\)"),
        ({"embedding": 3}, r"key 'rnn\.weight_ih_l0' has shape \(15, 4\).*which needs \(15, 3\)"),
        ({"architecture": "lstm"}, r"key 'rnn\.weight_ih_l0' has shape \(15, 4\).*lstm \(LSTM\).*needs \(20, 4\)"),
        ({"layers": 3}, r"no key 'rnn\.weight_ih_l2' \(shape \(15, 5\)\)"),
        ({"layers": 1}, r"unexpected key 'rnn\.bias_hh_l1' \(shape \(15,\)\)"),
        ({"recurrent_key": "gru"}, r"no key 'gru\.weight_ih_l0' \(shape \(15, 4\)\).*the file's keys"),
    ],
)
def test_a_checkpoint_of_other_sizes_is_stopped_naming_the_key_and_both_shapes(tmp_path, declared, named):
    settings = saved(tmp_path, UserNet(), **declared)
    with pytest.raises(imported.CheckpointMismatch, match=named) as error:
        imported.load(settings, "mine")
    assert str(tmp_path / "weights.pt") in str(error.value)


def test_a_vocabulary_of_another_size_is_caught(tmp_path):
    settings = saved(tmp_path, UserNet(), tokens=VOCABULARY[:-1])
    with pytest.raises(imported.CheckpointMismatch, match=r"vocab\.txt: 6 tokens, but the embedding 'embedding\.weight'"
                       r".* has shape \(7, 4\): 7 rows"):  # fmt: skip
        imported.load(settings, "mine")


def test_a_vocabulary_without_its_unknown_token_is_named_and_null_reads_zeros(tmp_path):
    tokens = ["<pad>", "UNK", *VOCABULARY[2:]]
    settings = saved(tmp_path, UserNet(), tokens=tokens)
    with pytest.raises(imported.CheckpointMismatch, match=r"no token '<unk>' \(models\.import\.mine\.unk\).*null"):
        imported.load(settings, "mine")
    named = imported.load(saved(tmp_path, UserNet(), tokens=tokens, unk="UNK"), "mine")
    assert named.unk == 1
    without = imported.load(saved(tmp_path, UserNet(), tokens=tokens, unk=None), "mine")
    classifier, mapped = imported.classifier(without, ["<pad>", "<unk>", "good", "awful"], 2, "reviews")
    assert mapped.tolist()[1:] == [-1, 2, -1]
    assert not classifier.embedding.weight[[1, 3]].any()


def test_a_vocabulary_file_is_one_token_a_line_or_prepares_parquet(tmp_path, prepared_synthetic):
    (tmp_path / "repeat.txt").write_text("<pad>\n<unk>\ngood\ngood\n")
    with pytest.raises(imported.CheckpointMismatch, match=r"repeat\.txt: token 'good' on line 4 repeats line 3"):
        imported.read_tokens(tmp_path / "repeat.txt")
    (tmp_path / "empty.txt").write_text("<pad>\n\ngood\n")
    with pytest.raises(imported.CheckpointMismatch, match=r"empty\.txt: line 2 is empty"):
        imported.read_tokens(tmp_path / "empty.txt")
    vocab = prepared_synthetic / "vocab.parquet"
    assert imported.read_tokens(vocab) == text.read_vocabulary(vocab).tokens


def test_a_readout_for_other_classes_is_named_with_the_datasets_classes(tmp_path):
    checkpoint = imported.load(saved(tmp_path, UserNet(outputs=3)), "mine")
    with pytest.raises(imported.CheckpointMismatch, match=r"shape \(3, 5\), but the dataset news has 4 classes"):
        imported.classifier(checkpoint, VOCABULARY, 4, "news")
    classifier, _ = imported.classifier(checkpoint, VOCABULARY, 3, "news")
    assert classifier.classes == 3


def test_a_file_that_is_not_a_state_dict_is_named(tmp_path):
    settings = saved(tmp_path, UserNet())
    torch.save({"state": UserNet().state_dict(), "epoch": 3}, settings.weights)
    with pytest.raises(imported.CheckpointMismatch, match=r"weights\.pt: not a state dict"):
        imported.load(settings, "mine")


def test_a_mismatched_checkpoint_stops_the_run_before_any_job(tmp_path):
    from pipeline import CONFIG, copy_workflow, snakemake

    directory = copy_workflow(tmp_path / "workflow")
    saved(tmp_path, UserNet(vocab=5, embedding=16, hidden=8, layers=1), tokens=VOCABULARY[:5])
    entry = {"architecture": "gru", "layers": 1, "embedding": 16, "hidden": 9}
    entry |= {"weights": str(tmp_path / "weights.pt"), "vocabulary": str(tmp_path / "vocab.txt")}
    (directory / "imported.yaml").write_text(yaml.safe_dump({"models": {"import": {"mine": entry}}}))
    result = snakemake(directory, "-n", *CONFIG, "imported.yaml", timeout=300)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "key 'rnn.weight_ih_l0' has shape (24, 16)" in out and "needs (27, 16)" in out, out


@pytest.mark.slow
def test_an_imported_gru_runs_through_the_pipeline(tmp_path, trained_synthetic_model, prepared_synthetic_large):
    """A GRU trained elsewhere (the session's, copied into torch's own modules and saved as their state dict, its
    vocabulary shuffled into a text file) is imported on the tiny pipeline's dataset, prepared anew, and keeps
    its accuracy there: the tokens are mapped by their text, and every stage after training runs on it, to the
    analyses and the figures (the tables and the page read those as they read a trained model's)."""
    from pipeline import CONFIG, copy_workflow, snakemake

    ours = model.load(trained_synthetic_model)
    tokens = text.read_vocabulary(prepared_synthetic_large / "vocab.parquet").tokens
    order = list(range(len(tokens)))
    random.Random(0).shuffle(order)
    net = UserNet(vocab=len(tokens), embedding=16, hidden=32, layers=1)
    with torch.no_grad():
        net.embedding.weight.copy_(ours.embedding.weight[order])
        net.rnn.load_state_dict(ours.recurrent.state_dict())
        net.readout.load_state_dict(ours.readout.state_dict())
    settings = saved(tmp_path, net, tokens=[tokens[i] for i in order])
    entry = {key: getattr(settings, key) for key in ("architecture", "layers", "embedding", "hidden", "weights")}
    entry["vocabulary"] = settings.vocabulary
    directory = copy_workflow(tmp_path / "workflow")
    (directory / "imported.yaml").write_text(
        yaml.safe_dump({"models": {"architectures": [], "import": {"elsewhere": entry}}})
    )
    until = ["--until", "analyze", "state_figures", "fixed_point_figures"]
    result = snakemake(directory, "--cores", "2", *CONFIG, "imported.yaml", *until)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]

    root = directory / "results/synthetic"
    model_id = "gru-L1-E16-H32-Ielsewhere-s0"
    assert sorted(path.name for path in (root / "models").iterdir()) == [model_id]
    metrics = json.loads((root / f"models/{model_id}/metrics.json").read_text())
    trained = json.loads((trained_synthetic_model.parent / "metrics.json").read_text())
    assert metrics["test_vocabulary_coverage"] > 0.99
    assert metrics["test_accuracy"] > trained["test_accuracy"] - 0.05 > 0.85
    assert not (root / "embeddings").exists()  # an imported network reads its own vectors
    assert (root / f"states/{model_id}/layer1.parquet").exists()
    fixed_points = pq.read_table(root / f"fixed_points/{model_id}/layer1.parquet")
    assert fixed_points.num_rows > 0
    assert (root / f"linearization/{model_id}/layer1.parquet").exists()
    assert (root / f"figures/{model_id}/line.png").exists()
    assert json.loads((root / f"analyses/{model_id}/layer1/summary.json").read_text())
    assert (root / f"figures/{model_id}/pca_trajectories.png").exists()


def test_an_imported_network_is_planned_on_a_users_table(tmp_path):
    """kind: table is a dataset like any other for an imported network: its import_model job and the stages after
    it are planned, with no training and no embeddings."""
    from pipeline import CONFIG, copy_workflow, snakemake

    directory = copy_workflow(tmp_path / "workflow")
    settings = saved(tmp_path, UserNet(embedding=16, hidden=8, layers=1))
    rows = [f"the film was {'good' if i % 2 else 'bad'}\t{i % 2}" for i in range(40)]
    (tmp_path / "reviews.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    entry = {key: getattr(settings, key) for key in ("architecture", "layers", "embedding", "hidden", "weights")}
    entry["vocabulary"] = settings.vocabulary
    table = {"kind": "table", "path": str(tmp_path / "reviews.tsv"), "text_column": "text", "label_column": "label"}
    config = {"run_datasets": ["mine"], "datasets": {"mine": table}}
    config["models"] = {"architectures": [], "import": {"user": entry}}
    (directory / "imported.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(directory, "-n", "--quiet", "rules", *CONFIG, "imported.yaml", timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    jobs = {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if len(line.split()) == 2
            and line.split()[1].isdigit()}  # fmt: skip
    assert jobs["import_model"] == 1 and jobs["hidden_states"] == 1 and jobs["linearize"] == 1
    assert "train" not in jobs and "embeddings" not in jobs
