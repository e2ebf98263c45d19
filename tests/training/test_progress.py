"""metrics.csv and the per-epoch log line (training/progress.py)."""

from __future__ import annotations

from gnnops.training.progress import CSV_FIELDS, epoch_line, read_csv, write_csv


def test_metrics_csv_round_trip_and_missing_file(tmp_path) -> None:
    rows = [{"epoch": 1, "train_loss": 0.5, "val_rel_l2": 0.25, "lr": 0.001, "seconds": 1.5},
            {"epoch": 2, "train_loss": 0.125, "val_rel_l2": 0.0625, "lr": 0.0005,
             "seconds": 1.25}]
    path = tmp_path / "metrics.csv"
    write_csv(path, rows)
    assert path.read_text().splitlines()[0] == ",".join(CSV_FIELDS)
    back = read_csv(path)
    assert [{k: float(v) for k, v in r.items()} for r in back] == rows
    write_csv(path, rows[:1])  # rewritten whole, e.g. a resumed run keeping its first rows
    assert len(read_csv(path)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary left
    assert read_csv(tmp_path / "none.csv") == []


# moved from test_trainer.py
def test_epoch_line_names_loss_val_time_and_eta() -> None:
    row = {"epoch": 3, "train_loss": 0.012341, "val_rel_l2": 0.5, "lr": 1e-3, "seconds": 2.5}
    line = epoch_line(row, 40, elapsed=7.5, done=3)  # 2.5 s / epoch, 37 epochs left
    assert line == ("epoch 3/40 train_loss 0.01234 val_rel_l2 0.5 lr 0.001 time 2.50s "
                    "eta 1:32")
    assert epoch_line(row, 3, elapsed=7.5, done=3).endswith("eta 0:00")
    assert epoch_line(row, 3000, elapsed=7.5, done=3).endswith("eta 2:04:52")
