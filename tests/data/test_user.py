"""A user's own mesh files as a dataset: held-out test split (seeded fraction or a second
folder), node-count resolutions, the problem they solve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gnnops.data import open_dataset
from gnnops.data.user import split_files
from gnnops.errors import DataError


def _names(ds, split: str) -> list[str]:
    return [Path(s["file"]).name for s in ds.samples(split)]


def test_seeded_fraction_holds_out_the_same_files(darcy_user_meshes) -> None:
    ds = open_dataset(darcy_user_meshes.train, test_fraction=0.25, seed=3, problem="darcy")
    assert ds.splits == ["train", "test"] and ds.problem == "darcy"
    assert ds.manifest["splits"]["train"]["count"] == 9
    assert ds.manifest["splits"]["test"]["count"] == 3
    test = _names(ds, "test")
    assert not set(test) & set(_names(ds, "train"))
    # the held-out files are the first 3 of the seeded permutation of the sorted files
    files = sorted(p.name for p in darcy_user_meshes.train.iterdir())
    want = sorted(files[i] for i in np.random.default_rng(3).permutation(12)[:3])
    assert sorted(test) == want
    again = open_dataset(darcy_user_meshes.train, test_fraction=0.25, seed=3)
    assert _names(again, "test") == test and again.problem is None
    other = open_dataset(darcy_user_meshes.train, test_fraction=0.25, seed=4)
    assert _names(other, "test") != test
    graphs = ds.load("test", inputs=["a", "f"], targets=["u"])
    assert len(graphs) == 3 and all(g.x.shape[1] == 2 for g in graphs)


def test_test_path_is_the_test_split(darcy_user_meshes) -> None:
    ds = open_dataset(str(darcy_user_meshes.train / "*.vt*"), test_path=darcy_user_meshes.held,
                      test_fraction=0.5)  # the fraction is not used with a test path
    assert ds.splits == ["train", "test"]
    assert ds.manifest["splits"]["train"] == {"resolution": None, "resolutions": [0],
                                              "count": 12}
    assert ds.manifest["splits"]["test"] == {"resolution": None, "resolutions": [1],
                                             "count": 3}
    assert all(ds.path(s).parent == darcy_user_meshes.held for s in ds.samples("test"))
    assert ds.resolutions[0] < ds.resolutions[1]  # node counts, ascending
    assert all(g.num_nodes == ds.resolutions[1] for g in ds.load("test", targets=["u"]))
    with pytest.raises(DataError, match="apart from the training files"):
        open_dataset(darcy_user_meshes.train, test_path=darcy_user_meshes.train / "case_00.vtu")


def test_without_a_test_share_everything_is_all(darcy_user_meshes) -> None:
    ds = open_dataset(darcy_user_meshes.train)
    assert ds.splits == ["all"] and ds.manifest["splits"]["all"]["count"] == 12


def test_generated_datasets_keep_their_own_splits(darcy_user_meshes) -> None:
    ds = open_dataset(darcy_user_meshes.dataset, test_fraction=0.5, seed=1, problem="darcy")
    assert ds.splits == ["train", "test"] and ds.generated  # the fraction is not applied
    with pytest.raises(DataError, match="own test splits"):
        open_dataset(darcy_user_meshes.dataset, test_path=darcy_user_meshes.held)
    with pytest.raises(DataError, match="holds 'darcy' samples; expected problem 'heat'"):
        open_dataset(darcy_user_meshes.dataset, problem="heat")


@pytest.mark.parametrize("n, fraction, tests", [
    (10, 0.2, 2), (10, 0.0, 0), (1, 0.5, 0), (2, 0.1, 1), (3, 0.9, 2), (7, 0.5, 4),
])
def test_split_files_counts(n: int, fraction: float, tests: int) -> None:
    split = split_files(n, fraction, seed=0)
    assert len(split) == n and split.count("test") == tests
    assert split == split_files(n, fraction, seed=0)


def test_split_files_bad_fraction() -> None:
    with pytest.raises(DataError, match=r"test fraction in \[0, 1\)"):
        split_files(4, 1.0, seed=0)
