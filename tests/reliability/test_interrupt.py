"""Interrupted work: SIGKILL mid-epoch + resume, a kill while saving a checkpoint, Ctrl-C
during batch prediction (only complete outputs, a summary, rerun skips finished files)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from reliability_fixtures import (
    cli,
    field_a,
    make_artifact,
    square_mesh,
    write_mesh_dataset,
    write_run_config,
)

from gnnops.graphs import read_mesh, write_mesh
from gnnops.surrogate.artifact import load_artifact
from gnnops.training.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"subprocess ended early (rc {proc.returncode}): "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.05)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# the training subprocess: the 10th optimizer step (epoch 3 of 6, step 2 of 4) announces
# itself and blocks, so the parent's SIGKILL lands mid-epoch, deterministically
_KILLED_TRAIN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import gnnops.training.loop as loop
    real, calls = loop.batch_loss, [0]
    def slow(*a, **k):
        calls[0] += 1
        if calls[0] == 10:
            Path(sys.argv[2]).write_text("mid-epoch")
            time.sleep(300)
        return real(*a, **k)
    loop.batch_loss = slow
    from gnnops.runs.cli import main
    sys.exit(main(["--config", sys.argv[1], "-q"]))
""")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, capsys) -> None:
    data = write_mesh_dataset(tmp_path / "data", 10)  # 8 train (4 steps/epoch), 2 val
    ref_cfg = write_run_config(tmp_path / "ref.yaml", data, tmp_path / "runs", name="ref")
    cut_cfg = write_run_config(tmp_path / "cut.yaml", data, tmp_path / "runs", name="cut")
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_TRAIN, str(cut_cfg), str(marker)],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    cut = tmp_path / "runs" / "cut"
    assert load_checkpoint(cut / "checkpoints" / "last.pt")["epoch"] == 1  # 2 epochs saved
    assert [int(r["epoch"]) for r in _rows(cut)] == [1, 2]
    assert not (cut / "model.pt").exists()  # nothing half-done looks finished

    threads = torch.get_num_threads()
    try:  # the uninterrupted reference, in this process
        from gnnops.runs.cli import main

        assert main(["--config", str(ref_cfg), "-q"]) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    res = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", str(cut_cfg),
                          "--resume", "-q"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    ref = tmp_path / "runs" / "ref"
    a, b = _rows(ref), _rows(cut)
    assert [int(r["epoch"]) for r in b] == [1, 2, 3, 4, 5, 6]
    # tolerance: 1e-6 relative (the resumed run restores every RNG and optimizer state;
    # in practice the numbers agree bit for bit on one thread)
    for ra, rb in zip(a, b, strict=True):
        for key in ("train_loss", "val_rel_l2", "lr"):
            assert float(rb[key]) == pytest.approx(float(ra[key]), rel=1e-6, abs=1e-12)
    wa, wb = load_artifact(ref / "model.pt"), load_artifact(cut / "model.pt")
    assert wa.metrics["best_val_rel_l2"] == pytest.approx(wb.metrics["best_val_rel_l2"],
                                                          rel=1e-6)
    for k, v in wa.state_dict.items():
        torch.testing.assert_close(wb.state_dict[k], v, rtol=1e-6, atol=1e-8)
    assert float(a[-1]["val_rel_l2"]) < float(a[0]["val_rel_l2"])  # it did learn something


# saves checkpoint A, then starts writing B through a torch.save that stops half-way and
# blocks: the parent's SIGKILL lands in the middle of the write
_KILLED_SAVE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import torch
    import gnnops.training.checkpoint as ck
    path, marker = Path(sys.argv[1]), Path(sys.argv[2])
    ck.save_checkpoint(path, {"epoch": 0, "w": torch.zeros(1000)})
    real = torch.save
    def half(obj, fh, *a, **k):
        import io
        buf = io.BytesIO(); real(obj, buf)
        fh.write(buf.getvalue()[: len(buf.getvalue()) // 2]); fh.flush()
        marker.write_text("half")
        time.sleep(300)
    ck.torch.save = half
    ck.save_checkpoint(path, {"epoch": 1, "w": torch.ones(1000)})
""")


def test_kill_during_checkpoint_save_keeps_previous_latest(tmp_path) -> None:
    path, marker = tmp_path / "checkpoints" / "last.pt", tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_SAVE, str(path), str(marker)],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    state = load_checkpoint(path)  # the previous "latest", complete
    assert state["epoch"] == 0 and float(state["w"].sum()) == 0.0
    stale = list(path.parent.glob(".last.pt.*.tmp"))
    assert len(stale) == 1 and stale[0].stat().st_size > 0  # the half-written temporary
    save_checkpoint(path, {"epoch": 2, "w": torch.full((3,), 2.0)})
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # stale temporary removed
    assert load_checkpoint(path)["epoch"] == 2


def _mesh_folder(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        m = square_mesh(5 + i % 3)
        m.point_data["a"] = field_a(m)
        write_mesh(m, folder / f"m{i:02d}.vtu")
    return folder


def _interrupt_after(monkeypatch, k: int) -> list[int]:
    """Send this process a real SIGINT when the k-th file's prediction starts."""
    import gnnops.inference.cli as pcli

    real, started = pcli._predict_one, []

    def predict_one(*args, **kwargs):
        started.append(1)
        if len(started) == k:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # let the handler run while this file is still in flight
        return real(*args, **kwargs)

    monkeypatch.setattr(pcli, "_predict_one", predict_one)
    return started


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigint_batch_leaves_complete_outputs_summary_and_rerun_skips(
        tmp_path, capsys, monkeypatch, jobs) -> None:
    art = make_artifact(tmp_path / "model.pt")
    inp = _mesh_folder(tmp_path / "in", 12)
    out = tmp_path / "out"
    started = _interrupt_after(monkeypatch, 4)
    rc, _, err = cli(["predict", art, inp, "--out", out, "--jobs", jobs, "--no-progress"], capsys)
    assert rc == 130
    assert len(err) == 1 and "interrupted" in err[0] and "rerun" in err[0]
    rows = json.loads((out / "summary.json").read_text())
    status = {Path(r["file"]).name: r["status"] for r in rows}
    done = sorted(f for f, s in status.items() if s == "ok")
    # the file in flight at Ctrl-C finishes; at most 2 * jobs were started, none after
    assert 4 <= len(done) <= 2 * jobs + 2 and len(started) == len(done)
    assert set(status.values()) == {"ok", "interrupted"} and len(status) == 12
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(done
                             + ["summary.csv", "summary.json"])  # no temporaries, no partials
    for f in done:  # every output is complete: it reads back with the predicted field
        assert read_mesh(out / f).point_data["u"].shape == (len(read_mesh(inp / f).points),)

    monkeypatch.undo()
    rc, stdout, _ = cli(["predict", art, inp, "--out", out, "--jobs", jobs, "--no-progress"],
                        capsys)
    assert rc == 0
    rows = json.loads((out / "summary.json").read_text())
    again = {Path(r["file"]).name: r["status"] for r in rows}
    assert sorted(f for f, s in again.items() if s == "skipped") == done
    assert sum(s == "ok" for s in again.values()) == 12 - len(done)
    assert f"predicted {12 - len(done)} of 12 files (0 failed, {len(done)} skipped)" in stdout


# ------------------------------------------------------------------ SIGTERM (issue 15.5)
# `gnnops predict` in a subprocess: the 3rd file announces itself and takes 2 s, so the
# parent's SIGTERM lands while it is in flight
_TERMINATED_PREDICT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import gnnops.inference.cli as pcli
    real, calls = pcli._predict_one, [0]
    def slow(*a, **k):
        calls[0] += 1
        if calls[0] == 3:
            Path(sys.argv[4]).write_text("in flight")
            time.sleep(2)
        return real(*a, **k)
    pcli._predict_one = slow
    from gnnops.cli import main
    sys.exit(main(["predict", sys.argv[1], sys.argv[2], "--out", sys.argv[3], "--no-progress"]))
""")


def test_sigterm_batch_finishes_the_file_in_flight_writes_summary_exit_143(tmp_path,
                                                                          capsys) -> None:
    from gnnops._atomic import HOST_TAG

    art = make_artifact(tmp_path / "model.pt")
    inp = _mesh_folder(tmp_path / "in", 8)
    out, marker = tmp_path / "out", tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _TERMINATED_PREDICT, str(art), str(inp),
                             str(out), str(marker)], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "interrupted by SIGTERM: 3 of 8 files predicted" in lines[0]
    rows = json.loads((out / "summary.json").read_text())
    status = {Path(r["file"]).name: r["status"] for r in rows}
    done = sorted(f for f, s in status.items() if s == "ok")
    assert done == ["m00.vtu", "m01.vtu", "m02.vtu"]  # the file in flight finished
    assert sorted(p.name for p in out.iterdir()) == done + ["summary.csv", "summary.json"]
    for f in done:
        assert read_mesh(out / f).point_data["u"].shape == (len(read_mesh(inp / f).points),)

    # a run killed hard (SIGKILL) left temporaries; the next run removes only the dead one's
    dead = proc.pid  # reaped above: no longer running
    (out / f".tmp-{HOST_TAG}-{dead}-0123abcd").mkdir()
    (out / f".m05.vtu.{HOST_TAG}-{dead}-0123abcd.tmp").write_text("half")
    live = out / f".x.vtu.{HOST_TAG}-{os.getppid()}-0123abcd.tmp"
    live.write_text("another run's write in progress")
    rc, stdout, _ = cli(["predict", art, inp, "--out", out, "--no-progress"], capsys)
    assert rc == 0 and "predicted 5 of 8 files (0 failed, 3 skipped)" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [live.name] + [f"m{i:02d}.vtu" for i in range(8)] + ["summary.csv", "summary.json"])


# train.py in a subprocess: the 10th optimizer step (epoch 3 of 6) announces itself and blocks
_BLOCKED_TRAIN = _KILLED_TRAIN.replace("time.sleep(300)", "time.sleep(120)")


@pytest.mark.slow
def test_second_train_with_same_name_exits_2_and_sigterm_keeps_checkpoint(tmp_path) -> None:
    data = write_mesh_dataset(tmp_path / "data", 10)
    cfg = write_run_config(tmp_path / "cut.yaml", data, tmp_path / "runs", name="cut")
    marker, run = tmp_path / "marker", tmp_path / "runs" / "cut"
    proc = subprocess.Popen([sys.executable, "-c", _BLOCKED_TRAIN, str(cfg), str(marker)],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait_for(marker, proc)
        second = subprocess.run([sys.executable, str(ROOT / "train.py"), "--config", str(cfg),
                                 "-q"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 2, second.stderr
        err = [ln for ln in second.stderr.splitlines() if ln.strip()]
        assert len(err) == 1 and f"is in use by process {proc.pid} on" in err[0], err
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "terminated by SIGTERM (resume with --resume)" in stderr
    # the checkpoint of the last finished epoch, intact (epochs are 0-based in the
    # checkpoint, 1-based in metrics.csv); the step in flight was dropped
    epochs = [int(r["epoch"]) for r in _rows(run)]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 1
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == epochs[-1] - 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt"]
    assert not (run / ".lock").exists() and not (run / "model.pt").exists()
