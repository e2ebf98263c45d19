import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gnnops.cli import main
from gnnops.data import GenerateSpec, open_dataset, run_generation
from gnnops.data.generate import plan_tasks
from gnnops.data.shards import merge_shards, parse_shard, shard_file, shard_tasks
from gnnops.errors import DataError

SPEC = {"problem": "darcy", "problem_options": {"kind": "fno"}, "resolutions": [0.25, 0.125],
        "n_train": 3, "n_val": 1, "n_test": 2, "seed": 3}
REPO = Path(__file__).resolve().parents[2]


def sample_files(root):
    """Relative path -> bytes of every sample and mesh file (not the manifest)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.vtu"))}


def test_parse_shard_and_disjoint_cover():
    assert parse_shard("1/4") == (1, 4) and parse_shard((0, 2)) == (0, 2)
    assert parse_shard(None) is None
    for bad in ("4/4", "-1/2", "1", "a/b", (1, 1), (True, 2)):
        with pytest.raises(DataError, match="expected shard 'I/N'"):
            parse_shard(bad)
    tasks = plan_tasks(GenerateSpec.from_dict(SPEC), "mesh")
    assert len(tasks) == 3 + 1 + 2 * 2
    parts = [shard_tasks(tasks, (i, 3)) for i in range(3)]
    files = [t.file for p in parts for t in p]
    assert sorted(files) == sorted(t.file for t in tasks) and len(set(files)) == len(tasks)


def test_two_concurrent_shard_processes_equal_one_process(tmp_path):
    one = run_generation(SPEC, tmp_path / "one", progress=False).path
    cfg = tmp_path / "spec.yaml"
    cfg.write_text(json.dumps(SPEC))  # JSON is YAML
    out = tmp_path / "sharded"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "gnnops.cli", "generate", str(cfg), "--out",
                               str(out), "--shard", f"{i}/2", "--quiet"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("manifest.json written" in o for o, _ in outs) >= 1
    assert (out / "manifest.json").read_text() == (one / "manifest.json").read_text()
    assert sample_files(out) == sample_files(one)
    assert sorted(p.name for p in (out / "manifest.d").iterdir()) == [
        "shard-0-of-2.json", "shard-1-of-2.json"]
    assert len(open_dataset(out).samples("train")) == 3


def test_missing_shard_named_when_opened_then_completed(tmp_path, capsys):
    out = tmp_path / "ds"
    res = run_generation(SPEC, out, progress=False, shard="0/2")
    assert not res.complete and res.new == 4 and not (out / "manifest.json").exists()
    with pytest.raises(DataError, match=r"incomplete: shard\(s\) 1/2 of 2 missing"):
        open_dataset(out)
    assert main(["generate", "--merge", "--out", str(out)]) == 2
    assert "shard(s) 1/2 of 2 missing" in capsys.readouterr().err
    assert merge_shards(out) is None  # not required: nothing to do yet
    res = run_generation(SPEC, out, progress=False, shard=(1, 2), merge=False)
    assert not res.complete and not (out / "manifest.json").exists()
    with pytest.raises(DataError, match="all 2 shards present but not merged"):
        open_dataset(out)
    assert main(["generate", "--merge", "--out", str(out)]) == 0
    assert "merged, 8 samples" in capsys.readouterr().out
    one = run_generation(SPEC, tmp_path / "one", progress=False).path
    assert (out / "manifest.json").read_text() == (one / "manifest.json").read_text()
    rerun = run_generation(SPEC, out, progress=False, shard="1/2")  # a rerun skips and remerges
    assert rerun.new == 0 and rerun.skipped == 4 and rerun.complete


def test_shards_must_agree_on_the_spec(tmp_path):
    out = tmp_path / "ds"
    run_generation(SPEC, out, progress=False, shard="0/2")
    with pytest.raises(DataError, match="another spec"):
        run_generation({**SPEC, "seed": 4}, out, progress=False, shard="1/2")
    rec = json.loads(shard_file(out, 0, 2).read_text())
    rec["spec"]["seed"] = 9  # a record tampered with / from another folder
    shard_file(out, 0, 2).write_text(json.dumps(rec))
    with pytest.raises(DataError, match="from another spec than .gnnops-spec.json"):
        run_generation(SPEC, out, progress=False, shard="1/2")
