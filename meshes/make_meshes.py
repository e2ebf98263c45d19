"""Build the small example meshes of this folder with gnnops.meshing (gmsh).

Run from the repository root:  python meshes/make_meshes.py
Each mesh is written as .msh (gmsh 4.1, with physical groups) and .vtu (ParaView,
with the physical-group ids as cell data ``gmsh:physical``).
"""

from __future__ import annotations

from pathlib import Path

from gnnops import meshing
from gnnops.graphs import from_meshio, write_mesh

HERE = Path(__file__).resolve().parent

MESHES = {
    "unit_square": lambda: meshing.unit_square(0.08),
    "unit_square_quad": lambda: meshing.unit_square(0.0625, quad=True),
    "l_shape": lambda: meshing.l_shape(0.07),
    "plate_with_hole": lambda: meshing.plate_with_hole(0.07),
    "box": lambda: meshing.box(0.25),
}


def main() -> None:
    print(f"{'mesh':<18} {'nodes':>6} {'cells':>6} {'type':<10} {'edges':>6} {'measure':>8}")
    for name, make in MESHES.items():
        mesh = make()
        data = from_meshio(mesh)
        for ext in (".msh", ".vtu"):
            write_mesh(mesh, HERE / f"{name}{ext}")
        print(f"{name:<18} {data.num_nodes:>6} {data.cell_index.shape[1]:>6} "
              f"{data.cell_type:<10} {data.edge_index.shape[1] // 2:>6} "
              f"{float(data.node_volume.sum()):>8.4f}")


if __name__ == "__main__":
    main()
