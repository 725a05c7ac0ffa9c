"""fairseq --user-dir plugin: arch custom_baseline_iwslt, optimizer custom_adagrad, scheduler custom_scheduler."""
from . import adagrad, lstm_model, scheduler  # noqa: F401  (registration)
