"""Shared test setup.

This folder is on ``sys.path`` (pytest's rootdir conftest), so helper modules here
(``training_fixtures``, ...) import by name from every test folder; fixtures used by more
than one test folder live here.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch_geometric.data import Data
from training_fixtures import ToyGNN, make_graphs

from gnnops.models import MODELS


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """Generate a tiny Darcy dataset, train 2 epochs, evaluate, report (~20 s on 2 cores)."""
    from gnnops.runs.pipeline import run
    from gnnops.training.config import config_from_dict

    root = tmp_path_factory.mktemp("tiny")
    cfg = config_from_dict({
        "name": "tiny", "out_dir": str(root / "runs"),
        "data": {"generate": {"problem": "darcy", "problem_options": {"kind": "fno"},
                              "resolutions": [0.2, 0.1], "train_resolution": 0, "n_train": 6,
                              "n_val": 2, "n_test": 2, "seed": 0},
                 "cache_dir": str(root / "datasets"), "batch_size": 2, "features": ["pos"]},
        "model": {"name": "meshgraphnet", "kwargs": {"latent": 16, "depth": 3,
                                                     "hidden_layers": 1}},
        "optim": {"epochs": 2, "lr": 3e-3},
        "train": {"progress": False, "device": "cpu"},
    })
    report = run(cfg)
    dataset = next((root / "datasets").glob("darcy-*"))
    return SimpleNamespace(report=report, run_dir=report.parent, dataset=dataset,
                           artifact=report.parent / "model.pt")


@pytest.fixture
def toy_model(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register ToyGNN as model 'toy' for the duration of a test."""
    monkeypatch.setitem(MODELS, "toy", ToyGNN)
    return "toy"


@pytest.fixture
def graphs() -> tuple[list[Data], list[Data]]:
    """(train, val) toy graphs."""
    return make_graphs(8, 0), make_graphs(4, 1)


@pytest.fixture(scope="session")
def darcy_user_meshes(tmp_path_factory):
    """A user's own Darcy solver outputs, written with meshio from a generated dataset:
    ``train`` (12 files on the h = 0.2 unit-square mesh, half .vtu, half .vtk, point data
    a, f, u) and ``held`` (3 files on the h = 0.1 mesh); ``dataset``: the generated folder."""
    import meshio

    from gnnops.data import generate, open_dataset

    root = tmp_path_factory.mktemp("user")
    spec = {"problem": "darcy", "resolutions": [0.2, 0.1], "n_train": 12, "n_val": 0,
            "n_test": 3, "seed": 1}
    ds = open_dataset(generate(spec, root / "generated", progress=False))
    train, held = root / "train", root / "held"
    for folder, split, k in ((train, "train", 0), (held, "test", 1)):
        folder.mkdir()
        for i, s in enumerate(ds.samples(split, k)):
            m = meshio.read(ds.path(s))
            out = meshio.Mesh(m.points, m.cells, point_data={n: m.point_data[n]
                                                             for n in ("a", "f", "u")})
            meshio.write(folder / f"case_{i:02d}{'.vtk' if i % 2 else '.vtu'}", out)
    return SimpleNamespace(train=train, held=held, dataset=ds.root)
