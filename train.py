"""Train a gnnops surrogate: ``python train.py [--config X.yaml] [--resume] [key=value ...]``.

Multi-process: ``torchrun --nproc_per_node=N train.py ...`` (DDP; gloo on CPU, NCCL on GPU).
"""

import os
import sys

# Idle OpenMP threads sleep instead of spinning: on a shared or oversubscribed CPU spinning
# made training steps up to 4x slower (benchmarks/models.py). Set before torch is imported;
# export OMP_WAIT_POLICY=ACTIVE to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from gnnops.runs.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
