"""MLP layout and scatter helpers against hand-computed values."""

import torch

from gnnops.models.mlp import MLP, edge_geometry, scatter_sum, weighted_mean_weights


def test_mlp_layout_and_tail() -> None:
    m = MLP(3, 5, 7)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "LayerNorm"]
    assert type(MLP(3, 5, 7, layer_norm=False)[-1]).__name__ == "Linear"
    x = torch.randn(4, 3)
    assert torch.allclose(m.tail(m[0](x)), m(x))


def test_scatter_and_weighted_mean() -> None:
    src = torch.tensor([0, 1, 2, 0])
    dst = torch.tensor([1, 0, 0, 2])
    vals = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    assert scatter_sum(vals, dst, 3).flatten().tolist() == [5.0, 1.0, 4.0]
    w = torch.tensor([1.0, 3.0, 1.0])
    c = weighted_mean_weights(w, src, dst, 3)
    assert torch.allclose(c, torch.tensor([1.0, 0.75, 0.25, 1.0]))
    g = edge_geometry(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.tensor([0]),
                      torch.tensor([1]))
    assert g.tolist() == [[3.0, 4.0, 5.0]]
