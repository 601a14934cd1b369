"""Small inputs shared by the tests, and a disk that fills up."""

import contextlib
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_dynamics.data import batches
from rnn_dynamics.networks import cells, scan


def token_batch(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch of three reviews of random token ids (2 .. vocab_size - 1), 7, 3 and 5 tokens long:
    tokens (3, 9), zeros after each review's end, and lengths (3,)."""
    lengths = torch.tensor([7, 3, 5])
    tokens = torch.zeros(3, 9, dtype=torch.long)
    generator = torch.Generator().manual_seed(1)
    for i, n in enumerate(lengths):
        tokens[i, :n] = torch.randint(2, vocab_size, (int(n),), generator=generator)
    return tokens, lengths


def random_reviews(rng: np.random.Generator, classes: int = 2, count: int = 20) -> batches.Reviews:
    """``count`` reviews of 3-7 random tokens of a 12-token vocabulary (ids 2-11), labelled 0, 1, ... in turn."""
    lengths = rng.integers(3, 8, count)
    tokens = rng.integers(2, 12, lengths.sum())
    return batches.Reviews(tokens, np.concatenate([[0], np.cumsum(lengths)]), np.arange(count) % classes * 1.0)


def float64_layer(architecture: str, input_size: int, hidden: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """One layer's parameters (float64) of a freshly initialised module, with larger recurrent weights
    so that the gates do not sit in their linear range."""
    torch.manual_seed(seed)
    module = scan.recurrent_module(cells.get(architecture))(input_size, hidden, batch_first=True).double()
    params = {name: value.detach().clone() for name, value in cells.layer_parameters(module, 0).items()}
    params["weight_hh"] *= 3
    return params


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "8m"):
    """``folder`` as a fresh tmpfs of ``size`` (mount's notation), a real disk that fills up, for the block.

    Mounting needs root (as CI runs); elsewhere the test is skipped, saying so.
    """
    folder.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    result = mount and subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if not result or result.returncode != 0:
        reason = result.stderr.strip() if result else "no mount command"
        pytest.skip(f"a full disk is a small tmpfs, and mounting one needs root ({reason})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """Fill the disk holding ``folder`` to its last byte with a file ``folder/ballast`` (returned)."""
    ballast = folder / "ballast"
    with open(ballast, "ab", buffering=0) as stream:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    stream.write(b"\0" * chunk)
            except OSError:
                pass
    assert shutil.disk_usage(folder).free == 0
    return ballast


def write_tar(path, members):
    """A gzipped tar at ``path`` of ``members`` (name -> text); returns ``path``."""
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
