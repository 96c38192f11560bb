"""skmm.training.data: TensorDict, the loaders, the splits."""

import pickle

import pytest
import torch

from skmm.training import (
    ClassBalancedLoader,
    ClassBalancedWorkerLoader,
    FixedSplit,
    RandomSplit,
    SliceLoader,
    TensorDict,
    WorkerLoader,
)


def test_tensordict_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="different lengths"):
        TensorDict({"a": torch.zeros(3), "b": torch.zeros(4)})


def test_tensordict_indexes_rows():
    ds = TensorDict({"a": torch.arange(6), "b": torch.arange(12).reshape(6, 2)})
    assert len(ds) == 6 and not ds.lazy
    assert ds[2]["a"] == 2 and torch.equal(ds[2]["b"], torch.tensor([4, 5]))
    assert torch.equal(ds.take(torch.tensor([5, 0])).tensors["a"], torch.tensor([5, 0]))


def test_slice_loader_covers_every_row_once_and_is_seeded():
    ds = TensorDict({"i": torch.arange(10)})
    batches = [b["i"] for b, _ in SliceLoader(ds, batch_size=4)]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat(batches), torch.arange(10))

    def order(seed):
        loader = SliceLoader(ds, batch_size=4, shuffle=True,
                             generator=torch.Generator().manual_seed(seed))
        return torch.cat([b["i"] for b, _ in loader])

    assert torch.equal(order(1), order(1))
    assert not torch.equal(order(1), order(2))
    assert sorted(order(1).tolist()) == list(range(10))


def test_slice_loader_never_yields_a_training_batch_of_one():
    ds = TensorDict({"i": torch.arange(9)})
    sizes = [len(b["i"]) for b, _ in SliceLoader(ds, batch_size=4, shuffle=True)]
    assert 1 not in sizes and sum(sizes) == 8


def test_slice_loader_shards_batches_between_processes():
    ds = TensorDict({"i": torch.arange(20)})
    shares = []
    for rank in range(2):
        loader = SliceLoader(ds, batch_size=4, shuffle=True,
                             generator=torch.Generator().manual_seed(0))
        loader.shard = (rank, 2)
        shares.append(torch.cat([b["i"] for b, _ in loader]))
        assert len(loader) == 2
    assert not set(shares[0].tolist()) & set(shares[1].tolist())


def test_class_balanced_loader_unshuffled_is_a_slice_loader():
    ds = TensorDict({"i": torch.arange(10), "y": torch.arange(10) % 3})
    plain = [b["i"] for b, _ in SliceLoader(ds, batch_size=4)]
    balanced = [b["i"] for b, _ in ClassBalancedLoader(ds, batch_size=4, shuffle=False)]
    assert all(torch.equal(a, b) for a, b in zip(plain, balanced, strict=True))


def test_class_balanced_worker_loader_gives_the_in_process_batches():
    ds = TensorDict({"i": torch.arange(30), "y": torch.arange(30) % 4})

    def batches(cls, **kwargs):
        loader = cls(ds, batch_size=8, items_per_class=3,
                     generator=torch.Generator().manual_seed(3), **kwargs)
        return [b["i"] for b, _ in loader]

    in_process = batches(ClassBalancedLoader)
    workers = batches(ClassBalancedWorkerLoader, num_workers=0)
    assert issubclass(ClassBalancedWorkerLoader, WorkerLoader)
    assert all(torch.equal(a, b) for a, b in zip(in_process, workers, strict=True))
    assert sorted(torch.cat(in_process).tolist()) == list(range(30))


def test_random_split_partitions_rows():
    ds = TensorDict({"i": torch.arange(20)})
    train, valid = RandomSplit(0.25, seed=0)(ds)
    assert len(valid) == 5 and len(train) == 15
    assert sorted(torch.cat([train.tensors["i"], valid.tensors["i"]]).tolist()) == list(range(20))
    with pytest.raises(ValueError, match="validation_fraction"):
        RandomSplit(0.001)(ds)


def test_splits_are_seeded_and_picklable():
    ds = TensorDict({"i": torch.arange(20)})
    split = pickle.loads(pickle.dumps(RandomSplit(0.25, seed=4)))
    assert torch.equal(split(ds)[1].tensors["i"], RandomSplit(0.25, seed=4)(ds)[1].tensors["i"])
    fixed = pickle.loads(pickle.dumps(FixedSplit(torch.arange(5), torch.arange(5, 8))))
    train, valid = fixed(ds)
    assert train.tensors["i"].tolist() == [0, 1, 2, 3, 4]
    assert valid.tensors["i"].tolist() == [5, 6, 7]


def test_prepared_data_maps_unseen_tokens_to_unk():
    from skmm.training import PreparedData

    tokens = torch.tensor([[3, 5, 6], [7, 0, 0]])
    data = PreparedData({"tokens": tokens, "lengths": torch.tensor([3, 1])},
                        {"tokens": (5, torch.zeros(3, 2))})
    assert dict(data).keys() == {"tokens", "lengths"} and len(TensorDict(data)) == 2
    known = data.known_tokens()
    assert type(known) is dict
    assert known["tokens"].tolist() == [[3, 1, 1], [1, 0, 0]]
    assert data["tokens"].tolist() == [[3, 5, 6], [7, 0, 0]]  # not changed in place
    assert PreparedData({"x": tokens}).known_tokens()["x"] is tokens
