import importlib
import json

import meshio
import numpy as np
import pytest

from gnnops import problems
from gnnops.data import GenerateSpec, generate, open_dataset, run_generation
from gnnops.errors import DataError, ProblemError
from gnnops.problems.base import InputSample, Problem, register

gen = importlib.import_module("gnnops.data.generate")  # the package exports a function


@register
class FakeWave(Problem):
    """c = amp * sin(k pi x + phase) + 2 y; u = c^2; g = [c, -c] (a vector field)."""

    name = "fake_data_wave"
    kind = "mesh"
    input_fields = ("c",)
    output_fields = ("u", "g")
    SOLVES = 0

    def sample_inputs(self, rng, *, amp_max=2.0):
        if amp_max <= 1.0:
            raise ProblemError(f"expected amp_max > 1 (got {amp_max})")
        return InputSample(self.name, {"amp": float(rng.uniform(1.0, amp_max)),
                                       "k": int(rng.integers(1, 4)),
                                       "phase": float(rng.uniform(0, 1))})

    def evaluate_inputs(self, sample, mesh):
        p, x = sample.params, np.asarray(mesh.points)
        return {"c": p["amp"] * np.sin(p["k"] * np.pi * x[:, 0] + p["phase"]) + 2 * x[:, 1]}

    def solve(self, mesh, *, c):
        FakeWave.SOLVES += 1
        return {"u": c**2, "g": np.stack([c, -c], axis=1)}


def grid_mesh(geometry, h):
    """Unit-square grid of n = 1/h segments per side, 2 triangles per square."""
    n = int(round(1 / h))
    xs = np.linspace(0, 1, n + 1)
    X, Y = np.meshgrid(xs, xs, indexing="xy")
    pts = np.column_stack([X.ravel(), Y.ravel(), np.zeros(X.size)])
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    a = (j * (n + 1) + i).ravel()
    b, c, d = a + 1, a + n + 2, a + n + 1
    tri = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return meshio.Mesh(pts, [("triangle", tri)])


@pytest.fixture
def fake_meshes(monkeypatch):
    monkeypatch.setattr(gen, "_make_mesh", grid_mesh)


def fake_spec(**kw):
    d = {"problem": "fake_data_wave", "resolutions": [0.25, 0.125, 0.0625], "n_train": 3,
         "n_val": 2, "n_test": 2, "seed": 5, **kw}
    return GenerateSpec.from_dict(d)


def key(points):
    return [tuple(p) for p in np.round(points[:, :2], 9)]


def test_manifest_and_nested_coefficients(tmp_path, fake_meshes):
    root = generate(fake_spec(), tmp_path / "ds", progress=False)
    man = json.loads((root / "manifest.json").read_text())
    assert man["format"] == "gnnops-dataset" and man["version"] == 1
    assert man["nodes_per_resolution"] == [25, 81, 289]  # (n + 1)^2, n = 4, 8, 16
    assert man["splits"]["train"] == {"resolution": 0, "resolutions": [0], "count": 3}
    assert man["splits"]["val"] == {"resolution": 0, "resolutions": [0], "count": 2}
    assert man["splits"]["test"] == {"resolution": None, "resolutions": [0, 1, 2], "count": 2}
    assert len(man["samples"]) == 3 + 2 + 2 * 3
    assert man["field_dims"] == {"c": 1, "g": 2, "u": 1}
    assert man["field_shapes"]["g"] == [2] and man["input_fields"] == ["c"]
    assert man["spec"] == fake_spec().to_dict()
    for s in man["samples"]:
        m = meshio.read(root / s["file"])
        assert len(m.points) == s["nodes"] == man["nodes_per_resolution"][s["resolution"]]
        np.testing.assert_allclose(m.point_data["u"], m.point_data["c"] ** 2)
    assert [len(meshio.read(root / f"meshes/res{k}.vtu").points) for k in range(3)] == \
        [25, 81, 289]

    # the same test sample is the same function at every resolution: the coarse grid's
    # nodes are nodes of the finer grids, and c agrees there exactly
    def field(split, k, i):
        m = meshio.read(root / f"{split}/res{k}/{i:05d}.vtu")
        return dict(zip(key(m.points), m.point_data["c"], strict=True))

    for i in range(2):
        coarse = field("test", 0, i)
        for k in (1, 2):
            fine = field("test", k, i)
            assert all(np.isclose(fine[p], v, rtol=0, atol=1e-12) for p, v in coarse.items())
    c0, c1 = field("test", 0, 0), field("test", 0, 1)
    assert max(abs(c0[p] - c1[p]) for p in c0) > 1e-3  # different samples differ
    # and test sample 0 is not train sample 0 (another split id in the seed)
    t0 = field("train", 0, 0)
    assert max(abs(c0[p] - t0[p]) for p in c0) > 1e-3


def test_worker_count_does_not_change_files(tmp_path, fake_meshes):
    a = generate(fake_spec(), tmp_path / "a", workers=1, progress=False)
    b = generate(fake_spec(), tmp_path / "b", workers=2, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*.vtu"))
    assert len(files) == 3 + 2 + 6 + 3
    assert sorted(p.relative_to(b) for p in b.rglob("*.vtu")) == files
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    c = generate(fake_spec(seed=6), tmp_path / "c", progress=False)
    u_a = meshio.read(a / "train/res0/00000.vtu").point_data["c"]
    u_c = meshio.read(c / "train/res0/00000.vtu").point_data["c"]
    assert not np.allclose(u_a, u_c)


def test_rerun_skips_finished_samples(tmp_path, fake_meshes):
    FakeWave.SOLVES = 0
    res = run_generation(fake_spec(), tmp_path / "ds", progress=False)
    assert (res.new, res.skipped, FakeWave.SOLVES) == (11, 0, 11)
    root = res.path
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*.vtu")}
    manifest = (root / "manifest.json").read_bytes()
    res = run_generation(fake_spec(), root, progress=False)
    assert (res.new, res.skipped, FakeWave.SOLVES) == (0, 11, 11)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.vtu")} == mtimes
    assert (root / "manifest.json").read_bytes() == manifest
    # a lost file and a truncated one are produced again, nothing else
    (root / "train/res0/00001.vtu").unlink()
    bad = root / "test/res2/00000.vtu"
    bad.write_bytes(bad.read_bytes()[:200])
    res = run_generation(fake_spec(), root, progress=False)
    assert (res.new, res.skipped, FakeWave.SOLVES) == (2, 9, 13)
    assert (root / "manifest.json").read_bytes() == manifest
    assert not list(root.rglob(".*tmp*"))


def test_folder_of_another_spec_is_refused(tmp_path, fake_meshes):
    root = generate(fake_spec(), tmp_path / "ds", progress=False)
    with pytest.raises(DataError, match="another spec"):
        generate(fake_spec(n_train=4), root, progress=False)
    (root / "manifest.json").unlink()  # as if interrupted before the manifest
    with pytest.raises(DataError, match="another spec"):
        generate(fake_spec(seed=9), root, progress=False)
    assert generate(fake_spec(), root, progress=False) == root


def test_bad_requests(tmp_path, fake_meshes):
    with pytest.raises(DataError, match="workers"):
        generate(fake_spec(), tmp_path / "x", workers=0, progress=False)
    with pytest.raises(ProblemError, match="unknown problem 'nope'"):
        generate({"problem": "nope"}, tmp_path / "y", progress=False)
    with pytest.raises(DataError, match="expected a GenerateSpec"):
        generate(3, tmp_path / "z", progress=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_failing_sample_names_its_file(tmp_path, fake_meshes, workers):
    spec = fake_spec(problem_options={"amp_max": 0.5})
    with pytest.raises(ProblemError, match=r"while generating 'train/res0/00000.vtu'.*amp_max"):
        generate(spec, tmp_path / "ds", workers=workers, progress=False)
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_darcy_dataset_is_consistent_across_resolutions(tmp_path):
    spec = {"problem": "darcy", "problem_options": {"kind": "fno"},
            "resolutions": [0.1, 0.05], "n_train": 2, "n_val": 1, "n_test": 3, "seed": 1}
    root = generate(spec, tmp_path / "darcy", progress=False)
    darcy = problems.get("darcy")
    ds = open_dataset(root)
    assert ds.splits == ["train", "val", "test"]
    for s in ds.samples("test") + ds.samples("train"):
        m = meshio.read(ds.path(s))
        a, f, u = (m.point_data[k] for k in ("a", "f", "u"))
        assert set(np.unique(a)) <= {3.0, 12.0} and np.all(f == 1.0)
        # the stored solution solves the stored problem
        assert darcy.residual(m, {"u": u}, a=a, f=f) < 1e-8
    # boundary nodes of the h = 0.1 mesh are nodes of the h = 0.05 mesh: same coefficient
    coarse_a, fine_a = [], []
    for i in range(3):
        mc = meshio.read(root / f"test/res0/{i:05d}.vtu")
        mf = meshio.read(root / f"test/res1/{i:05d}.vtu")
        fine = dict(zip(key(mf.points), mf.point_data["a"], strict=True))
        shared = [(p, v) for p, v in zip(key(mc.points), mc.point_data["a"], strict=True)
                  if p in fine]
        assert len(shared) >= 40  # 4 sides x 10 segments
        coarse_a.append(np.array([v for _, v in shared]))
        fine_a.append(np.array([fine[p] for p, _ in shared]))
        np.testing.assert_array_equal(coarse_a[-1], fine_a[-1])
    assert not all(np.array_equal(coarse_a[0], c) for c in coarse_a[1:])
    # two worker processes (forked after a warm-up sample per mesh) write the same files
    par = generate(spec, tmp_path / "par", workers=2, progress=False)
    for s in ds.manifest["samples"]:
        assert (par / s["file"]).read_bytes() == ds.path(s).read_bytes(), s["file"]


def test_network_dataset(tmp_path):
    spec = {"problem": "network_diffusion", "resolutions": [16, 25], "n_train": 2, "n_val": 1,
            "n_test": 1, "family": "erdos_renyi", "test_families": ["grid"],
            "solver_options": {"t_end": 1.0, "n_times": 11}, "seed": 3}
    res = run_generation(spec, tmp_path / "net", progress=False)
    assert res.new == 2 + 1 + 2 + 2 and res.nodes_per_resolution == [16, 25]
    ds = open_dataset(res.path)
    man = ds.manifest
    assert man["kind"] == "network" and man["splits"]["test_grid"]["family"] == "grid"
    assert man["splits"]["test_grid"]["resolutions"] == [0, 1]
    assert man["field_shapes"] == {"x": [11], "x0": []} and len(man["times"]) == 11
    with np.load(res.path / "test_grid/res1/00000.npz") as z:
        assert z["x"].shape == (25, 11) and z["times"].shape == (11,)
        np.testing.assert_allclose(z["x"][:, 0], z["x0"], atol=1e-12)
    graphs = ds.load("test_grid", inputs=["x0"], targets=["x"])
    assert [g.num_nodes for g in graphs] == [16, 25]
    assert graphs[1].x.shape == (25, 1) and graphs[1].y.shape == (25, 11)
    assert graphs[1].edge_index.shape[1] == 2 * (2 * 4 * 5 + 2 * 4 * 4)  # 8-neighbour 5x5 grid
    assert graphs[1].pos.shape == (25, 2)
    # a second run finds everything done
    again = run_generation(spec, res.path, progress=False)
    assert (again.new, again.skipped) == (0, 7)
