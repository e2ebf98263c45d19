from pathlib import Path

import meshio
import numpy as np

from gnnops.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "data" / "darcy.yaml"


def test_generate_command_writes_then_skips(tmp_path, capsys):
    out = tmp_path / "darcy"
    assert main(["generate", str(CONFIG), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    # configs/data/darcy.yaml: 16 train + 4 val + 4 test x 3 resolutions
    assert str(out) in text and "32 samples (32 new, 0 skipped)" in text
    m = meshio.read(out / "test" / "res2" / "00003.vtu")
    assert {"a", "f", "u"} <= set(m.point_data)
    assert len(m.points) > 1000 and np.all(m.point_data["u"] >= 0)
    assert set(np.unique(m.point_data["a"])) == {3.0, 12.0}
    assert main(["generate", str(CONFIG), "--out", str(out), "--quiet", "--workers", "2"]) == 0
    assert "32 samples (0 new, 32 skipped)" in capsys.readouterr().out


def test_generate_command_errors(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problem: darcy\nn_trian: 3\n")
    assert main(["generate", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown config key 'n_trian'" in err
    assert "did you mean 'n_train'?" in err  # the same validator as the run config
    bad.write_text("problem: darcy\nproblem_options: {kindd: fno}\n")
    assert main(["generate", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'problem_options.kindd' for problem 'darcy'" in err
    assert main(["generate", str(tmp_path / "none.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
