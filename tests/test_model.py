"""The classifier: shapes, masking, per-layer states and systems from the same weights, save/load."""

import numpy as np
import pytest
import torch

from helpers import token_batch
from rnn_dynamics.ground.grid import ModelSpec
from rnn_dynamics.networks import model as model_lib

VOCAB = 30


def make(layers=2, **kwargs):
    torch.manual_seed(0)
    kwargs = {"dropout": 0.0, "layer_dropout": 0.0, **kwargs}
    return model_lib.SentimentClassifier(ModelSpec("gru", layers, 6, 8, 0), VOCAB, **kwargs).eval()


def test_shapes_of_logits_and_layer_states():
    net = make(layers=3)
    tokens, lengths = token_batch(VOCAB)
    assert net(tokens, lengths).shape == (3,)
    with torch.no_grad():
        states = net.layer_states(tokens, lengths)
    assert [s.shape for s in states] == [(3, 9, 8)] * 3
    w, b = net.readout_weights()
    assert w.shape == (8,) and isinstance(b, float)


def test_padding_after_a_review_changes_nothing():
    net = make()
    tokens, lengths = token_batch(VOCAB)
    other = tokens.clone()
    for i, n in enumerate(lengths):
        other[i, n:] = torch.randint(2, VOCAB, (9 - int(n),))
    longer = torch.cat([tokens, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        logits = net(tokens, lengths)
        torch.testing.assert_close(net(other, lengths), logits)
        torch.testing.assert_close(net(longer, lengths), logits)
        # A review alone, unpadded, gets the logit it gets in the padded batch.
        alone = net(tokens[1:2, :3], lengths[1:2])
        torch.testing.assert_close(alone, logits[1:2])
        for state, other_state in zip(net.layer_states(tokens, lengths), net.layer_states(other, lengths)):
            for i, n in enumerate(lengths):
                torch.testing.assert_close(state[i, :n], other_state[i, :n])


def test_top_layer_state_at_the_last_token_gives_the_logit():
    net = make()
    tokens, lengths = token_batch(VOCAB)
    with torch.no_grad():
        top = net.layer_states(tokens, lengths)[-1]
        w, b = net.readout_weights()
        last = top[torch.arange(3), lengths - 1]
        torch.testing.assert_close(last @ w + b, net(tokens, lengths))


@pytest.mark.parametrize("layer", [1, 2, 3])
def test_layer_system_reproduces_layer_states_step_by_step(layer):
    net = make(layers=3)
    tokens, lengths = token_batch(VOCAB)
    with torch.no_grad():
        states = [s.double() for s in net.layer_states(tokens, lengths)]
        inputs = net.embedding(tokens).double() if layer == 1 else states[layer - 2]
        system = net.system(f"layer{layer}")
        assert (system.state_size, system.input_size) == (8, 6 if layer == 1 else 8)
        h = torch.zeros(3, system.state_size, dtype=torch.float64)
        for t in range(tokens.shape[1]):
            h = system.step(h, inputs[:, t])
            assert h.dtype == torch.float64
            torch.testing.assert_close(h, states[layer - 1][:, t], atol=1e-5, rtol=0)


def test_stack_system_reproduces_all_layers_jointly():
    net = make(layers=3)
    tokens, lengths = token_batch(VOCAB)
    with torch.no_grad():
        expected = torch.cat(net.layer_states(tokens, lengths), dim=-1).double()
        embedded = net.embedding(tokens).double()
        system = net.system("stack")
        assert (system.state_size, system.input_size) == (24, 6)
        h = torch.zeros(3, 24, dtype=torch.float64)
        for t in range(tokens.shape[1]):
            h = system.step(h, embedded[:, t])
            torch.testing.assert_close(h, expected[:, t], atol=1e-5, rtol=0)
        torch.testing.assert_close(system.readout(h), expected[:, -1, 16:])


def test_unknown_system_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"'layer3'.*layer1.*stack"):
        make(layers=2).system("layer3")


def test_embedding_starts_from_the_given_matrix_and_trains():
    matrix = np.arange(VOCAB * 6, dtype=np.float32).reshape(VOCAB, 6)
    net = make(embeddings=matrix)
    np.testing.assert_array_equal(net.embedding.weight.detach().numpy(), matrix)
    assert net.embedding.weight.requires_grad
    with pytest.raises(ValueError, match=r"\(30, 6\)"):
        make(embeddings=matrix[:, :5])


def test_save_and_load_round_trip(tmp_path):
    net = make(layers=2, dropout=0.3, layer_dropout=0.1)
    model_lib.save(net, tmp_path / "m.pt", epoch=4)
    state = torch.get_rng_state()
    loaded = model_lib.load(tmp_path / "m.pt")
    assert torch.equal(torch.get_rng_state(), state)
    assert loaded.spec == net.spec and loaded.vocab_size == VOCAB and not loaded.training
    assert (loaded.dropout_rate, loaded.layer_dropout) == (0.3, 0.1)
    tokens, lengths = token_batch(VOCAB)
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens, lengths), net(tokens, lengths))
    assert torch.load(tmp_path / "m.pt", weights_only=True)["extra"] == {"epoch": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_load_names_a_file_that_is_not_a_model(tmp_path):
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt"):
        model_lib.load(tmp_path / "other.pt")


def test_importing_the_model_turns_cudnn_tf32_off():
    """Every stage that runs a network imports rnn_dynamics.networks.model, which sets cuDNN's TF32 off (torch
    allows it by default): states and analyses are IEEE float32 on every device."""
    import subprocess
    import sys

    code = (
        "import torch; before = torch.backends.cudnn.allow_tf32; import rnn_dynamics.networks.model; "
        "print(before, torch.backends.cudnn.allow_tf32)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]
