"""manifest.json (data/manifest.py): deterministic atomic write, read-back, format checks."""

from __future__ import annotations

import json

import pytest

from gnnops.data.manifest import FORMAT, VERSION, mesh_file, read_manifest, write_manifest
from gnnops.errors import DataError


def _manifest(**change):
    return {"format": FORMAT, "version": VERSION, "problem": "darcy", "input_fields": ["a"],
            "output_fields": ["u"], "resolutions": [0.2], "splits": {"train": {"count": 1}},
            "samples": [{"file": "train/res0/00000.vtu", "split": "train", "resolution": 0,
                         "index": 0, "seed": 7, "rng": [2, 0, 0], "nodes": 36}], **change}


def test_round_trip_is_exact_and_deterministic(tmp_path):
    man = _manifest(field_dims={"u": 1, "a": 1})
    path = write_manifest(tmp_path, man)
    assert path == tmp_path / "manifest.json"
    assert read_manifest(tmp_path) == man
    first = path.read_bytes()
    write_manifest(tmp_path, dict(reversed(list(man.items()))))  # key order does not matter
    assert path.read_bytes() == first
    assert first.endswith(b"}\n") and json.loads(first)["field_dims"] == {"a": 1, "u": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary left


@pytest.mark.parametrize("change,msg", [
    ({"format": "other"}, r"not a gnnops dataset manifest: expected format 'gnnops-dataset' "
                          r"\(got 'other'\)"),
    ({"version": 99}, r"dataset version 99; this gnnops reads version 1"),
])
def test_other_format_or_version(tmp_path, change, msg):
    (tmp_path / "manifest.json").write_text(json.dumps(_manifest(**change)))
    with pytest.raises(DataError, match=msg):
        read_manifest(tmp_path)


def test_missing_keys_unreadable_and_absent(tmp_path):
    man = _manifest()
    del man["samples"], man["splits"]
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match=r"lacks the key\(s\) \['splits', 'samples'\]"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(DataError, match=r"expected format 'gnnops-dataset' \(got 'list'\)"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read .* as JSON"):
        read_manifest(tmp_path)
    with pytest.raises(DataError, match="no manifest.json in"):
        read_manifest(tmp_path / "nowhere")


@pytest.mark.parametrize("file", ["../x.vtu", "train/../../x.vtu", "/etc/passwd",
                                  "C:\\data\\x.vtu", "a\\..\\..\\x.vtu", "", 7, None])
def test_sample_paths_outside_the_dataset_folder_are_refused(tmp_path, file):
    man = _manifest()
    man["samples"][0]["file"] = file
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match=r"outside the dataset folder|relative path inside"):
        read_manifest(tmp_path)


def test_sample_resolution_must_be_an_index(tmp_path):
    man = _manifest()
    man["samples"][0]["resolution"] = "../../x"
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match=r"integer 'resolution' >= 0 \(got '../../x'\)"):
        read_manifest(tmp_path)


def test_symlink_out_of_a_generated_dataset_is_refused(tmp_path):
    from gnnops.data.dataset import Dataset

    root = tmp_path / "ds"
    (root / "train" / "res0").mkdir(parents=True)
    (tmp_path / "secret.vtu").write_text("outside")
    (root / "train" / "res0" / "00000.vtu").symlink_to(tmp_path / "secret.vtu")
    (root / "train" / "res0" / "00001.vtu").write_text("inside")
    ds = Dataset(root, _manifest(), generated=True)
    with pytest.raises(DataError, match=r"resolves to '.*secret\.vtu', outside the dataset "
                                        r"folder"):
        ds.path({"file": "train/res0/00000.vtu"})
    assert ds.path({"file": "train/res0/00001.vtu"}) == root / "train" / "res0" / "00001.vtu"


@pytest.mark.parametrize("geometry", ["../../x", "a/b", "..", "", 3])
def test_sample_geometry_must_be_a_plain_name(tmp_path, geometry):
    """A geometry names the shared mesh meshes/<geometry>_res<k>.vtu: no path allowed."""
    man = _manifest()
    man["samples"][0]["geometry"] = geometry
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match="plain 'geometry' name"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("variant", [0, -1, 1.0, "1", True, None])
def test_sample_variant_must_be_a_positive_int(tmp_path, variant):
    """A variant names the shared mesh meshes/res<k>_v<j>.vtu; canonical samples omit it."""
    man = _manifest()
    man["samples"][0]["variant"] = variant
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(DataError, match="integer mesh 'variant' >= 1"):
        read_manifest(tmp_path)
    man["samples"][0]["variant"] = 2
    write_manifest(tmp_path, man)
    assert read_manifest(tmp_path)["samples"][0]["variant"] == 2


def test_mesh_file_names():
    assert mesh_file(0) == "meshes/res0.vtu" and mesh_file(2, None, 0) == "meshes/res2.vtu"
    assert mesh_file(1, None, 3) == "meshes/res1_v3.vtu"
    assert mesh_file(1, "l_shape") == "meshes/l_shape_res1.vtu"
    assert mesh_file(0, "l_shape", 7) == "meshes/l_shape_res0_v7.vtu"
