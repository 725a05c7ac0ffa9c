#!/usr/bin/env bash
# Every GPU check in one go, for a short lease of a CUDA machine (about 6 minutes):
#   1. the test suite's CUDA cases (fast hybrid vs the reference, CUDA graph replays vs plain calls),
#   2. benchmarks/bench_hybrid.py --device cuda   (fast path vs the plain per-SNN-step loop),
#   3. benchmarks/bench_training.py --device cuda (fused layer vs cuDNN torch.nn.LSTM).
# Each step is time-boxed and writes its output to OUT_DIR/<step>.log; a failing step does not
# stop the others. Usage: benchmarks/gpu_checks.sh OUT_DIR
set -uo pipefail
out=${1:?usage: benchmarks/gpu_checks.sh OUT_DIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}

step() {  # step NAME SECONDS COMMAND...
    local name=$1 seconds=$2; shift 2
    echo "== $name: $*" | tee "$out/$name.log"
    timeout -s INT --kill-after=20 "$seconds" "$@" 2>&1 | tee -a "$out/$name.log"
    echo "== $name: exit ${PIPESTATUS[0]}" | tee -a "$out/$name.log"
}

step environment 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
    $python -c 'import torch; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name())'"
step tests 150 "$python" -m pytest -q -p no:cacheprovider -k "cuda or gpu" tests/test_fast_gates.py tests/test_hybrid.py tests/test_sequence.py tests/test_persistent_lstm.py
step cuda_graphs 120 "$python" -m pytest -q -p no:cacheprovider tests/test_cuda_graphs.py
step bench_hybrid 120 "$python" benchmarks/bench_hybrid.py --device cuda
step bench_training 120 "$python" benchmarks/bench_training.py --device cuda
