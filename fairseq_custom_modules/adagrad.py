"""custom_adagrad: torch.optim.Adagrad with one parameter group per value of --lr.

fairseq hands an optimizer one flat list of parameters; the model records each parameter's
name on it (lstm_model.name_parameters). Group k takes --lr[k]. --lr-group-rule names which
parameters go to the first group: a '&'-joined list of substrings a name must all contain;
every other parameter goes to the second group. The default, 'encoder&fc_out', is the
authors' rule: no parameter name contains both, so the first group is empty and EVERY
parameter trains at the second rate (0.02 with --lr 0.2,0.02), which is how the paper's
numbers were made (docs/method.md, "Translation"). Empty groups are dropped and every group's real
rate and size is logged, so the log's "lr" is a rate some parameters actually use.
"""
import logging

import torch
from fairseq.optim import LegacyFairseqOptimizer, register_optimizer

logger = logging.getLogger(__name__)

AUTHORS_RULE = "encoder&fc_out"


def group_parameters(params, rule: str, rates):
    """[(rate, [params], description)] for the first-group rule and the rest, empty ones dropped."""
    if len(rates) not in (1, 2):
        raise ValueError(f"custom_adagrad takes one or two learning rates (--lr A[,B]), got {list(rates)}")
    needles = [part for part in rule.split("&") if part]
    first, rest = [], []
    for param in params:
        name = getattr(param, "param_name", None)
        if name is None:
            raise ValueError("custom_adagrad needs parameters named by the model (use arch custom_baseline_iwslt)")
        (first if needles and all(n in name for n in needles) else rest).append(param)
    groups = [(rates[0], first, f"names containing {' and '.join(repr(n) for n in needles)}"),
              (rates[-1], rest, "all other parameters")]
    for rate, members, description in groups:
        logger.info(f"custom_adagrad group ({description}): lr {rate}, {len(members)} tensors, "
                    f"{sum(p.numel() for p in members)} values{' (empty: dropped)' if not members else ''}")
    return [group for group in groups if group[1]]


@register_optimizer("custom_adagrad")
class CustomAdagrad(LegacyFairseqOptimizer):
    def __init__(self, args, params):
        super().__init__(args)
        groups = group_parameters(list(params), args.lr_group_rule, args.lr)
        self._optimizer = torch.optim.Adagrad(
            [{"params": members, "lr": rate} for rate, members, _ in groups])

    @staticmethod
    def add_args(parser):
        parser.add_argument("--lr-group-rule", default=AUTHORS_RULE, metavar="A&B",
                            help="substrings a parameter name must all contain to take the first --lr "
                                 "(default %(default)r, the authors' rule: matches nothing)")

    @property
    def optimizer_config(self):
        return {"lr": self.args.lr[-1]}

    def set_lr(self, lr):
        """Never overwrite the per-group rates (custom_scheduler does not call this)."""
        raise RuntimeError("custom_adagrad keeps one learning rate per group; use --lr-scheduler custom_scheduler")
