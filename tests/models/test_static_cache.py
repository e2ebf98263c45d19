"""StaticCache: a rollout reuses the static encoding, and gives the same numbers."""

from __future__ import annotations

import pytest
import torch
from test_linear_stencil import tri_mesh

from gnnops.models import build
from gnnops.models.static_cache import StaticCache, memo

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cache_hits_only_for_the_same_graph_and_static_inputs() -> None:
    data = tri_mesh(2, f_in=3)
    cache, calls = StaticCache(), []

    def build_enc() -> dict:
        calls.append(1)
        return {"h": data.x.sum()}

    with torch.no_grad():
        cache.get(data, [1, 2], build_enc)
        data.x[:, 0] += 1.0  # the state column changes: still a hit
        enc = cache.get(data, [1, 2], build_enc)
        assert len(calls) == 1
        assert memo(enc, "k", lambda: 5) == 5 and memo(enc, "k", lambda: 6) == 5
        data.x[3, 2] += 1e-6  # a static value changes: rebuilt
        cache.get(data, [1, 2], build_enc)
        assert len(calls) == 2
        other = data.clone()  # equal values, another edge_index tensor: rebuilt
        cache.get(other, [1, 2], build_enc)
        assert len(calls) == 3
    cache.get(other, [1, 2], build_enc)  # autograd on (training): never cached
    assert len(calls) == 4


@pytest.mark.parametrize("kw", [{"implicit": True, "hops": 2},
                                {"hops": 3, "reaction": True},
                                {"implicit": True, "hops": 0, "local_reaction": True,
                                 "source_columns": []}])
def test_cached_steps_equal_fresh_steps(kw) -> None:
    data = tri_mesh(3, f_in=3)
    model = build("linear_stencil", in_channels=3, out_channels=1, edge_dim=0, pos_dim=2,
                  latent=16, depth=1, hidden_layers=1, channels=4, **kw).eval()
    fresh = build("linear_stencil", in_channels=3, out_channels=1, edge_dim=0, pos_dim=2,
                  latent=16, depth=1, hidden_layers=1, channels=4, **kw).eval()
    fresh.load_state_dict(model.state_dict())
    with torch.no_grad():
        for step in range(4):
            data.x[:, 0] = torch.sin(data.pos[:, 0] * (step + 1))
            if step == 2:  # a static input changes mid-way (e.g. dt)
                data.x[:, 2] = 0.5
            fresh._static_cache = StaticCache()  # recompute everything
            torch.testing.assert_close(model(data), fresh(data), rtol=0, atol=0)
    assert model._static_cache._value is not None and model._static_cache._value["memo"]


def test_changed_weights_are_never_served_from_the_cache() -> None:
    """A validation pass between optimizer steps on the same graph object: recomputed."""
    data = tri_mesh(2, f_in=3)
    model = build("linear_stencil", in_channels=3, out_channels=1, edge_dim=0, pos_dim=2,
                  latent=8, depth=1, hidden_layers=1, channels=2, implicit=True, hops=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.eval()
    with torch.no_grad():
        before = model(data)
    model.train()
    model(data).square().sum().backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        after = model(data)
        model._static_cache = StaticCache()
        torch.testing.assert_close(after, model(data), rtol=0, atol=0)
    assert not torch.equal(before, after)
