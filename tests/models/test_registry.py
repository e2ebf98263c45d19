"""Model registry: names, errors, JSON-able configs."""

import json

import pytest

from gnnops.errors import ModelError
from gnnops.models import MODELS, build, names

pytestmark = pytest.mark.usefixtures("one_thread")


def test_names() -> None:
    assert names() == sorted(MODELS)
    assert {"gno", "meshgraphnet", "multiscale", "ndcn", "transolver"} <= set(names())
    assert set(MODELS) == set(names())


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ModelError) as err:
        build("mgm", in_channels=1, out_channels=1)
    from gnnops.models import MODELS

    assert str(err.value) == ("unknown model 'mgm'; expected one of: "
                              + ", ".join(sorted(MODELS)))
    assert {"gno", "meshgraphnet", "multiscale", "ndcn", "transolver"} <= set(MODELS)


def test_bad_arguments_are_model_errors() -> None:
    with pytest.raises(ModelError, match="invalid arguments for model 'meshgraphnet'"):
        build("meshgraphnet", in_channels=1, out_channels=1, lattent=3)
    with pytest.raises(ModelError, match=r"expected in_channels to be an integer >= 1 \(got 0\)"):
        build("gno", in_channels=0, out_channels=1)
    with pytest.raises(ModelError, match="expected edge_dim to be an integer >= 0"):
        build("multiscale", in_channels=1, out_channels=1, edge_dim=-1)


@pytest.mark.parametrize("name", ["gno", "meshgraphnet", "multiscale", "ndcn"])
def test_config_is_json_and_complete(name: str) -> None:
    m = build(name, in_channels=3, out_channels=2, edge_dim=3, pos_dim=2)
    cfg = m.config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg["in_channels"] == 3 and cfg["out_channels"] == 2
    again = build(name, **cfg)
    assert again.config() == cfg
    assert sum(p.numel() for p in again.parameters()) == sum(p.numel() for p in m.parameters())
