"""Batch inputs (inference/input_files.py): expansion of files / folders / globs, shards,
collision-free output names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gnnops.errors import ConfigError
from gnnops.inference.input_files import (
    expand_inputs,
    is_input_file,
    output_paths,
    parse_shard,
    select_shard,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for name in ("b.vtu", "a.msh", "c.xdmf", "c.h5", "README.md", ".hidden.vtu", "g.graphml",
                 "sub/d.vtk"):
        (d / name).write_text("x")
    return d


def test_is_input_file():
    assert is_input_file(Path("m.VTU")) and is_input_file(Path("net.gml"))
    assert not is_input_file(Path("m.h5")) and not is_input_file(Path(".m.vtu"))
    assert not is_input_file(Path("notes.txt"))


def test_expand_folders_globs_and_plain_paths(tree: Path):
    names = [p.name for p in expand_inputs([str(tree)])]
    assert names == ["a.msh", "b.vtu", "c.xdmf", "g.graphml"]  # sorted, not recursive
    deep = expand_inputs([str(tree / "**" / "*")])
    assert sorted(p.name for p in deep) == ["a.msh", "b.vtu", "c.xdmf", "d.vtk", "g.graphml"]
    again = expand_inputs([str(tree), str(tree / "b.vtu"), str(tree / "." / "a.msh")])
    assert len(again) == 4  # the same file named twice counts once
    missing = expand_inputs([str(tree / "nope.vtu")])
    assert missing == [tree / "nope.vtu"]  # kept: the batch reports it as failed
    with pytest.raises(ConfigError, match=r"no input files matched \['.*\*.stl'\]"):
        expand_inputs([str(tree / "*.stl")])


def test_shards_partition_the_sorted_list():
    assert parse_shard(None) == (0, 1) and parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1/0", "1-3", "a/b"):
        with pytest.raises(ConfigError, match="expected --shard I/N"):
            parse_shard(bad)
    files = [Path(f"m{k}.vtu") for k in range(11)]
    shards = [select_shard(files, (i, 4)) for i in range(4)]
    assert shards[1] == [1, 5, 9]
    assert sorted(k for s in shards for k in s) == list(range(11))  # each index exactly once


# moved from test_inference_cli.py
def test_output_names_do_not_collide(tmp_path):
    files = [Path("a/x.msh"), Path("a/x.vtu"), Path("b/x.vtu"), Path("a/y.vtk"),
             Path("n/g.graphml")]
    names = [p.name for p in output_paths(files, tmp_path, "vtu")]
    assert names[3] == "y.vtu" and names[4] == "g.graphml" and names[0] == "x.msh.vtu"
    assert len(set(names)) == 5


def test_output_names_fall_back_to_a_path_hash():
    files = [Path("a/x.vtu"), Path("b/x.vtu")]  # same name in two folders
    out = output_paths(files, Path("out"), ".vtu")
    h = [hashlib.sha1(os.path.normpath(str(f)).encode()).hexdigest()[:8] for f in files]
    assert out == [Path(f"out/x.vtu-{h[0]}.vtu"), Path(f"out/x.vtu-{h[1]}.vtu")]
    assert output_paths([Path("only.msh")], Path("o"), "xdmf") == [Path("o/only.xdmf")]
