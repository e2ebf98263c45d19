"""benchmarks/time_to_accuracy.py: first epoch at a target, on hand-made run folders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("tta", ROOT / "benchmarks" / "time_to_accuracy.py")
tta = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tta)


def test_first_reach_and_table(tmp_path: Path) -> None:
    rows = [{"epoch": 1, "val_rel_l2": 0.3, "seconds": 2.0},
            {"epoch": 2, "val_rel_l2": 0.09, "seconds": 3.0},
            {"epoch": 3, "val_rel_l2": 0.12, "seconds": 4.0}]
    assert tta.first_reach(rows, 0.1) == (5.0, 2)
    assert tta.first_reach(rows, 0.05) is None
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("model:\n  name: transolver\n")
    (run / "metrics.csv").write_text("epoch,train_loss,val_rel_l2,lr,seconds\n"
                                     "1,0.5,0.3,0.001,2.0\n2,0.1,0.09,0.001,3.0\n")
    text = tta.table([run], [0.1, 0.05])
    assert "| r | transolver | 5 (2) | — | 0.0900 | 5 |" in text
