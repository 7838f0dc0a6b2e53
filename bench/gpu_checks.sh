#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one run on the GPU machine (torch and pytest there; no
# streamlit, no network). Prepare here, in the repository root (.gpu_data/ is git-ignored):
#   mkdir -p .gpu_data/MNIST/raw && cp ../shared/data/mnist/MNIST/raw/*.gz .gpu_data/MNIST/raw/
# then run `bash bench/gpu_checks.sh` there with ".gpu_data" carried (the .gz files are 11 MB;
# unpacked they would pass the carry limit). Figures and the test log land in $OUT (else bench/results/).
set -u
out="${OUT:-bench/results}"
export EXPLORER_DATA="${EXPLORER_DATA:-.gpu_data}" PYTHONUNBUFFERED=1
mkdir -p "$out" bench/results
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" | tee -a "$out/gpu.txt"
(cd "$EXPLORER_DATA/MNIST/raw" && gunzip -kf ./*.gz) || { echo "no MNIST .gz files in $EXPLORER_DATA/MNIST/raw"; exit 1; }
status=0
python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_training.py tests/test_step_graph.py tests/test_worker.py \
  tests/test_backends.py tests/test_visualize.py tests/test_minimal.py tests/test_faithfulness.py \
  tests/test_deeplift.py tests/test_deconvnet.py tests/test_shapley.py tests/test_lrp.py tests/test_cam_layers.py 2>&1 \
  | tee "$out/gpu_tests.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
python3 bench/train_speed.py --data "$EXPLORER_DATA" || status=1
python3 bench/top_activations.py || status=1
python3 bench/visualize.py || status=1
python3 bench/attacks.py || status=1
python3 bench/attributions.py || status=1
cp bench/results/*.json "$out/" 2>/dev/null
exit $status
