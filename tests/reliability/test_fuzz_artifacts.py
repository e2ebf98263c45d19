"""Fuzzing model artifacts (hypothesis): byte-level mutations of a valid small artifact, and
re-sealed edits of its metadata and tensors (as someone rewriting the file would make them,
with a matching integrity digest). Every case loads (and then builds a predictor) or raises
a GnnopsError -- never another exception, never a hang. At least 300 cases within 30 s."""

from __future__ import annotations

import io
import json
import signal
import time
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_fixtures import make_artifact, reseal

from gnnops.errors import GnnopsError
from gnnops.inference import Predictor
from gnnops.surrogate.artifact import load_artifact

N_CASES = 320
BUDGET_S = 30.0
HANG_S = 10  # one case taking this long is a hang


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> dict:
    """The valid artifact: its bytes, the span of its pickle record and its payload."""
    path = make_artifact(tmp_path_factory.mktemp("fuzz") / "model.pt")
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("data.pkl"))
    name_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    return {"raw": raw, "pkl": (start, start + info.file_size),
            "payload": torch.load(path, weights_only=True), "dir": path.parent}


def _flip(raw: bytes, edits: list[tuple[int, int]], lo: int = 0, hi: int | None = None) -> bytes:
    b = bytearray(raw)
    hi = len(b) if hi is None else hi
    for pos, val in edits:
        b[lo + pos % (hi - lo)] ^= val
    return bytes(b)


def _saved(payload: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


_BYTE_EDITS = st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1,
                       max_size=8)
MUTATION = st.one_of(
    st.tuples(st.just("flip"), _BYTE_EDITS),
    st.tuples(st.just("pickle"), _BYTE_EDITS),  # inside the record index (data.pkl)
    st.tuples(st.just("truncate"), st.integers(0, 2**31)),
    st.tuples(st.just("splice"), st.integers(0, 2**31), st.integers(0, 64), st.binary(max_size=64)),
    st.tuples(st.just("meta_text"), _BYTE_EDITS),  # edited metadata JSON, re-sealed
    st.tuples(st.just("meta_value"), st.sampled_from(["model_kwargs", "recipe", "config"]),
              st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                           | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12), st.text(min_size=1, max_size=16)),
    st.tuples(st.just("tensor"), st.sampled_from(["state_dict", "normalizers"]),
              st.integers(0, 63), st.lists(st.integers(0, 9), max_size=3),
              st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool,
                               torch.bfloat16])),
)


def _mutate(orig: dict, m: tuple) -> bytes:
    raw, kind = orig["raw"], m[0]
    if kind == "flip":
        return _flip(raw, m[1])
    if kind == "pickle":
        return _flip(raw, m[1], *orig["pkl"])
    if kind == "truncate":
        return raw[: m[1] % len(raw)]
    if kind == "splice":
        at = m[1] % len(raw)
        return raw[:at] + m[3] + raw[at + m[2]:]
    payload = {k: (dict(v) if isinstance(v, dict) else v) for k, v in orig["payload"].items()}
    if kind == "meta_text":
        text = _flip(payload["meta"].encode(), m[1]).decode("utf-8", "replace")
        try:
            json.loads(text)
        except ValueError:
            payload["meta"] = text  # unparseable: sent as is
            return _saved(payload)
        payload["meta"] = text
        return _saved(reseal(payload))
    if kind == "meta_value":
        meta = json.loads(payload["meta"])
        target = meta.setdefault(m[1], {})
        if isinstance(target, dict):
            target[m[3]] = m[2]
        payload["meta"] = json.dumps(meta)
        return _saved(reseal(payload))
    _, part, which, shape, dtype = m
    names = sorted(payload[part])
    payload[part][names[which % len(names)]] = torch.ones(shape, dtype=dtype)
    return _saved(reseal(payload))


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def _load_or_gnnops_error(path: Path) -> str:
    """'loaded' / 'refused'; any other exception propagates (the test fails)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_artifact(path)
            Predictor.from_artifact(path)
    except GnnopsError:
        return "refused"
    return "loaded"


def test_mutated_artifacts_load_or_raise_gnnops_error(original) -> None:
    outcomes: dict[str, int] = {"loaded": 0, "refused": 0}
    kinds: set[str] = set()
    path = original["dir"] / "mutant.pt"
    previous = signal.signal(signal.SIGALRM, _alarm)

    @settings(max_examples=N_CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(m=MUTATION)
    def case(m) -> None:
        path.write_bytes(_mutate(original, m))
        kinds.add(m[0])
        signal.alarm(HANG_S)
        try:
            outcomes[_load_or_gnnops_error(path)] += 1
        except _Hang:
            raise AssertionError(f"loading hung for {HANG_S} s on mutation {m!r:.200}") from None
        finally:
            signal.alarm(0)

    t0 = time.monotonic()
    try:
        case()
    finally:
        signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - t0
    print(f"fuzz: {outcomes} in {elapsed:.1f} s")
    assert sum(outcomes.values()) >= 300, outcomes
    assert elapsed <= BUDGET_S, f"{sum(outcomes.values())} cases took {elapsed:.1f} s"
    assert outcomes["refused"] > 0 and len(kinds) == 7, (outcomes, kinds)
