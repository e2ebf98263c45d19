"""``gnnops generate CONFIG.yaml [--out DIR] [--workers N] [--shard I/N [--no-merge]]
[--quiet | --verbose]`` and ``gnnops generate --merge --out DIR``."""

from __future__ import annotations

import argparse

from gnnops._log import add_verbosity_arguments, progress_enabled

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gnnops generate``."""
    parser.add_argument("config", nargs="?", default=None,
                        help="data config (YAML): a GenerateSpec, or a run config holding one "
                             "under data.generate (not needed with --merge)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="dataset folder (default: datasets/<problem>-<spec hash>)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes solving samples in parallel (default 1)")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="generate only shard I of N (0 <= I < N; every N-th sample from "
                             "I) into the one folder, e.g. one per array job; the last shard "
                             "to finish writes manifest.json")
    parser.add_argument("--no-merge", action="store_true",
                        help="with --shard: write the shard's record only (merge later with "
                             "--merge)")
    parser.add_argument("--merge", action="store_true",
                        help="merge the shard records of --out DIR into manifest.json "
                             "(fails naming the missing shards)")
    add_verbosity_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Generate (or complete) the dataset or a shard; print its folder and the sample counts."""
    from gnnops.data.generate import run_generation
    from gnnops.data.spec import load_spec
    from gnnops.errors import ConfigError

    if args.merge:
        return _merge(args)
    if args.config is None:
        raise ConfigError("expected a data config (YAML) to generate from, or --merge --out DIR")
    spec = load_spec(args.config)
    res = run_generation(spec, args.out, workers=args.workers, progress=progress_enabled(args),
                         shard=args.shard, merge=not args.no_merge)
    what = "" if args.shard is None else f" in shard {args.shard}"
    print(f"{res.path}: {res.new + res.skipped} samples{what} ({res.new} new, {res.skipped} "
          f"skipped) at {len(res.nodes_per_resolution)} resolution(s), nodes "
          f"{res.nodes_per_resolution}")
    if args.shard is not None:
        print(f"{res.path}: " + ("all shards done, manifest.json written" if res.complete
                                 else "waiting for other shards (no manifest.json yet)"))
    return 0


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gnnops.data.manifest import read_manifest
    from gnnops.data.shards import merge_shards
    from gnnops.data.spec import load_spec
    from gnnops.errors import ConfigError

    if args.out is None and args.config is None:
        raise ConfigError("expected --out DIR (the sharded dataset folder) with --merge")
    out = Path(args.out) if args.out is not None else load_spec(args.config).default_dir()
    if not out.is_dir():
        raise ConfigError(f"expected --out to be the sharded dataset folder (got '{out}', "
                          "which does not exist)")
    path = merge_shards(out, required=True)
    man = read_manifest(out)
    print(f"{path}: merged, {len(man['samples'])} samples")
    return 0
