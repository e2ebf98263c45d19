"""Helpers of the reliability tests: tiny meshes, tiny real artifacts, a tiny run config.

Self-contained (no helpers of other test folders), so the bad-input corpus stands alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import meshio
import networkx as nx
import numpy as np
import torch
import yaml

from gnnops.graphs import from_meshio, from_networkx, write_mesh
from gnnops.models import build
from gnnops.surrogate.artifact import save_artifact
from gnnops.surrogate.integrity import INTEGRITY_KEY, content_digest
from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate

MGN = dict(latent=8, depth=2, hidden_layers=1)


def square_mesh(n: int, *, a: float | np.ndarray | None = None) -> meshio.Mesh:
    """``n x n`` points on the unit square (z = 0), ``2 (n-1)^2`` triangles."""
    t = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(t, t, indexing="xy")
    pts = np.column_stack([X.ravel(), Y.ravel(), np.zeros(n * n)])
    idx = np.arange(n * n).reshape(n, n)
    v0, v1 = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    v2, v3 = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
    pd = {} if a is None else {"a": np.broadcast_to(np.asarray(a, float), (n * n,)).copy()}
    return meshio.Mesh(pts, [("triangle", tri)], point_data=pd)


def field_a(mesh: meshio.Mesh, k: float = 1.0) -> np.ndarray:
    """A smooth input field in [3, 12]."""
    x, y = mesh.points[:, 0], mesh.points[:, 1]
    return 7.5 + 4.5 * np.sin(2 * np.pi * k * x) * np.cos(np.pi * y)


def make_artifact(path: Path, *, normalizers: dict | None = None) -> Path:
    """An untrained 2-D MeshGraphNet (input 'a', target 'u', feature 'pos') as a real artifact."""
    torch.manual_seed(0)
    m = square_mesh(9)
    m.point_data["a"] = field_a(m)
    m.point_data["u"] = m.points[:, 0] * (1 - m.points[:, 0])
    g = from_meshio(m, inputs=["a"], targets=["u"])
    recipe = make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem=None)
    net = build("meshgraphnet", in_channels=3, out_channels=1, edge_dim=3, pos_dim=2, **MGN)
    norms = {"x.mean": torch.tensor([7.5, 0.5, 0.5]), "x.std": torch.tensor([3.0, 0.3, 0.3]),
             "y.mean": torch.tensor([0.1]), "y.std": torch.tensor([0.05])}
    norms.update(normalizers or {})
    sur = Surrogate(net, model_name="meshgraphnet", model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem=None, config={"name": "fixture"},
                                               metrics={}))


def reseal(payload: dict) -> dict:
    """Recompute the integrity digest of an edited artifact payload (``torch.load``-ed), as
    someone rewriting the file would: the edit then reaches the later validation checks."""
    meta = json.loads(payload["meta"])
    meta[INTEGRITY_KEY] = content_digest(meta, payload["state_dict"], payload["normalizers"])
    payload["meta"] = json.dumps(meta)
    return payload


def make_network_artifact(path: Path) -> Path:
    """An untrained network MeshGraphNet (input 'a', target 'u') trained-on-undirected recipe."""
    torch.manual_seed(0)
    G = nx.cycle_graph(8)
    nx.set_node_attributes(G, {i: float(i) for i in G.nodes}, "a")
    g = from_networkx(G, inputs=["a"])
    recipe = make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=[], problem=None, kind="network")
    net = build("meshgraphnet", in_channels=1, out_channels=1, edge_dim=1, pos_dim=0, **MGN)
    norms = {"x.mean": torch.tensor([3.5]), "x.std": torch.tensor([2.3]),
             "y.mean": torch.tensor([0.0]), "y.std": torch.tensor([1.0])}
    sur = Surrogate(net, model_name="meshgraphnet", model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem=None, config={}, metrics={}))


def write_mesh_dataset(folder: Path, n: int, *, sides: tuple[int, ...] = (5, 6)) -> Path:
    """``n`` small VTU meshes with point data 'a' (input) and 'u' (target = a smooth map of a)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        m = square_mesh(sides[i % len(sides)])
        a = field_a(m, k=1.0 + 0.25 * i)
        m.point_data["a"] = a
        m.point_data["u"] = 0.1 * a * m.points[:, 0] * (1 - m.points[:, 0]) + 0.05 * m.points[:, 1]
        write_mesh(m, folder / f"s{i:03d}.vtu")
    return folder


def write_run_config(path: Path, data: Path, out_dir: Path, *, name: str = "run",
                     epochs: int = 6, **optim: object) -> Path:
    """A tiny training config (MeshGraphNet, user mesh folder, CPU, 1 thread, no plots)."""
    cfg = {
        "name": name, "seed": 3, "out_dir": str(out_dir),
        "data": {"generate": None, "path": str(data), "inputs": ["a"], "targets": ["u"],
                 "batch_size": 2, "val_fraction": 0.25, "test_fraction": 0.0},
        "model": {"name": "meshgraphnet", "kwargs": dict(MGN)},
        "optim": {"epochs": epochs, "lr": 0.005, "warmup_epochs": 0.0, **optim},
        "train": {"device": "cpu", "threads": 1, "progress": False},
        "eval": {"plots": False},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def cli(argv: list[str], capsys) -> tuple[int, str, list[str]]:
    """``gnnops.cli.main(argv)`` -> (exit code, stdout, stderr lines)."""
    from gnnops.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, [ln for ln in cap.err.splitlines() if ln.strip()]
