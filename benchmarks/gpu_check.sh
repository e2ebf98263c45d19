#!/usr/bin/env bash
# GPU checks, one prepared run on a lent CUDA machine (results: benchmarks/results/gpu_*.txt).
#
#   OUT=gpu_out bash benchmarks/gpu_check.sh
#
# 1. the whole test suite with CUDA visible (train.device auto -> cuda in every training
#    test), 14 xdist workers;
# 2. benchmarks/peers.py on the GPU: gnnops' MeshGraphNet 15 x 128 vs the same model built
#    from PyG layers, fp32 on ~12k and ~90k nodes, bf16 autocast on ~90k nodes;
# 3. the default Darcy run on the GPU (data generated first with 14 CPU workers, then
#    train.py with train.device=cuda), then benchmarks/time_to_accuracy.py on it.
# Each step has its own time limit so that one failure does not eat the others' time.
# STEPS="pytest peers train" (default) picks the steps.
set -u
STEPS=${STEPS:-pytest peers train}
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
step pytest && {
  date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  nproc; python3 -c "import torch, torch_geometric as g; print('torch', torch.__version__, \
'cuda', torch.version.cuda, 'pyg', g.__version__, torch.cuda.get_device_name(0))"
  echo "== pytest (CUDA visible, -n 14)"
  timeout 200 python3 -m pytest -q -n 14 -p no:cacheprovider --maxfail=100 2>&1 | tail -60
  echo "pytest rc ${PIPESTATUS[0]}"
} > "$OUT/gpu_pytest.txt" 2>&1

step peers && for run in "110 fp32" "300 fp32" "300 bf16"; do
  set -- $run
  flag=""; [ "$2" = bf16 ] && flag=--bf16
  timeout 60 python3 benchmarks/peers.py --device cuda --side "$1" --reps 7 --threads 4 $flag \
    >> "$OUT/gpu_peers.txt" 2>&1 || echo "peers $run rc $?" >> "$OUT/gpu_peers.txt"
  echo >> "$OUT/gpu_peers.txt"
done

step train && {
  echo "== generate (14 workers)"; t0=$(date +%s)
  timeout 100 python3 -m gnnops.cli generate configs/default.yaml --workers 14 2>&1 | tail -3
  echo "generate rc ${PIPESTATUS[0]} in $(( $(date +%s) - t0 )) s"
  echo "== train.py on cuda"; t0=$(date +%s)
  timeout 170 python3 train.py --config configs/default.yaml train.device=cuda \
    train.progress=false 2>&1 | tail -25
  echo "train rc ${PIPESTATUS[0]} in $(( $(date +%s) - t0 )) s"
  python3 benchmarks/time_to_accuracy.py runs/darcy_default --targets 0.2 0.1 0.07 0.06 0.055
  cat runs/darcy_default/metrics.csv | head -40
} > "$OUT/gpu_train.txt" 2>&1
echo "gpu_check done"
