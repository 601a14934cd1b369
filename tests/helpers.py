"""Small inputs shared by the tests."""

import torch


def token_batch(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch of three reviews of random token ids (2 .. vocab_size - 1), 7, 3 and 5 tokens long:
    tokens (3, 9), zeros after each review's end, and lengths (3,)."""
    lengths = torch.tensor([7, 3, 5])
    tokens = torch.zeros(3, 9, dtype=torch.long)
    generator = torch.Generator().manual_seed(1)
    for i, n in enumerate(lengths):
        tokens[i, :n] = torch.randint(2, vocab_size, (int(n),), generator=generator)
    return tokens, lengths
