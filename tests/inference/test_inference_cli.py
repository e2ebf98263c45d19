"""``gnnops predict`` / ``gnnops info``: batch over mixed formats, shards, overwrite, errors."""

from __future__ import annotations

import csv
import json

import meshio
import numpy as np
import pytest
from inference_fixtures import coefficient, square_mesh

from gnnops.cli import main
from gnnops.graphs import write_mesh
from gnnops.inference.input_files import expand_inputs, select_shard

FORMATS = (".vtu", ".msh", ".xdmf", ".vtk")


@pytest.fixture
def mesh_dir(tmp_path):
    """20 meshes (5 per format, 5x5 .. 9x9 points), two of them corrupt."""
    d = tmp_path / "in"
    d.mkdir()
    for k in range(20):
        m = square_mesh(5 + k % 5)
        m.point_data["a"] = coefficient(m)
        ext = FORMATS[k % 4]
        # meshio 5.3.5's gmsh 4.1 writer drops point data on re-read: use MSH 2.2
        write_mesh(m, d / f"m{k:02d}{ext}", file_format="gmsh22" if ext == ".msh" else None)
    (d / "m03.vtk").write_text("# vtk DataFile Version 4.2\ngarbage\n")  # corrupt
    (d / "m08.vtu").write_bytes((d / "m08.vtu").read_bytes()[:200])      # truncated
    return d


def _summary(out):
    with open(out / "summary.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_batch_mixed_formats_two_corrupt(artifact, mesh_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["predict", str(artifact), str(mesh_dir), "--out", str(out), "--jobs", "2",
               "--no-progress"])
    assert rc == 1
    rows = _summary(out)
    assert len(rows) == 20
    bad = {r["file"].split("/")[-1]: r["error"] for r in rows if r["status"] == "error"}
    assert sorted(bad) == ["m03.vtk", "m08.vtu"]
    assert all("MeshError" in e for e in bad.values())
    outputs = sorted(out.glob("*.vtu"))
    assert len(outputs) == 18
    for r in rows:
        if r["status"] != "ok":
            continue
        back = meshio.read(r["output"])
        n = int(r["nodes"])
        assert back.points.shape[0] == n and np.sqrt(n) in (5, 6, 7, 8, 9)
        assert back.point_data["u"].shape[0] == n and np.all(np.isfinite(back.point_data["u"]))
    js = json.loads((out / "summary.json").read_text())
    assert [j["status"] for j in js] == [r["status"] for r in rows]
    assert "18 of 20 files (2 failed, 0 skipped)" in capsys.readouterr().out


def test_shards_cover_without_overlap(artifact, mesh_dir, tmp_path):
    out = tmp_path / "out"
    seen, failed, codes = [], [], []
    for i in range(3):
        codes.append(main(["predict", str(artifact), str(mesh_dir / "*"), "--out", str(out),
                           "--shard", f"{i}/3", "--no-progress"]))
        with open(out / f"summary-shard{i}of3.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        seen += [r["file"] for r in rows]
        failed += [r["file"].split("/")[-1] for r in rows if r["status"] == "error"]
    assert len(seen) == 20 and len(set(seen)) == 20
    # sorted index 3 (m03) -> shard 0, index 8 (m08) -> shard 2; shard 1 all succeed
    assert sorted(failed) == ["m03.vtk", "m08.vtu"] and codes == [1, 0, 1]
    assert len(list(out.glob("*.vtu"))) == 18
    files = expand_inputs([str(mesh_dir)])
    assert [len(select_shard(files, (i, 3))) for i in range(3)] == [7, 7, 6]


def test_overwrite_semantics(artifact, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    m = square_mesh(6)
    m.point_data["a"] = coefficient(m)
    meshio.write(d / "one.vtu", m)
    out = tmp_path / "out"
    args = ["predict", str(artifact), str(d / "one.vtu"), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    target = out / "one.vtu"
    target.write_text("sentinel")
    assert main(args) == 0  # skipped, not failed
    assert target.read_text() == "sentinel"
    assert _summary(out)[0]["status"] == "skipped"
    assert main(args + ["--overwrite"]) == 0
    assert meshio.read(target).point_data["u"].shape == (36,)
    assert _summary(out)[0]["status"] == "ok"
    assert not [f for f in out.iterdir() if f.name.startswith(".")]  # no temp files left


def test_usage_and_artifact_errors_exit_2(artifact, tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert main(["predict", str(missing), str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected a model artifact file" in err[0]
    assert main(["predict", str(artifact), str(tmp_path / "*.none"), "--out",
                 str(tmp_path / "o")]) == 2
    assert "no input files matched" in capsys.readouterr().err
    assert main(["predict", str(artifact), str(tmp_path), "--out", str(tmp_path / "o"),
                 "--shard", "3/3"]) == 2
    assert "0 <= I < N" in capsys.readouterr().err


def test_info(artifact, capsys):
    assert main(["info", str(artifact)]) == 0
    out = capsys.readouterr().out
    assert "model:      meshgraphnet" in out
    assert "trained on: 81-81 nodes" in out
    assert "metric val_rel_l2: 0.25" in out
    assert main(["info", str(artifact), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["inputs"] == {"a": 1} and d["targets"] == {"u": 1} and d["receptive_hops"] == 2
    assert d["train_stats"]["spacing_min"] == pytest.approx((4 * 0.125 + 2 * 0.125 * 2**0.5)
                                                            / 6, rel=0.05)


@pytest.fixture
def one_mesh(tmp_path):
    """A folder with one mesh that stores the input 'a' and one that stores nothing."""
    d = tmp_path / "in"
    d.mkdir()
    m = square_mesh(6)
    m.point_data["a"] = coefficient(m)
    meshio.write(d / "with_a.vtu", m)
    meshio.write(tmp_path / "bare.vtu", square_mesh(6))
    return d


def _usage_error(argv, out, capsys) -> str:
    """Run ``gnnops`` expecting exit 2, one stderr line and no output folder; the line."""
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and cap.out == "", (rc, cap.err, cap.out)
    assert lines[0].startswith("gnnops predict: error: ")
    assert not out.exists()  # found before the output folder (or any file) was written
    return lines[0]


def test_missing_required_input_is_a_usage_error(artifact, one_mesh, tmp_path, capsys):
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, tmp_path / "bare.vtu", "--out", out], out, capsys)
    assert "input field 'a' is missing: neither --set a=VALUE nor point data of" in line
    assert "bare.vtu' (has: none); this model takes: a" in line
    # given by --set, the same file predicts
    assert main(["predict", str(artifact), str(tmp_path / "bare.vtu"), "--out", str(out),
                 "--set", "a=7.5"]) == 0


def test_unknown_set_field_is_a_usage_error(artifact, one_mesh, tmp_path, capsys):
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, one_mesh, "--out", out, "--set", "b=1"], out,
                        capsys)
    assert line.endswith("unknown input field 'b'; this model takes: a (from --set b=1)")


def test_unknown_format_is_a_usage_error(artifact, one_mesh, tmp_path, capsys):
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, one_mesh, "--out", out, "--format", "bogus"],
                        out, capsys)
    assert "unknown output format 'bogus'; expected a mesh file extension: " in line
    assert " vtu, " in line and " xdmf" in line


def test_steps_on_a_steady_model_is_a_usage_error(artifact, one_mesh, tmp_path, capsys):
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, one_mesh, "--out", out, "--steps", "3"], out,
                        capsys)
    assert line.endswith("--steps is only for time-dependent (rollout) models; this artifact "
                         "predicts u directly (its recipe has no 'rollout' entry)")


def test_other_option_errors_exit_2_before_work(artifact, one_mesh, tmp_path, capsys):
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, one_mesh, "--out", out, "--steps", "0"], out,
                        capsys)
    assert line.endswith("expected --steps >= 1 (got 0)")
    line = _usage_error(["predict", artifact, one_mesh, "--out", out, "--compare-zero"], out,
                        capsys)
    assert "expected --refine TOL as well" in line


def test_exodus_output_without_netcdf4_names_the_extra(artifact, one_mesh, tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("netCDF4") is not None:
        pytest.skip("netCDF4 is installed: Exodus output works")
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, one_mesh, "--out", out, "--format", "exo"], out,
                        capsys)
    assert line.endswith("writing Exodus files (--format exo) needs the optional package "
                         "'netCDF4'; install it with: pip install 'gnnops[exodus]'")


def test_exodus_input_without_netcdf4_names_the_extra(artifact, tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("netCDF4") is not None:
        pytest.skip("netCDF4 is installed: Exodus input works")
    (tmp_path / "plate.exo").write_bytes(b"CDF\x01 not read")
    out = tmp_path / "out"
    line = _usage_error(["predict", artifact, tmp_path / "plate.exo", "--out", out], out,
                        capsys)
    assert line.endswith(f"reading Exodus files ('{tmp_path / 'plate.exo'}') needs the "
                         "optional package 'netCDF4'; install it with: pip install "
                         "'gnnops[exodus]'")
