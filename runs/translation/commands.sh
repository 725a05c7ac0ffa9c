# The commands that made the files in this folder (run from the repository root, CPU, 2 cores
# shared with other jobs). Corpus: the offline Debian-packaged German-English text, NOT IWSLT14.
python prepare_deen.py debian --out data/debian.tokenized.de-en
for cell in modified default; do
  OMP_NUM_THREADS=1 fairseq-train data/debian.tokenized.de-en/bin --lr 0.2,0.02 --clip-norm 5 \
    --criterion cross_entropy --lr-scheduler custom_scheduler --optimizer custom_adagrad \
    --user-dir fairseq_custom_modules --max-epoch 3 --save-dir checkpoints/translation/debian-$cell-seed1 \
    --arch custom_baseline_iwslt --cell-type $cell --init-type orthogonal --batch-size 64 --seed 1 --cpu \
    --no-progress-bar --log-interval 50 --no-epoch-checkpoints > runs/translation/debian-$cell-seed1/train.log 2>&1
done
python modify_checkpoint_iwslt.py --src-path checkpoints/translation/debian-modified-seed1/checkpoint_best.pt \
  --des-path checkpoints/translation/debian-modified-seed1/checkpoint_best_modified.pt \
  | tee runs/translation/debian-modified-seed1/convert.log
python bleu_vs_timesteps.py --data data/debian.tokenized.de-en/bin \
  --converted checkpoints/translation/debian-modified-seed1/checkpoint_best_modified.pt \
  --default-checkpoint checkpoints/translation/debian-default-seed1/checkpoint_best.pt --threads 1 \
  --output runs/translation/debian-bleu_vs_t.json > runs/translation/debian-bleu_vs_t.log 2>&1
