"""One mesh across ranks: ``torchrun --nproc_per_node=2`` (gloo, CPU) equals one rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import meshio
import numpy as np
import pytest
from inference_fixtures import coefficient, make_artifact, square_mesh

from gnnops.graphs import from_meshio
from gnnops.inference import Predictor
from gnnops.inference.distributed_predict import split_for_ranks
from gnnops.inference.partition import Partitioner


@pytest.mark.parametrize("world", [2, 3])
def test_split_for_ranks_covers_once_and_halo_holds_neighbourhood(world):
    m = square_mesh(30)
    g = from_meshio(m)
    hops = 2
    groups = split_for_ranks(g, hops, 0.0, world)
    assert len(groups) == world and all(groups)
    cores = np.concatenate([c for grp in groups for c, _ in grp])
    assert np.array_equal(np.sort(cores), np.arange(900))
    sizes = [sum(len(c) for c, _ in grp) for grp in groups]
    assert max(sizes) <= 1.5 * 900 / world  # balanced within 50 %
    ei = g.edge_index.numpy()
    for grp in groups:
        for core, nodes in grp:
            reach = set(core.tolist())
            for _ in range(hops):  # the 2-hop neighbourhood of the core lies in the part
                reach |= set(ei[1][np.isin(ei[0], list(reach))].tolist())
            assert reach <= set(nodes.tolist())
            sub = Partitioner(g).subgraph(nodes)
            assert sub.num_nodes == len(nodes)


def _torchrun(args, tmp_path, nproc=2):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={nproc}", "-m", "gnnops.inference.distributed_predict", *args],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model,kwargs,max_nodes", [
    ("meshgraphnet", {"depth": 3}, "0"),
    ("meshgraphnet", {"depth": 3}, "150"),  # each rank's part split again
    ("gno", {"width": 8, "depth": 2, "radius": 0.12, "kernel": "diagonal"}, "0"),
    # global slice attention: no halo, node sums all-reduced (chunk 200: streamed passes)
    ("transolver", {"width": 16, "depth": 2, "heads": 2, "slices": 8, "chunk": 200}, "0"),
])
def test_two_ranks_equal_one_rank(tmp_path, model, kwargs, max_nodes):
    art = make_artifact(tmp_path / "m.pt", model=model, **kwargs)
    m = square_mesh(31)  # 961 nodes
    m.point_data["a"] = coefficient(m)
    path = tmp_path / "big.vtu"
    meshio.write(path, m)
    whole = Predictor.from_artifact(art, max_nodes=10**9).predict(m).fields["u"]
    out = tmp_path / "out"
    proc = _torchrun([str(art), str(path), "--out", str(out), "--max-nodes", max_nodes],
                     tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 1: predicting 1 part(s)" in proc.stderr  # rank 1 ran half of the mesh
    got = meshio.read(out / "big.vtu").point_data["u"]
    assert np.abs(whole).max() > 0
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-5 * np.abs(whole).max())
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["rows"] if isinstance(summary, dict) else summary
    assert [r["status"] for r in rows] == ["ok"] and rows[0]["nodes"] == 961


def test_distributed_outside_torchrun_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from gnnops.cli import main

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    art = make_artifact(tmp_path / "m.pt")
    assert main(["predict", str(art), str(tmp_path / "x.vtu"), "--out", str(tmp_path / "o"),
                 "--distributed"]) == 2
    assert "runs under torchrun" in capsys.readouterr().err


def test_root_share_gives_rank_0_its_fraction_and_keeps_the_halo():
    m = square_mesh(40)  # 1600 nodes
    g = from_meshio(m)
    for world, share in ((2, 0.3), (3, 0.2), (4, None)):
        groups = split_for_ranks(g, 2, 0.0, world, root_share=share)
        assert [len(grp) for grp in groups] == [1] * world
        sizes = [len(grp[0][0]) for grp in groups]
        want = 1600 / world if share is None else 1600 * share
        assert abs(sizes[0] - want) <= 1 and sum(sizes) == 1600
        rest = sizes[1:]
        assert max(rest) - min(rest) <= 1  # equal shares of the rest
        cores = np.sort(np.concatenate([grp[0][0] for grp in groups]))
        assert np.array_equal(cores, np.arange(1600))
    with pytest.raises(Exception, match="root-share"):
        split_for_ranks(g, 2, 0.0, 2, root_share=1.0)


def test_one_rank_is_one_part_and_root_share_needs_two():
    g = from_meshio(square_mesh(10))
    groups = split_for_ranks(g, 2, 0.0, 1)
    assert len(groups) == 1 and np.array_equal(np.sort(groups[0][0][0]), np.arange(100))
    with pytest.raises(Exception, match="root-share"):
        split_for_ranks(g, 2, 0.0, 1, root_share=0.5)


def test_node_part_keeps_node_and_whole_graph_fields_and_empties_edges():
    import torch

    from gnnops.inference.distributed_predict import node_part

    g = from_meshio(square_mesh(6))  # 36 nodes
    g.input_scale = torch.tensor([[2.0, 3.0]])  # a whole-graph value (scaling law)
    g.names = [f"n{i}" for i in range(36)]
    nodes = np.array([0, 5, 7, 30])
    part = node_part(g, nodes)
    assert part.num_nodes == 4
    torch.testing.assert_close(part.pos, g.pos[nodes])
    torch.testing.assert_close(part.node_volume, g.node_volume[nodes])
    torch.testing.assert_close(part.input_scale, g.input_scale)
    assert part.names == ["n0", "n5", "n7", "n30"]
    assert part.edge_index.shape == (2, 0) and part.edge_attr.shape == (0, g.edge_attr.shape[1])
    assert getattr(part, "cell_index", None) is None
