"""Train a gnnops surrogate: ``python train.py [--config X.yaml] [--resume] [key=value ...]``.

Multi-process: ``torchrun --nproc_per_node=N train.py ...`` (DDP; gloo on CPU, NCCL on GPU).
"""

import sys

from gnnops.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
