"""Storage (``ground.storage``): atomic writes, reads checked against a schema, job locks and a full disk."""

import os
import stat

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import fill, small_disk
from rnn_dynamics.ground import storage

SCHEMA = {"id": pa.string(), "q": pa.float64(), "h": None}


def table():
    return pa.table({"id": ["a", "b", "c"], "q": [1e-7, 2e-3, 0.5], "h": storage.list_column(np.eye(3))})


def test_an_atomic_write_appears_only_when_complete(tmp_path):
    path = tmp_path / "deep" / "out.txt"
    with storage.atomic_path(path) as tmp:
        tmp.write_text("first")
        assert tmp.parent == path.parent and not path.exists()  # beside its destination, renamed at the end
    assert path.read_text() == "first"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # the permissions a plain open() gives
    with pytest.raises(KeyError):
        with storage.atomic_path(path) as tmp:
            tmp.write_text("half of the second")
            raise KeyError("the writer fails")
    assert path.read_text() == "first" and list(path.parent.iterdir()) == [path]  # kept, no partial file left


def test_a_table_and_json_come_back_as_written(tmp_path):
    storage.write_table(table(), tmp_path / "t.parquet")
    back = storage.read_table(tmp_path / "t.parquet", SCHEMA)
    assert back.equals(table())
    np.testing.assert_array_equal(storage.list_matrix(back["h"]), np.eye(3))
    assert storage.list_matrix(storage.list_column(np.arange(12.0).reshape(2, 3, 2)), 3, 2).shape == (2, 3, 2)
    storage.write_json({"b": 1, "a": [1.5, None]}, tmp_path / "m.json")
    assert storage.read_json(tmp_path / "m.json") == {"a": [1.5, None], "b": 1}
    np.save(tmp_path / "x.npy", np.arange(4))
    np.testing.assert_array_equal(storage.read_array(tmp_path / "x.npy"), np.arange(4))


def test_a_table_without_the_expected_columns_is_named_with_the_rule_that_makes_it(tmp_path):
    path = tmp_path / "results/toy/fixed_points/gru-L1-E8-H8-s0/layer1.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table().drop(["q"]), path)
    with pytest.raises(storage.SchemaError, match=r"layer1.parquet: missing column 'q'.*rule `gather_fixed_points`"):
        storage.read_table(path, SCHEMA)
    pq.write_table(table().set_column(1, "q", pa.array(["x", "y", "z"])), path)
    with pytest.raises(storage.SchemaError, match=r"column 'q' has type string, expected double"):
        storage.read_table(path, SCHEMA)


def test_a_damaged_file_is_unreadable_with_the_forcerun_target_that_makes_it_again(tmp_path):
    path = tmp_path / "results/toy/models/gru-L1-E8-H8-s0/metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(storage.UnreadableFile) as error:
        storage.read_json(path)
    message = str(error.value)
    assert message.startswith(f"{path}: unreadable (JSONDecodeError")
    assert "--forcerun results/toy/models/gru-L1-E8-H8-s0/metrics.json" in message and "`train`" in message
    garbage = tmp_path / "elsewhere.parquet"
    garbage.write_bytes(b"PAR1 and then nothing")
    with pytest.raises(storage.UnreadableFile, match="elsewhere.parquet: unreadable"):
        storage.read_table(garbage, SCHEMA)
    with pytest.raises(FileNotFoundError):  # a missing file is not a damaged one
        storage.read_json(tmp_path / "absent.json")
    # A checkpoint is made again through its model; a file of a directory() output through its folder.
    assert storage.forcerun_target("results/d/models/m/checkpoint.pt") == "results/d/models/m/model.pt"
    assert storage.forcerun_target("results/d/states/m/layer2.parquet") == "results/d/states/m"
    assert storage.producing_rule("notes/my.csv") is None and storage.remake_hint("notes/my.csv") == ""


def test_a_torch_file_is_read_without_running_code_and_must_hold_the_keys_asked(tmp_path):
    import torch

    torch.save({"state": torch.zeros(2), "epoch": 3}, tmp_path / "c.pt")
    assert storage.read_torch(tmp_path / "c.pt", {"state", "epoch"})["epoch"] == 3
    with pytest.raises(storage.UnreadableFile, match=r"expected a dict with keys \['optimizer'\]"):
        storage.read_torch(tmp_path / "c.pt", {"optimizer"})
    torch.save({"fn": os.getcwd}, tmp_path / "code.pt")
    with pytest.raises(storage.UnreadableFile, match="not a torch.save file of tensors and plain values"):
        storage.read_torch(tmp_path / "code.pt")


def test_a_lock_held_refuses_a_second_holder_and_ends_with_its_block(tmp_path):
    lock = tmp_path / "models/m/.lock"
    with storage.exclusive_lock(lock, "model m"):
        assert f"process {os.getpid()}" in lock.read_text()
        # flock's lock belongs to the open file: a second open, even in this process, is refused.
        with pytest.raises(RuntimeError, match=r"model m is already being written by process \d+ on .*\.lock"):
            with storage.exclusive_lock(lock, "model m"):
                pass
    with storage.exclusive_lock(lock, "model m"):
        pass


def test_a_write_to_a_full_disk_says_no_space_left_and_keeps_the_earlier_file(tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        path = disk / "t.parquet"
        storage.write_table(table(), path)
        fill(disk)
        with pytest.raises(storage.NoSpaceLeft) as error:
            storage.write_table(pa.table({"x": np.arange(100_000)}), path)
        assert "t.parquet: no space left on device" in str(error.value) and error.value.errno
        assert storage.read_table(path, SCHEMA).equals(table())
        assert sorted(p.name for p in disk.iterdir()) == ["ballast", "t.parquet"]  # no partial file
