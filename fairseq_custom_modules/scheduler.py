"""custom_scheduler: constant learning rates. It never calls set_lr, so the per-group rates of
custom_adagrad stay as built, and as restored from a checkpoint's optimizer state on resume."""
from fairseq.optim.lr_scheduler import LegacyFairseqLRScheduler, register_lr_scheduler


@register_lr_scheduler("custom_scheduler")
class ConstantScheduler(LegacyFairseqLRScheduler):
    def step_begin_epoch(self, epoch):
        return self.optimizer.get_lr()

    def step(self, epoch, val_loss=None):
        super().step(epoch, val_loss)
        return self.optimizer.get_lr()

    def step_update(self, num_updates):
        return self.optimizer.get_lr()
