"""``summary.csv`` / ``summary.json`` of ``gnnops predict``, merged so no run loses rows.

Several ``gnnops predict`` runs may write into one output folder, at the same time (array
jobs without ``--shard``, a rerun while another run is still going) or one after the other
(more inputs added later). Each run merges its rows into the summary already there, under
an exclusive lock (``.<stem>.lock``, :func:`gnnops._atomic.folder_lock`): a row is keyed by
its output file, the newest row of an output replaces the older one, every other row is
kept. ``summary.json`` is the record; ``summary.csv`` is rewritten from it.

File names that are not valid UTF-8 (undecodable bytes in a name) are written with
backslash escapes in the CSV and ``\\udcXX`` escapes in the JSON, never an encoding error.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gnnops._atomic import atomic_open, folder_lock

__all__ = ["summary_stem", "merge_rows", "write_summaries", "LOCK_WAIT_S"]

LOCK_WAIT_S = 120.0  # how long a run waits for another run's summary merge
_LIST_COLUMNS = ("flags", "notes")
log = logging.getLogger(__name__)


def summary_stem(shard: tuple[int, int]) -> str:
    """``summary`` or ``summary-shard<I>of<N>``."""
    return "summary" if shard[1] == 1 else f"summary-shard{shard[0]}of{shard[1]}"


def _key(row: dict[str, Any]) -> str:
    return str(row.get("output") or row.get("file"))


def merge_rows(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """``old`` rows with those of the same output replaced by ``new`` ones (in place), then
    the new outputs' rows in their order."""
    merged = {_key(r): r for r in old}
    for r in new:
        merged[_key(r)] = r
    return list(merged.values())


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an existing ``summary.json`` (none when absent or not a summary)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("replacing unreadable summary '%s' (%s)", path, exc)
        return []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        log.warning("replacing '%s': expected a list of rows", path)
        return []
    return rows


def _csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (";".join(r.get(k) or []) if k in _LIST_COLUMNS
                        else ("" if r.get(k) is None else r[k])) for k in columns})
    return buf.getvalue()


def write_summaries(rows: Sequence[dict[str, Any]], out_dir: Path, shard: tuple[int, int],
                    columns: Sequence[str]) -> Path:
    """Merge ``rows`` into ``out_dir/<stem>.json`` and ``.csv`` under the folder's lock.

    Returns:
        The CSV path.

    Raises:
        StorageError: the disk is full or the folder unwritable (the previous summary is
            intact); ConfigError: another run held the lock for :data:`LOCK_WAIT_S` s.
    """
    stem = summary_stem(shard)
    with folder_lock(out_dir, name=f".{stem}.lock", wait=LOCK_WAIT_S,
                     what=f"the summary of '{out_dir}'"):
        merged = merge_rows(_read_rows(out_dir / f"{stem}.json"), rows)
        with atomic_open(out_dir / f"{stem}.csv", newline="",
                         errors="backslashreplace") as fh:
            fh.write(_csv_text(merged, columns))
        with atomic_open(out_dir / f"{stem}.json") as fh:
            fh.write(json.dumps(merged, indent=1) + "\n")
    return out_dir / f"{stem}.csv"
