"""Gmsh geometries meshed at a requested element size ``h``.

Each function returns a ``meshio.Mesh`` whose boundary pieces and domain are
gmsh physical groups (``cell_data['gmsh:physical']``, names in ``field_data``)
with the fixed ids of :data:`TAGS`, so ``from_meshio(...).node_type`` means the
same on every geometry and resolution. Meshing is deterministic: one thread,
fixed random seed, uniform size (``Mesh.MeshSizeMin = Mesh.MeshSizeMax = h``).
gmsh is imported inside the functions; if gmsh was not initialized by the
caller it is initialized here and finalized afterwards, otherwise only the
temporary model is removed and the gmsh options touched here are restored.
``order=2`` gives second-order elements (triangle6 / quad9 / tetra10 with
straight sides).

Every 2D shape lies in the unit square ``[0, 1]^2`` (the box on which the problems' input
samplers draw their random fields, :mod:`gnnops.problems.random_fields`), so a field drawn
once means the same on every shape. ``disk_with_holes`` and ``random_polygon`` are drawn
from a seed; :func:`make_geometry` builds any shape by name, ``"<name>-<seed>"`` for a
seeded one (``"random_polygon-3"``), which is how datasets name them.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gnnops.errors import MeshError

if TYPE_CHECKING:  # meshio is imported when meshing: dataset specs parse names without it
    import meshio

__all__ = ["TAGS", "GEOMETRIES", "SEEDED", "unit_square", "l_shape", "plate_with_hole",
           "box", "disk_with_holes", "random_polygon", "disk_holes", "polygon_vertices",
           "parse_geometry", "geometry_dim", "make_geometry"]

#: Physical-group ids shared by all geometries (``outer``: the curved or polygonal outer
#: boundary of ``disk_with_holes`` / ``random_polygon``).
TAGS: dict[str, int] = {
    "bottom": 1, "right": 2, "top": 3, "left": 4, "hole": 5, "notch": 6,
    "front": 7, "back": 8, "outer": 9, "domain": 10,
}

#: Geometry names understood by :func:`make_geometry` (and dataset specs).
GEOMETRIES: tuple[str, ...] = ("unit_square", "l_shape", "plate_with_hole", "box",
                               "disk_with_holes", "random_polygon")
#: Geometries drawn from a seed: ``"<name>-<seed>"`` (no suffix: seed 0).
SEEDED: tuple[str, ...] = ("disk_with_holes", "random_polygon")


def _check(h: float, order: int) -> None:
    if not (isinstance(h, (int, float)) and math.isfinite(h) and 1e-4 <= h <= 1.0):
        raise MeshError(f"expected an element size h in [1e-4, 1] (got {h!r})")
    if order not in (1, 2):
        raise MeshError(f"expected order 1 or 2 (got {order!r})")


_OPTIONS = {  # deterministic, quiet, single-threaded; sizes set per call
    "General.Terminal": 0, "General.Verbosity": 0, "General.NumThreads": 1,
    "Mesh.RandomSeed": 1, "Mesh.SaveAll": 0, "Mesh.MeshSizeExtendFromBoundary": 1,
    "Mesh.SecondOrderIncomplete": 0, "Mesh.MshFileVersion": 4.1,
    "Mesh.MeshSizeMin": 0.0, "Mesh.MeshSizeMax": 1e22,
}


@contextmanager
def _model(name: str, h: float) -> Iterator[object]:
    """A temporary gmsh model; gmsh options are restored for a caller's own session."""
    import gmsh

    owner = not gmsh.isInitialized()
    if owner:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    options = dict(_OPTIONS, **{"Mesh.MeshSizeMin": h, "Mesh.MeshSizeMax": h})
    saved = {k: gmsh.option.getNumber(k) for k in options}
    try:
        for k, v in options.items():
            gmsh.option.setNumber(k, v)
        gmsh.model.add(name)
        try:
            yield gmsh
        finally:
            gmsh.model.remove()
    finally:
        if owner:
            gmsh.finalize()
        else:
            for k, v in saved.items():
                gmsh.option.setNumber(k, v)


def _mesh(gmsh: object, name: str, h: float, dim: int, order: int,
          groups: Callable[[], None]) -> meshio.Mesh:
    """Add physical groups, generate, and read back through a temporary .msh file."""
    groups()
    try:
        gmsh.model.mesh.generate(dim)
        if order == 2:
            gmsh.model.mesh.setOrder(2)
    except Exception as exc:  # gmsh raises plain Exception with its log message
        raise MeshError(f"gmsh failed to mesh {name} at h={h}: {exc}") from exc
    import meshio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.msh"
        gmsh.write(str(path))
        return meshio.gmsh.read(str(path))


def _physical(gmsh: object, dim: int, tags: list[int], name: str) -> None:
    gmsh.model.addPhysicalGroup(dim, tags, TAGS[name], name=name)


def _polygon(gmsh: object, pts: list[tuple[float, float]], h: float) -> list[int]:
    """Closed polyline through ``pts`` with the geo kernel; returns line tags."""
    p = [gmsh.model.geo.addPoint(x, y, 0.0, h) for x, y in pts]
    return [gmsh.model.geo.addLine(p[i], p[(i + 1) % len(p)]) for i in range(len(p))]


def unit_square(h: float, *, quad: bool = False, order: int = 1) -> meshio.Mesh:
    """The unit square (0, 1)^2.

    Args:
        h: element size.
        quad: structured quadrilaterals (transfinite, recombined; n = ceil(1/h)
            cells a side) instead of unstructured triangles.
        order: 1 or 2 (triangle6 / quad9).

    Returns:
        Mesh with groups bottom (y=0), right (x=1), top (y=1), left (x=0), domain.
    """
    _check(h, order)
    with _model("unit_square", h) as gmsh:
        lines = _polygon(gmsh, [(0, 0), (1, 0), (1, 1), (0, 1)], h)
        loop = gmsh.model.geo.addCurveLoop(lines)
        surf = gmsh.model.geo.addPlaneSurface([loop])
        if quad:
            n = math.ceil(1.0 / h - 1e-9) + 1
            for line in lines:
                gmsh.model.geo.mesh.setTransfiniteCurve(line, n)
            gmsh.model.geo.mesh.setTransfiniteSurface(surf)
            gmsh.model.geo.mesh.setRecombine(2, surf)
        gmsh.model.geo.synchronize()

        def groups() -> None:
            for line, name in zip(lines, ("bottom", "right", "top", "left"), strict=True):
                _physical(gmsh, 1, [line], name)
            _physical(gmsh, 2, [surf], "domain")

        return _mesh(gmsh, "unit_square", h, 2, order, groups)


def l_shape(h: float, *, order: int = 1) -> meshio.Mesh:
    """The L-shape (0, 1)^2 minus [0.5, 1) x [0.5, 1) (re-entrant corner at (0.5, 0.5)).

    Returns:
        Mesh with groups bottom (y=0), right (x=1), notch (the two edges meeting
        at the re-entrant corner), top (y=1), left (x=0), domain.
    """
    _check(h, order)
    with _model("l_shape", h) as gmsh:
        pts = [(0, 0), (1, 0), (1, 0.5), (0.5, 0.5), (0.5, 1), (0, 1)]
        lines = _polygon(gmsh, pts, h)
        surf = gmsh.model.geo.addPlaneSurface([gmsh.model.geo.addCurveLoop(lines)])
        gmsh.model.geo.synchronize()

        def groups() -> None:
            _physical(gmsh, 1, [lines[0]], "bottom")
            _physical(gmsh, 1, [lines[1]], "right")
            _physical(gmsh, 1, [lines[2], lines[3]], "notch")
            _physical(gmsh, 1, [lines[4]], "top")
            _physical(gmsh, 1, [lines[5]], "left")
            _physical(gmsh, 2, [surf], "domain")

        return _mesh(gmsh, "l_shape", h, 2, order, groups)


def plate_with_hole(h: float, *, radius: float = 0.2, order: int = 1) -> meshio.Mesh:
    """The unit square with a circular hole of ``radius`` centred at (0.5, 0.5).

    Returns:
        Mesh with groups bottom, right, top, left, hole (the circle), domain.
    """
    _check(h, order)
    if not 0.0 < radius < 0.5:
        raise MeshError(f"expected a hole radius in (0, 0.5) (got {radius!r})")
    with _model("plate_with_hole", h) as gmsh:
        geo = gmsh.model.geo
        lines = _polygon(gmsh, [(0, 0), (1, 0), (1, 1), (0, 1)], h)
        c = geo.addPoint(0.5, 0.5, 0.0, h)
        ring = [geo.addPoint(0.5 + radius * math.cos(a), 0.5 + radius * math.sin(a), 0.0, h)
                for a in (0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi)]
        arcs = [geo.addCircleArc(ring[i], c, ring[(i + 1) % 4]) for i in range(4)]
        surf = geo.addPlaneSurface([geo.addCurveLoop(lines), geo.addCurveLoop(arcs)])
        geo.synchronize()

        def groups() -> None:
            for line, name in zip(lines, ("bottom", "right", "top", "left"), strict=True):
                _physical(gmsh, 1, [line], name)
            _physical(gmsh, 1, arcs, "hole")
            _physical(gmsh, 2, [surf], "domain")

        return _mesh(gmsh, "plate_with_hole", h, 2, order, groups)


def box(h: float, *, order: int = 1) -> meshio.Mesh:
    """The unit cube (0, 1)^3 meshed with tetrahedra.

    Returns:
        Mesh with face groups left (x=0), right (x=1), front (y=0), back (y=1),
        bottom (z=0), top (z=1) and the volume group domain.
    """
    _check(h, order)
    with _model("box", h) as gmsh:
        vol = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        names = {(0, 0.0): "left", (0, 1.0): "right", (1, 0.0): "front", (1, 1.0): "back",
                 (2, 0.0): "bottom", (2, 1.0): "top"}
        faces: dict[str, int] = {}
        for _, tag in gmsh.model.getEntities(2):
            com = gmsh.model.occ.getCenterOfMass(2, tag)
            axis = next(i for i in range(3) if abs(com[i] - round(com[i])) < 1e-9
                        and abs(com[i] - 0.5) > 0.25)
            faces[names[(axis, float(round(com[axis])))]] = tag

        def groups() -> None:
            for name in ("left", "right", "front", "back", "bottom", "top"):
                _physical(gmsh, 2, [faces[name]], name)
            _physical(gmsh, 3, [vol], "domain")

        return _mesh(gmsh, "box", h, 3, order, groups)


def disk_holes(seed: int = 0, n_holes: int | None = None) -> list[tuple[float, float, float]]:
    """The holes ``(cx, cy, r)`` of :func:`disk_with_holes` for ``seed``.

    ``n_holes`` (default: 1, 2 or 3 drawn from the seed) circles of radius in [0.06, 0.14],
    placed by rejection so that each keeps a gap >= 0.04 to the outer circle (centre
    (0.5, 0.5), radius 0.5) and to the other holes.

    Raises:
        MeshError: ``n_holes`` outside 1..3, or a negative seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise MeshError(f"expected a geometry seed, an integer >= 0 (got {seed!r})")
    rng = np.random.default_rng([seed, 7101])
    n = int(rng.integers(1, 4)) if n_holes is None else n_holes
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 3:
        raise MeshError(f"expected 1 to 3 holes (got {n_holes!r})")
    holes: list[tuple[float, float, float]] = []
    gap = 0.04
    while len(holes) < n:  # terminates: three radius-0.14 holes fit with room to spare
        r = float(rng.uniform(0.06, 0.14))
        rho = math.sqrt(float(rng.uniform())) * (0.5 - gap - r)
        phi = float(rng.uniform(0.0, 2.0 * math.pi))
        c = (0.5 + rho * math.cos(phi), 0.5 + rho * math.sin(phi))
        if all(math.dist(c, (x, y)) >= r + q + gap for x, y, q in holes):
            holes.append((c[0], c[1], r))
    return holes


def _circle(geo: object, cx: float, cy: float, r: float, h: float) -> list[int]:
    """Four arcs of the circle (geo kernel); returns their tags."""
    c = geo.addPoint(cx, cy, 0.0, h)
    ring = [geo.addPoint(cx + r * math.cos(a), cy + r * math.sin(a), 0.0, h)
            for a in (0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi)]
    return [geo.addCircleArc(ring[i], c, ring[(i + 1) % 4]) for i in range(4)]


def disk_with_holes(h: float, *, seed: int = 0, n_holes: int | None = None,
                    order: int = 1) -> meshio.Mesh:
    """The disk of radius 0.5 centred at (0.5, 0.5) minus 1-3 circular holes.

    Args:
        h: element size.
        seed: draws the holes (:func:`disk_holes`).
        n_holes: 1, 2 or 3 (default: drawn from the seed).
        order: 1 or 2.

    Returns:
        Mesh with groups outer (the disk's circle), hole (every hole's circle), domain.
        Exact area: ``pi (0.25 - sum r_i^2)``; the mesh's is that of the inscribed polygons.
    """
    _check(h, order)
    holes = disk_holes(seed, n_holes)
    name = f"disk_with_holes-{seed}"
    with _model(name, h) as gmsh:
        geo = gmsh.model.geo
        outer = _circle(geo, 0.5, 0.5, 0.5, h)
        inner = [_circle(geo, cx, cy, r, h) for cx, cy, r in holes]
        loops = [geo.addCurveLoop(outer)] + [geo.addCurveLoop(arcs) for arcs in inner]
        surf = geo.addPlaneSurface(loops)
        geo.synchronize()

        def groups() -> None:
            _physical(gmsh, 1, outer, "outer")
            _physical(gmsh, 1, [a for arcs in inner for a in arcs], "hole")
            _physical(gmsh, 2, [surf], "domain")

        return _mesh(gmsh, name, h, 2, order, groups)


def polygon_vertices(seed: int = 0, n_vertices: int | None = None
                     ) -> list[tuple[float, float]]:
    """The vertices (counter-clockwise) of :func:`random_polygon` for ``seed``.

    Star-shaped about (0.5, 0.5): ``n_vertices`` (default 5..10 from the seed) angles
    ``2 pi (i + u_i) / n`` with ``u_i`` uniform in [-0.3, 0.3] and radii uniform in
    [0.25, 0.5], so the polygon lies in the unit square and is simple.

    Raises:
        MeshError: ``n_vertices`` outside 3..64, or a negative seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise MeshError(f"expected a geometry seed, an integer >= 0 (got {seed!r})")
    rng = np.random.default_rng([seed, 7102])
    n = int(rng.integers(5, 11)) if n_vertices is None else n_vertices
    if isinstance(n, bool) or not isinstance(n, int) or not 3 <= n <= 64:
        raise MeshError(f"expected 3 to 64 polygon vertices (got {n_vertices!r})")
    phase = float(rng.uniform(0.0, 2.0 * math.pi))
    ang = phase + 2.0 * math.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
    rad = rng.uniform(0.25, 0.5, n)
    return [(0.5 + float(r * math.cos(a)), 0.5 + float(r * math.sin(a)))
            for a, r in zip(ang, rad, strict=True)]


def random_polygon(h: float, *, seed: int = 0, n_vertices: int | None = None,
                   order: int = 1) -> meshio.Mesh:
    """A random star-shaped polygon in the unit square (:func:`polygon_vertices`).

    Returns:
        Mesh with groups outer (every edge) and domain; its area is the polygon's exactly.
    """
    _check(h, order)
    pts = polygon_vertices(seed, n_vertices)
    name = f"random_polygon-{seed}"
    with _model(name, h) as gmsh:
        lines = _polygon(gmsh, pts, h)
        surf = gmsh.model.geo.addPlaneSurface([gmsh.model.geo.addCurveLoop(lines)])
        gmsh.model.geo.synchronize()

        def groups() -> None:
            _physical(gmsh, 1, lines, "outer")
            _physical(gmsh, 2, [surf], "domain")

        return _mesh(gmsh, name, h, 2, order, groups)


_NAME = re.compile(r"^([a-z_]+?)(?:-(\d{1,9}))?$")


def parse_geometry(name: str) -> tuple[str, int | None]:
    """``"random_polygon-3"`` -> ``("random_polygon", 3)``; ``"l_shape"`` -> ``("l_shape",
    None)``; a seeded geometry without a suffix has seed 0.

    Raises:
        MeshError: an unknown name, or a seed suffix on a geometry that takes none.
    """
    m = _NAME.match(name) if isinstance(name, str) else None
    if m is None or m.group(1) not in GEOMETRIES:
        raise MeshError(f"unknown geometry {name!r}; expected one of: {', '.join(GEOMETRIES)} "
                        f"({' and '.join(SEEDED)} take an optional '-<seed>' suffix)")
    base, seed = m.group(1), m.group(2)
    if seed is not None and base not in SEEDED:
        raise MeshError(f"geometry {base!r} takes no seed (got {name!r}); only "
                        f"{', '.join(SEEDED)} do")
    if base in SEEDED:
        return base, int(seed or 0)
    return base, None


def geometry_dim(name: str) -> int:
    """Spatial dimension of a geometry name (3 for ``box``, else 2)."""
    return 3 if parse_geometry(name)[0] == "box" else 2


def make_geometry(name: str, h: float, *, order: int = 1) -> meshio.Mesh:
    """Mesh the geometry ``name`` (see :func:`parse_geometry`) at element size ``h``.

    Raises:
        MeshError: unknown name, bad ``h`` / ``order``, or gmsh failed.
    """
    base, seed = parse_geometry(name)
    make = globals()[base]
    return make(h, order=order) if seed is None else make(h, seed=seed, order=order)
