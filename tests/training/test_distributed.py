"""DDP: ``torchrun --nproc_per_node=2`` (gloo, CPU) matches a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from training_fixtures import make_graphs

from gnnops.training.config import load_config
from gnnops.training.distributed import DistInfo, all_reduce_sum, setup
from gnnops.training.trainer import train

HERE = Path(__file__).resolve().parent

WORKER = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("training_fixtures", {fixtures!r})
fx = importlib.util.module_from_spec(spec); spec.loader.exec_module(fx)
from gnnops.models import MODELS
from gnnops.training.config import load_config
from gnnops.training.trainer import train
MODELS["toy"] = fx.ToyGNN
cfg = load_config(overrides={overrides!r})
res = train(cfg, train_data=fx.make_graphs(8, 0), val_data=fx.make_graphs(5, 1))
with open({out!r} + f"/rank{{os.environ['RANK']}}.json", "w") as fh:
    json.dump(res.metrics, fh)
"""


def _overrides(out_dir: Path) -> list[str]:
    return ["model.name=toy", "model.kwargs={hidden: 16}", "data.generate=null",
            f"out_dir={out_dir}", "name=ddp", "optim.epochs=3", "data.batch_size=4",
            "optim.lr=0.01", "train.device=cpu", "seed=3", "train.threads=1"]


def test_single_process_setup_is_noop(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = setup("cpu")
    assert (info.rank, info.world, info.is_main) == (0, 1, True)
    assert all_reduce_sum([1.5, 2.0], DistInfo()) == [1.5, 2.0]


@pytest.mark.slow
def test_ddp_two_ranks_match_single_process(toy_model, tmp_path) -> None:
    ddp_dir, single_dir = tmp_path / "ddp", tmp_path / "single"
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(fixtures=str(HERE.parent / "training_fixtures.py"),
                                    overrides=_overrides(ddp_dir), out=str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(script)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["world_size"] == 2 and r0["best_val_rel_l2"] == r1["best_val_rel_l2"]
    assert (ddp_dir / "ddp" / "model.pt").is_file()
    single = train(load_config(overrides=_overrides(single_dir)),
                   train_data=make_graphs(8, 0), val_data=make_graphs(5, 1))
    assert single.metrics["world_size"] == 1
    for k in ("best_val_rel_l2", "final_train_loss", "final_val_rel_l2"):
        assert r0[k] == pytest.approx(single.metrics[k], rel=1e-4), k
