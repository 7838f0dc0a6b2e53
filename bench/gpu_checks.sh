#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one run on the GPU machine (torch and pytest there; no
# streamlit, no network). Prepare here, in the repository root, then run this there:
#   mkdir -p .data/MNIST/raw && cp ../shared/data/mnist/MNIST/raw/*.gz .data/MNIST/raw/
#   (carry ".data/MNIST/raw": the .gz files are 11 MB; the unpacked folder is over the carry limit)
#   bash bench/gpu_checks.sh        # figures and the test log land in $OUT (else bench/results/)
set -u
out="${OUT:-bench/results}"
mkdir -p "$out" bench/results
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" | tee -a "$out/gpu.txt"
(cd .data/MNIST/raw && gunzip -kf ./*.gz) || { echo "no MNIST files in .data/MNIST/raw"; exit 1; }
status=0
python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_training.py tests/test_worker.py tests/test_backends.py \
  tests/test_visualize.py 2>&1 | tee "$out/gpu_tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for bench in train_speed top_activations visualize; do
  python3 "bench/$bench.py" || status=1
done
cp bench/results/*.json "$out/" 2>/dev/null
exit $status
