"""GraphModel base (models/base.py): argument checks, config round trip, data checks,
node weights."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from gnnops.errors import ModelError
from gnnops.models.base import GraphModel, check_positive, node_weights


class Tiny(GraphModel):
    name = "tiny"

    def __init__(self, in_channels: int, out_channels: int, edge_dim: int = 0,
                 pos_dim: int = 0, *, hidden: list[int] | None = None) -> None:
        super().__init__(in_channels=in_channels, out_channels=out_channels, edge_dim=edge_dim,
                         pos_dim=pos_dim, hidden=hidden or [4])


def _data(n: int = 5, f: int = 2, e: int = 3, d: int = 2) -> Data:
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    return Data(x=torch.ones(n, f), edge_index=ei, edge_attr=torch.ones(4, e),
                pos=torch.zeros(n, d))


def test_config_rebuilds_and_is_a_copy():
    m = Tiny(2, 1, 3, 2, hidden=[8, 8])
    cfg = m.config()
    assert cfg == {"in_channels": 2, "out_channels": 1, "edge_dim": 3, "pos_dim": 2,
                   "hidden": [8, 8]}
    cfg["hidden"].append(9)
    assert m.config()["hidden"] == [8, 8]  # deep copy: the model's record is untouched
    assert Tiny(**m.config()).config() == m.config()
    d = _data()
    assert m.prepare(d) is d


@pytest.mark.parametrize("kwargs,msg", [
    ({"in_channels": 0, "out_channels": 1}, r"in_channels to be an integer >= 1 \(got 0\)"),
    ({"in_channels": True, "out_channels": 1}, r"in_channels to be an integer >= 1 \(got True\)"),
    ({"in_channels": 1, "out_channels": 1.0}, r"out_channels to be an integer >= 1 \(got 1.0\)"),
    ({"in_channels": 1, "out_channels": 1, "edge_dim": -1},
     r"edge_dim to be an integer >= 0 \(got -1\)"),
    ({"in_channels": 1, "out_channels": 1, "pos_dim": "2"},
     r"pos_dim to be an integer >= 0 \(got '2'\)"),
])
def test_constructor_checks(kwargs, msg):
    with pytest.raises(ModelError, match=msg):
        Tiny(**kwargs)


def test_check_positive():
    check_positive(a=1, b=7)
    with pytest.raises(ModelError, match=r"expected depth to be an integer >= 1 \(got False\)"):
        check_positive(depth=False)


def test_check_data_names_the_wrong_width():
    m = Tiny(2, 1, 3, 2)
    m.check_data(_data())
    with pytest.raises(ModelError, match=r"data.x of shape \[N, 2\] \(got \[5, 4\]\)"):
        m.check_data(_data(f=4))
    with pytest.raises(ModelError, match=r"data.edge_attr of shape \[4, 3\] \(got \[4, 1\]\)"):
        m.check_data(_data(e=1))
    with pytest.raises(ModelError, match=r"data.pos of shape \[N, 2\] \(got \[5, 3\]\)"):
        m.check_data(_data(d=3))
    no_pos = _data()
    no_pos.pos = None
    Tiny(2, 1, 3, 0).check_data(no_pos)  # pos_dim 0: positions not needed ...
    with pytest.raises(ModelError, match=r"data.pos of shape \[N, d\] \(got None\)"):
        Tiny(2, 1, 3, 0).check_data(no_pos, need_pos=True)  # ... unless the model asks
    no_edges = _data()
    no_edges.edge_attr = None
    Tiny(2, 1, 0, 2).check_data(no_edges)


def test_node_weights():
    d = _data()
    torch.testing.assert_close(node_weights(d), torch.ones(5))
    d.node_volume = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5], dtype=torch.float64)
    w = node_weights(d)
    assert w.dtype == torch.float32
    torch.testing.assert_close(w, torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5]))
