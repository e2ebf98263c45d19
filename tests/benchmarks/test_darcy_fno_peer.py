"""benchmarks/darcy_fno_peer.py: same inputs and reference as gnnops' generated Darcy data,
grid reference against the series solution, and a seconds-long FNO run (needs neuralop)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from gnnops.data import generate, open_dataset
from gnnops.data._worker import read_vtu
from gnnops.problems import get

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("darcy_fno_peer",
                                              ROOT / "benchmarks" / "darcy_fno_peer.py")
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)


def _series(x: np.ndarray, terms: int = 80) -> np.ndarray:
    """-Laplace u = 1 on the unit square, u = 0 on the boundary: the double sine series."""
    k = np.arange(1, terms, 2)
    m, n = np.meshgrid(k, k, indexing="ij")
    c = 16.0 / (np.pi ** 4 * m * n * (m ** 2 + n ** 2))
    sx = np.sin(np.pi * k[None, :] * x[:, :1])
    sy = np.sin(np.pi * k[None, :] * x[:, 1:])
    return np.einsum("pm,mn,pn->p", sx, c, sy)


def test_grid_reference_of_a_constant_coefficient_matches_the_series() -> None:
    problem = get("darcy")
    ref = peer.Reference(problem, 0.05, {9: peer.grid_points(9)})
    ones = np.ones(ref.nodes)
    u = ref.to(9, np.asarray(problem.solve(ref.handle, a=ones, f=ones)["u"]).reshape(-1))
    exact = _series(peer.grid_points(9))
    assert exact.max() == pytest.approx(0.0736713, abs=1e-6)  # the known centre value
    err = np.linalg.norm(u - exact) / np.linalg.norm(exact)
    assert err < 0.01, err  # P1 at h = 0.05: O(h^2), measured 0.0036
    grid = u.reshape(9, 9)
    assert np.abs(grid[[0, -1]]).max() < 1e-12 and np.abs(grid[:, [0, -1]]).max() < 1e-12


def test_inputs_and_reference_equal_the_generated_dataset(tmp_path: Path) -> None:
    """Train samples of a gnnops dataset (reference h = 0.05): the peer's coefficient at the
    mesh nodes and its transferred reference equal the stored a and u; its grid coefficient
    at the boundary nodes (x = i / 10, shared by the h = 0.1 mesh and the 11 x 11 grid)
    equals the stored a there."""
    gen = {"problem": "darcy", "problem_options": {"kind": "fno"}, "resolutions": [0.1],
           "n_train": 3, "n_val": 0, "n_test": 0, "seed": 0, "reference_resolution": 0.05}
    ds = open_dataset(generate(gen, tmp_path / "ds", progress=False))
    args = argparse.Namespace(cache=str(tmp_path / "cache"), seed=0, reference=0.05)
    a_grid, _ = peer.solve_split(args, "train", 3, [11])[11]
    problem = get("darcy")
    grid = peer.grid_points(11)
    recs = ds.samples("train")
    assert [r["index"] for r in recs] == [0, 1, 2]
    for rec in recs:
        mesh = read_vtu(ds.path(rec))
        pts = mesh.points[:, :2]
        sample = peer.draw(problem, 0, "train", rec["index"], {"kind": "fno"})
        a = problem.evaluate_inputs(sample, mesh)["a"]
        np.testing.assert_array_equal(a, mesh.point_data["a"].reshape(-1))
        ref = peer.Reference(problem, 0.05, {"mesh": pts})
        np.testing.assert_allclose(ref.to("mesh", ref.solve(sample)),
                                   mesh.point_data["u"].reshape(-1), rtol=0, atol=1e-12)
        d = np.abs(pts[:, None, :] - grid[None, :, :]).max(-1)  # [N, 121]
        node, point = np.nonzero(d < 1e-9)
        assert len(node) == 40  # the 40 boundary nodes of both
        np.testing.assert_array_equal(a_grid[rec["index"]].reshape(-1)[point], a[node])
        assert len(set(a[node])) == 2  # both values 3 and 12 on this boundary


def test_weights_metric_and_bilinear() -> None:
    w = peer.trapezoid_weights(5)
    assert w.sum() == pytest.approx(1.0) and w[0, 0] == pytest.approx(1 / 64)
    u = np.ones((2, 5, 5))
    np.testing.assert_allclose(peer.rel_l2(np.zeros_like(u), u, w), [1.0, 1.0])
    np.testing.assert_allclose(peer.rel_l2(1.1 * u, u, w), [0.1, 0.1])
    lin = lambda s: (peer.grid_points(s) @ [1.0, 2.0]).reshape(1, s, s)  # noqa: E731
    np.testing.assert_allclose(peer.bilinear(lin(5), 9), lin(9), atol=1e-12)


def test_skips_without_neuraloperator(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "neuralop", None)  # import raises ImportError
    assert peer.main(["--cache", str(tmp_path), "--out", str(tmp_path / "x.md")]) == 0
    assert "neuraloperator is not installed" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()


def test_tiny_run_trains_and_reuses_the_cache(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("neuralop")
    argv = ["--n-train", "4", "--n-test", "2", "--train-s", "9", "--test-s", "9", "13",
            "--reference", "0.05", "--minutes", "0.03", "--modes", "4", "--width", "8",
            "--batch-size", "2", "--cache", str(tmp_path / "cache"),
            "--out", str(tmp_path / "fno.md")]
    assert peer.main(argv) == 0
    text = (tmp_path / "fno.md").read_text()
    rows = [ln.split(" | ") for ln in text.splitlines() if ln.startswith("| 9 ")
            or ln.startswith("| 13 ")]
    assert [r[2] for r in rows] == ["FNO at s (train grid)", "FNO at s (zero-shot)",
                                    "FNO at 9 + bilinear"]
    assert all(0.0 < float(r[3]) < 2.0 for r in rows)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "darcy_fno_test_seed0_h0.05_n2_s13.npz", "darcy_fno_test_seed0_h0.05_n2_s9.npz",
        "darcy_fno_train_seed0_h0.05_n4_s9.npz"]

    def no_solve(*a, **k):
        raise AssertionError("solved again despite the cache")

    monkeypatch.setattr(peer, "Reference", no_solve)
    assert peer.main(argv) == 0
