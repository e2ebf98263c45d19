"""Graph operators of the network problems: adjacency convention, Laplacian, numpy/torch ops."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from gnnops.errors import ProblemError
from gnnops.problems._graph_ops import (
    NumpyGraphOp,
    TorchGraphOp,
    adjacency,
    laplacian,
    to_numpy,
)


def test_adjacency_convention_directed_undirected_and_data(directed_path):
    a = adjacency(directed_path).toarray()
    np.testing.assert_array_equal(a, [[0, 0, 0], [2, 0, 0], [0, 3, 0]])  # A[i, j]: j -> i
    u = adjacency(directed_path.to_undirected()).toarray()
    np.testing.assert_array_equal(u, [[0, 2, 0], [2, 0, 3], [0, 3, 0]])
    data = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), edge_weight=torch.tensor([2.0, 3.0]),
                num_nodes=3)
    np.testing.assert_array_equal(adjacency(data).toarray(), a)
    data1 = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), edge_attr=torch.tensor([[2.0], [3.0]]),
                 num_nodes=3)
    np.testing.assert_array_equal(adjacency(data1).toarray(), a)
    np.testing.assert_array_equal(laplacian(adjacency(directed_path)).toarray(),
                                  [[0, 0, 0], [-2, 2, 0], [0, -3, 3]])


def test_adjacency_errors():
    with pytest.raises(ProblemError, match="numeric edge attribute"):
        g2 = nx.path_graph(3)
        g2.edges[0, 1]["weight"] = "heavy"
        adjacency(g2)
    with pytest.raises(ProblemError, match="networkx graph or a torch_geometric Data"):
        adjacency(np.eye(3))
    with pytest.raises(ProblemError, match=r"edge_index of shape \[2, E\] \(got \[3, 1\]\)"):
        adjacency(Data(edge_index=torch.zeros(3, 1, dtype=torch.long), num_nodes=3))
    with pytest.raises(ProblemError, match=r"edge_weight with 2 entries \(got shape \[3\]\)"):
        adjacency(Data(edge_index=torch.tensor([[0, 1], [1, 2]]),
                       edge_weight=torch.ones(3), num_nodes=3))
    with pytest.raises(ProblemError, match="finite edge weights"):
        adjacency(Data(edge_index=torch.tensor([[0], [1]]),
                       edge_weight=torch.tensor([float("nan")]), num_nodes=2))


def test_duplicate_edges_add_up_and_mesh_edge_features_are_not_weights():
    ei = torch.tensor([[0, 0, 1], [1, 1, 0]])
    dup = Data(edge_index=ei, edge_weight=torch.tensor([0.5, 0.25, 4.0]), num_nodes=2)
    np.testing.assert_array_equal(adjacency(dup).toarray(), [[0, 4.0], [0.75, 0]])
    mesh_like = Data(edge_index=ei, edge_attr=torch.ones(3, 3) * 7, num_nodes=2)
    np.testing.assert_array_equal(adjacency(mesh_like).toarray(), [[0, 1], [2, 0]])
    np.testing.assert_array_equal(laplacian(adjacency(mesh_like)).toarray(), [[1, -1], [-2, 2]])


def test_numpy_graph_op_against_dense_algebra(directed_path):
    a = adjacency(directed_path)
    op = NumpyGraphOp(a)
    y = np.array([[1.0, -1.0], [2.0, 0.5], [4.0, 3.0]])  # [N, K] with K = 2 states
    dense = a.toarray()
    np.testing.assert_array_equal(op.matvec(y), dense @ y)  # A y: [[0, 0], [2, -2], [6, 1.5]]
    np.testing.assert_array_equal(op.matvec(y)[:, 0], [0, 2, 6])
    np.testing.assert_array_equal(op.lap(y), laplacian(a).toarray() @ y)
    np.testing.assert_array_equal(op.deg[:, 0], [0, 2, 3])  # weighted in-degree
    # edges j -> i listed as (src j, dst i) with their weight
    assert sorted(zip(op.src.tolist(), op.dst.tolist(), op.w[:, 0].tolist(), strict=True)) == [
        (0, 1, 2.0), (1, 2, 3.0)]
    np.testing.assert_array_equal(op.at_src(y), y[op.src])
    np.testing.assert_array_equal(op.at_dst(y), y[op.dst])
    # scatter of the edge messages w * y_src into their targets is A y again
    np.testing.assert_array_equal(op.scatter(op.w * op.at_src(y)), dense @ y)


@pytest.mark.parametrize("weights", ["edge_weight", "edge_attr", None])
def test_torch_graph_op_matches_numpy(weights):
    g = nx.gnp_random_graph(9, 0.4, seed=2, directed=True)
    ei = torch.tensor(np.array(g.edges).T, dtype=torch.long)
    w = torch.linspace(0.5, 2.0, ei.shape[1], dtype=torch.float64)
    data = Data(edge_index=ei, num_nodes=9)
    if weights == "edge_weight":
        data.edge_weight = w
    elif weights == "edge_attr":
        data.edge_attr = w[:, None]
    y = torch.tensor(np.random.default_rng(0).normal(size=(9, 3)))
    t_op, n_op = TorchGraphOp(data, torch.float64), NumpyGraphOp(adjacency(data))
    torch.testing.assert_close(t_op.matvec(y), torch.tensor(n_op.matvec(y.numpy())))
    torch.testing.assert_close(t_op.lap(y), torch.tensor(n_op.lap(y.numpy())))
    torch.testing.assert_close(t_op.deg, torch.tensor(n_op.deg))
    torch.testing.assert_close(t_op.lap(torch.ones(9, 1, dtype=torch.float64)),
                               torch.zeros(9, 1, dtype=torch.float64))  # rows of L sum to 0


def test_to_numpy_detaches_tensors():
    t = torch.tensor([1.0, 2.0], requires_grad=True) * 3
    out = to_numpy(t)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [3.0, 6.0])
    np.testing.assert_array_equal(to_numpy([1, 2], np.int64), [1, 2])
