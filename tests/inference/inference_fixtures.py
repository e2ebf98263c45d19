"""Helpers of the inference tests: structured triangle meshes and small real artifacts."""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
import torch

from gnnops.graphs import from_meshio
from gnnops.models import build
from gnnops.surrogate.artifact import save_artifact
from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate


def square_mesh(n: int, *, a: np.ndarray | float | None = None, size: float = 1.0) -> meshio.Mesh:
    """n x n points on [0, size]^2, 2 (n-1)^2 triangles; point data 'a' when given."""
    t = np.linspace(0.0, size, n)
    X, Y = np.meshgrid(t, t, indexing="xy")
    pts = np.column_stack([X.ravel(), Y.ravel(), np.zeros(n * n)])
    idx = np.arange(n * n).reshape(n, n)
    v0, v1 = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    v2, v3 = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    tri = np.concatenate([np.column_stack([v0, v1, v2]), np.column_stack([v0, v2, v3])])
    pd = {}
    if a is not None:
        pd["a"] = np.broadcast_to(np.asarray(a, float), (n * n,)).copy()
    return meshio.Mesh(pts, [("triangle", tri)], point_data=pd)


def coefficient(mesh: meshio.Mesh) -> np.ndarray:
    """A smooth coefficient field in [3, 12] (the Darcy range)."""
    x, y = mesh.points[:, 0], mesh.points[:, 1]
    return 7.5 + 4.5 * np.sin(2 * np.pi * x) * np.cos(np.pi * y)


def make_artifact(path: Path, *, train_n: int = 9, model: str = "meshgraphnet",
                  problem: str | None = None, seed: int = 0, inputs: tuple[str, ...] = ("a",),
                  **model_kwargs) -> Path:
    """A small untrained model saved as a real artifact, its recipe fitted on one mesh.

    Inputs: 'a' (coefficient in [3, 12]) and, when named, 'f' (= 1); target 'u'.
    """
    torch.manual_seed(seed)
    m = square_mesh(train_n)
    m.point_data["a"] = coefficient(m)
    m.point_data["f"] = np.ones(len(m.points))
    m.point_data["u"] = m.points[:, 0] * (1 - m.points[:, 0])
    g = from_meshio(m, inputs=list(inputs), targets=["u"])
    recipe = make_recipe([g], inputs=list(inputs), input_dims=[1] * len(inputs), targets=["u"],
                         target_dims=[1], features=["pos"], problem=problem)
    k = len(inputs)
    kw = dict(in_channels=k + 2, out_channels=1, edge_dim=3, pos_dim=2)
    if model == "meshgraphnet":
        kw.update(latent=8, depth=2, hidden_layers=1)
    kw.update(model_kwargs)
    net = build(model, **kw)
    norms = {"x.mean": torch.tensor([7.5] + [1.0] * (k - 1) + [0.5, 0.5]),
             "x.std": torch.tensor([3.0] + [1.0] * (k - 1) + [0.3, 0.3]),
             "y.mean": torch.tensor([0.1]), "y.std": torch.tensor([0.05])}
    sur = Surrogate(net, model_name=model, model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    art = sur.to_artifact(problem=problem, config={"name": "fixture"},
                          metrics={"val_rel_l2": 0.25, "epochs": 0})
    return save_artifact(path, art)



def make_network_artifact(path: Path) -> Path:
    """A small MeshGraphNet on networks: input 'a', target 'u', edge weights as edge_attr."""
    import networkx as nx

    from gnnops.graphs import from_networkx

    torch.manual_seed(0)
    G = nx.path_graph(6)
    nx.set_node_attributes(G, {i: float(i) for i in G.nodes}, "a")
    g = from_networkx(G, inputs=["a"])
    recipe = make_recipe([g], inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=[], problem=None, kind="network")
    net = build("meshgraphnet", in_channels=1, out_channels=1, edge_dim=1, pos_dim=0,
                latent=8, depth=2, hidden_layers=1)
    norms = {"x.mean": torch.tensor([2.5]), "x.std": torch.tensor([1.7]),
             "y.mean": torch.tensor([0.0]), "y.std": torch.tensor([1.0])}
    sur = Surrogate(net, model_name="meshgraphnet", model_kwargs=net.config(), recipe=recipe,
                    normalizers=norms)
    return save_artifact(path, sur.to_artifact(problem=None, config={}, metrics={}))
