"""Small inputs shared by the tests."""

import torch

from rnn_dynamics import cells, scan


def token_batch(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch of three reviews of random token ids (2 .. vocab_size - 1), 7, 3 and 5 tokens long:
    tokens (3, 9), zeros after each review's end, and lengths (3,)."""
    lengths = torch.tensor([7, 3, 5])
    tokens = torch.zeros(3, 9, dtype=torch.long)
    generator = torch.Generator().manual_seed(1)
    for i, n in enumerate(lengths):
        tokens[i, :n] = torch.randint(2, vocab_size, (int(n),), generator=generator)
    return tokens, lengths


def float64_layer(architecture: str, input_size: int, hidden: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """One layer's parameters (float64) of a freshly initialised module, with larger recurrent weights
    so that the gates do not sit in their linear range."""
    torch.manual_seed(seed)
    module = scan.recurrent_module(cells.get(architecture))(input_size, hidden, batch_first=True).double()
    params = {name: value.detach().clone() for name, value in cells.layer_parameters(module, 0).items()}
    params["weight_hh"] *= 3
    return params
