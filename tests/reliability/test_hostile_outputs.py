"""Hostile file references and conditions around outputs (issue 15, items 4, 6 and 7): dataset
manifests pointing outside their folder, run names leading outside out_dir, input names the
file system cannot take for an output, a full disk while writing the summary or a
checkpoint, unknown problem options, and the permissions of everything gnnops writes."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
import yaml
from reliability_fixtures import (
    cli,
    field_a,
    make_artifact,
    make_network_artifact,
    square_mesh,
    write_mesh_dataset,
    write_run_config,
)

from gnnops.data.manifest import FORMAT, VERSION, write_manifest
from gnnops.graphs import write_mesh, write_network
from gnnops.training.checkpoint import load_checkpoint, save_checkpoint


def _mesh(path: Path) -> Path:
    m = square_mesh(5)
    m.point_data["a"] = field_a(m)
    return write_mesh(m, path)


# ------------------------------------------------------------------------- paths (15.4)
@pytest.mark.parametrize("file", ["../secret.vtu", "ABS"])
def test_evaluate_refuses_manifest_samples_outside_the_dataset(tmp_path, capsys, file) -> None:
    art = make_artifact(tmp_path / "model.pt")
    secret = _mesh(tmp_path / "secret.vtu")
    ds = tmp_path / "ds"
    ds.mkdir()
    name = str(secret) if file == "ABS" else file
    write_manifest(ds, {"format": FORMAT, "version": VERSION, "problem": None, "kind": "mesh",
                        "input_fields": ["a"], "output_fields": ["u"], "resolutions": [0.2],
                        "nodes_per_resolution": [25],
                        "splits": {"test": {"resolution": 0, "resolutions": [0], "count": 1}},
                        "samples": [{"file": name, "split": "test", "resolution": 0,
                                     "index": 0, "seed": 0, "nodes": 25}]})
    rc, _, err = cli(["evaluate", art, ds], capsys)
    assert rc == 2 and len(err) == 1, err
    assert "outside the dataset folder" in err[0] and "secret.vtu" in err[0]


def test_run_name_dotdot_writes_nothing_outside_out_dir(tmp_path, capsys) -> None:
    from gnnops.runs.cli import main

    data = write_mesh_dataset(tmp_path / "data", 4)
    cfg = write_run_config(tmp_path / "c.yaml", data, tmp_path / "top" / "runs", name="..")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["--config", str(cfg), "-q"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "'name' expects a plain folder name inside out_dir" in err[0]
    assert main(["--config", str(cfg), "-q", "name=a/../../x"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing new anywhere
    assert not (tmp_path / "top").exists()


def test_long_and_odd_input_names_fail_alone_and_the_batch_goes_on(tmp_path, capsys) -> None:
    art = make_artifact(tmp_path / "model.pt")
    inp = tmp_path / "in"
    inp.mkdir()
    names = ["a" * 251 + ".vtu", "ok.vtu", "odd\n$(name) -x.vtu", "caf\u00e9.vtu",
             "bad\udcff.vtu"]  # \udcff: an undecodable byte in the name
    for n in names:
        _mesh(inp / n)
    out = tmp_path / "out"
    # --format xdmf: the output of the 255-character name would be 256 characters long
    rc, stdout, err = cli(["predict", art, inp, "--out", out, "--format", "xdmf",
                           "--no-progress"], capsys)
    assert rc == 1 and "predicted 4 of 5 files (1 failed, 0 skipped)" in stdout, (stdout, err)
    rows = json.loads((out / "summary.json").read_text())
    status = {Path(r["file"]).name: (r["status"], r["error"]) for r in rows}
    assert status["a" * 251 + ".vtu"][0] == "error"
    assert "File name too long" in status["a" * 251 + ".vtu"][1]
    assert "rename the input" in status["a" * 251 + ".vtu"][1]
    assert all(status[n][0] == "ok" for n in names[1:])
    assert (out / "bad\udcff.xdmf").is_file() and (out / "odd\n$(name) -x.xdmf").is_file()
    assert (out / "summary.csv").read_text(encoding="utf-8").count("\n") >= 6


# ------------------------------------------------------------------- disk full (15.6)
def test_disk_full_while_writing_the_summary_is_one_line_exit_74(tmp_path, capsys,
                                                                  monkeypatch) -> None:
    import gnnops._atomic as A

    art = make_artifact(tmp_path / "model.pt")
    _mesh(tmp_path / "in.vtu")
    real = os.replace

    def replace(src, dst, *a, **k):
        if Path(dst).name.startswith("summary"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(A.os, "replace", replace)
    out = tmp_path / "out"
    rc, _, err = cli(["predict", art, tmp_path / "in.vtu", "--out", out, "--no-progress"],
                     capsys)
    assert rc == 74 and len(err) == 1, err
    assert "cannot write" in err[0] and "summary.csv': No space left on device (ENOSPC)" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["in.vtu"]  # no temporary, no lock left


def test_disk_full_while_saving_a_checkpoint_keeps_the_previous_one(tmp_path, capsys,
                                                                    monkeypatch) -> None:
    import gnnops.training.checkpoint as ck
    from gnnops.runs.cli import main

    data = write_mesh_dataset(tmp_path / "data", 6)
    cfg = write_run_config(tmp_path / "c.yaml", data, tmp_path / "runs", epochs=3)
    real, calls = torch.save, [0]

    def save(obj, fh, *a, **k):
        calls[0] += 1
        if calls[0] == 2:  # the second epoch's checkpoint: the disk fills up half-way
            fh.write(b"x" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, fh, *a, **k)

    monkeypatch.setattr(ck.torch, "save", save)
    threads = torch.get_num_threads()
    try:
        rc = main(["--config", str(cfg), "-q"])
    finally:
        torch.set_num_threads(threads)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 74 and len(err) == 1, err
    assert "last.pt': No space left on device (ENOSPC); free some disk space" in err[0]
    ckpt = tmp_path / "runs" / "run" / "checkpoints"
    assert load_checkpoint(ckpt / "last.pt")["epoch"] == 0  # the previous one, intact
    assert sorted(p.name for p in ckpt.iterdir()) == ["last.pt"]


def test_disk_full_in_any_other_write_is_one_line_exit_74(tmp_path, capsys,
                                                          monkeypatch) -> None:
    """A plain (non-atomic) write failing for space, e.g. the run's config.yaml."""
    from gnnops.runs.cli import main

    data = write_mesh_dataset(tmp_path / "data", 4)
    cfg = write_run_config(tmp_path / "c.yaml", data, tmp_path / "runs", epochs=1)
    real = Path.write_text

    def write_text(self, *a, **k):
        if self.name == "config.yaml":
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    threads = torch.get_num_threads()
    try:
        rc = main(["--config", str(cfg), "-q"])
    finally:
        torch.set_num_threads(threads)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 74 and len(err) == 1, err
    assert "config.yaml': Disk quota exceeded (EDQUOT); free space within the quota" in err[0]


def test_unknown_problem_option_is_refused_before_anything_is_written(tmp_path,
                                                                      capsys) -> None:
    from gnnops.runs.cli import main

    spec = {"problem": "darcy", "problem_options": {"kind": "fno", "bogus": 1},
            "n_train": 2, "n_val": 1, "n_test": 1, "resolutions": [0.2]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    rc, _, err = cli(["generate", tmp_path / "spec.yaml", "--out", tmp_path / "ds"], capsys)
    assert rc == 2 and len(err) == 1 and "problem_options.bogus" in err[0], err
    cfg = {"name": "r", "out_dir": str(tmp_path / "runs"),
           "data": {"generate": spec, "cache_dir": str(tmp_path / "datasets")}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["--config", str(tmp_path / "run.yaml"), "-q"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "problem_options.bogus" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml", "spec.yaml"]


# -------------------------------------------------------------------- permissions (15.7)
def test_everything_written_follows_the_umask(tmp_path, capsys) -> None:
    old = os.umask(0o022)
    try:
        art = make_artifact(tmp_path / "model.pt")
        net_art = make_network_artifact(tmp_path / "net.pt")
        save_checkpoint(tmp_path / "ck" / "last.pt", {"epoch": 0})
        write_manifest(tmp_path, {"format": FORMAT})
        (tmp_path / "in").mkdir()
        _mesh(tmp_path / "in" / "m.vtu")
        g = nx.cycle_graph(6)
        nx.set_node_attributes(g, {i: float(i) for i in g.nodes}, "a")
        write_network(g, tmp_path / "in" / "g.graphml")
        assert cli(["predict", art, tmp_path / "in" / "m.vtu", "--out", tmp_path / "out",
                    "--no-progress"], capsys)[0] == 0
        assert cli(["predict", net_art, tmp_path / "in" / "g.graphml", "--out",
                    tmp_path / "out", "--no-progress"], capsys)[0] == 0
    finally:
        os.umask(old)
    files = [art, net_art, tmp_path / "ck" / "last.pt", tmp_path / "manifest.json",
             tmp_path / "in" / "g.graphml", tmp_path / "out" / "m.vtu",
             tmp_path / "out" / "g.graphml", tmp_path / "out" / "summary.csv",
             tmp_path / "out" / "summary.json"]
    modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    assert set(modes.values()) == {"0o644"}, modes
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sorted(Path(r["file"]).name for r in rows) == ["g.graphml", "m.vtu"]  # merged
    assert np.isfinite([r["residual"] for r in rows if r["residual"] is not None]).all()
