"""Tests of gnnops.inference.summary: rows merged by output under a lock, odd names."""

from __future__ import annotations

import csv
import json
import threading
import time

import gnnops.inference.summary as S
from gnnops.inference.summary import merge_rows, summary_stem, write_summaries

COLS = ["file", "output", "status", "flags", "notes", "error"]


def _row(name: str, status: str = "ok") -> dict:
    return {"file": f"in/{name}.vtu", "output": f"out/{name}.vtu", "status": status,
            "flags": [], "notes": [], "error": None}


def test_merge_replaces_rows_of_the_same_output_in_place_and_appends_new_ones() -> None:
    old = [_row("a"), _row("b", "interrupted"), _row("c")]
    new = [_row("b"), _row("d")]
    merged = merge_rows(old, new)
    assert [(r["file"], r["status"]) for r in merged] == [
        ("in/a.vtu", "ok"), ("in/b.vtu", "ok"), ("in/c.vtu", "ok"), ("in/d.vtu", "ok")]
    assert summary_stem((0, 1)) == "summary" and summary_stem((2, 4)) == "summary-shard2of4"


def test_runs_into_one_folder_keep_every_row(tmp_path) -> None:
    write_summaries([_row("a"), _row("b")], tmp_path, (0, 1), COLS)
    write_summaries([_row("c")], tmp_path, (0, 1), COLS)
    rows = json.loads((tmp_path / "summary.json").read_text())
    assert [r["file"] for r in rows] == ["in/a.vtu", "in/b.vtu", "in/c.vtu"]
    with open(tmp_path / "summary.csv", newline="") as fh:
        assert [r["file"] for r in csv.DictReader(fh)] == ["in/a.vtu", "in/b.vtu", "in/c.vtu"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.json"]


def test_concurrent_merges_lose_no_rows(tmp_path, monkeypatch) -> None:
    """Both writers read the old summary slowly: without the lock, one's rows would be lost."""
    real = S._read_rows

    def slow(path):
        rows = real(path)
        time.sleep(0.2)
        return rows

    monkeypatch.setattr(S, "_read_rows", slow)
    write_summaries([_row("first")], tmp_path, (0, 1), COLS)
    threads = [threading.Thread(target=write_summaries,
                                args=([_row(f"t{i}")], tmp_path, (0, 1), COLS))
               for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(r["file"] for r in rows) == ["in/first.vtu", "in/t0.vtu", "in/t1.vtu",
                                               "in/t2.vtu"]


def test_unreadable_old_summary_is_replaced_and_odd_names_are_escaped(tmp_path) -> None:
    (tmp_path / "summary.json").write_text("{not json")
    odd = {**_row("x"), "file": "in/bad\udcff\nname.vtu", "output": "out/bad\udcff.vtu"}
    write_summaries([odd], tmp_path, (0, 1), COLS)
    rows = json.loads((tmp_path / "summary.json").read_text())
    assert rows[0]["file"] == "in/bad\udcff\nname.vtu"  # \udcff escape round-trips
    text = (tmp_path / "summary.csv").read_text(encoding="utf-8")
    assert "bad\\udcff" in text  # undecodable byte written as a backslash escape
    with open(tmp_path / "summary.csv", newline="", encoding="utf-8") as fh:
        assert next(csv.DictReader(fh))["file"] == "in/bad\\udcff\nname.vtu"
