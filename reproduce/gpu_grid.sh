#!/usr/bin/env bash
# Advance the experiment grid on a CUDA machine for a bounded wall time.
# run_seqmnist.py picks the GPU by itself (--device auto); trainings save checkpoint_last.pt
# every 100 updates and at every epoch end, and SIGTERM stops the runner and its commands,
# so at most one save interval is lost. Afterwards every run folder of runs/ (logs, JSON
# and checkpoints) is packed into OUT_DIR/grid-runs.tar; unpack it in the repository root
# and the CPU runner resumes the same runs:  tar xf grid-runs.tar
# Usage: reproduce/gpu_grid.sh SECONDS OUT_DIR [GROUP|RUN ...]   (default: the group pixelwise)
# Runs named (by their grid names) run alone, one at a time in the order given, so that each
# has the whole GPU; otherwise the groups' runs go three at a time.
set -uo pipefail
seconds=${1:?usage: reproduce/gpu_grid.sh SECONDS OUT_DIR [GROUP|RUN ...]}
out=${2:?usage: reproduce/gpu_grid.sh SECONDS OUT_DIR [GROUP|RUN ...]}
shift 2
groups=() runs=()
for name in "${@:-pixelwise}"; do
    case $name in
        rowwise|pixelwise|chip|translation) groups+=("$name") ;;
        *) runs+=("$name") ;;
    esac
done
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
mkdir -p "$out"
"$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device")' || exit 2
export PYTHONUNBUFFERED=1
if [ ${#runs[@]} -gt 0 ]; then
    selection=(--runs "${runs[@]}") jobs=1
else
    selection=(--only "${groups[@]}") jobs=3
fi
timeout -s TERM --kill-after=60 "$seconds" "$python" -m reproduce.run_grid "${selection[@]}" --jobs $jobs --threads 4
echo "runner exit $?"
tar cf "$out/grid-runs.tar" runs
tail -n 3 runs/seqmnist/*/train.log 2>/dev/null
