"""The translation model of the paper (docs/method.md, "Translation"): arch custom_baseline_iwslt.

Encoder: embedding, one unidirectional LSTM layer (left padding turned into right padding;
final h and c at each sequence's true length). Decoder: embedding, input feeding (LSTM input
= [embedding ; previous attention output]), one LSTM layer starting from the encoder's final
(h, c), Luong "general" attention
    score_s = enc_s . (W1 h) ; a = softmax over non-padding s ; ctx = sum_s a_s enc_s
    out = tanh(W2 [ctx ; h])   (W1, W2 bias-free, orthogonal)
dropout on out (also the next step's input feed), logits = fc_out(out) (orthogonal weight,
zero bias). Embeddings U(-0.1, 0.1) with the padding row 0; unless --no-embed-norm, every
row of both tables is renormalised to unit L2 norm at each training forward pass.

Hybrid inference: on a checkpoint converted by modify_checkpoint_iwslt.py, give
    fairseq-generate ... --model-overrides "{'hybrid_timesteps': T, 'hybrid_reset': 'soft', 'hybrid_initial_potential': 'one'}"
and both LSTM layers run as hybrid_lstm.HybridLSTMCell at T SNN steps per LSTM step.

Fine-tuning through the spikes (beyond the paper): fairseq-train --finetune-from-model TRAINED.pt
--cell-type modified --finetune-timesteps T [--hybrid-initial-potential half] trains both LSTM
layers through their hybrid at T (fairseq_custom_modules/recurrent.py).
"""
import logging
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import (
    FairseqEncoder, FairseqEncoderDecoderModel, FairseqIncrementalDecoder, register_model, register_model_architecture,
)
from torch import nn

from hybrid_lstm.runs.cli import INITIAL_POTENTIAL_HELP
from hybrid_lstm.snn.neurons import DEFAULT_INITIAL_POTENTIAL, DEFAULT_RESET, RESET_MODES, check_initial_potential

from .recurrent import CELL_TYPES, INIT_TYPES, RecurrentLayer

logger = logging.getLogger(__name__)


def embedding(num_embeddings: int, dim: int, padding_idx: int) -> nn.Embedding:
    table = nn.Embedding(num_embeddings, dim, padding_idx=padding_idx)
    nn.init.uniform_(table.weight, -0.1, 0.1)
    nn.init.zeros_(table.weight[padding_idx])
    return table


def renormalise_(table: nn.Embedding):
    """Every row to unit L2 norm (rows of zeros, the padding row, stay zero)."""
    with torch.no_grad():
        table.weight.div_(table.weight.norm(dim=1, keepdim=True).clamp(min=1e-12))


def name_parameters(module: nn.Module):
    """Record each parameter's qualified name on the parameter (custom_adagrad groups by it)."""
    for name, parameter in module.named_parameters():
        parameter.param_name = name


class CustomLSTMEncoder(FairseqEncoder):
    def __init__(self, cfg, dictionary):
        super().__init__(dictionary)
        self.padding_idx = dictionary.pad()
        self.embed_norm = not cfg.no_embed_norm
        self.embed_tokens = embedding(len(dictionary), cfg.encoder_embed_dim, self.padding_idx)
        self.rnn = RecurrentLayer(cfg.cell_type, cfg.encoder_embed_dim, cfg.encoder_hidden_size, cfg.init_type,
                                  cfg.converted, cfg.hybrid_timesteps, cfg.hybrid_reset,
                                  cfg.hybrid_initial_potential, cfg.finetune_timesteps)
        self.dropout_in = nn.Dropout(cfg.encoder_dropout_in)
        self.dropout_out = nn.Dropout(cfg.encoder_dropout_out)

    def forward(self, src_tokens, src_lengths, **kwargs):
        if self.training and self.embed_norm:
            renormalise_(self.embed_tokens)
        tokens = utils.convert_padding_direction(src_tokens, self.padding_idx, left_to_right=True)
        x = self.dropout_in(self.embed_tokens(tokens))
        outputs, (h, c) = self.rnn.run(x, src_lengths)
        return {"encoder_out": self.dropout_out(outputs), "encoder_state": (h, c),
                "encoder_padding_mask": tokens.eq(self.padding_idx)}

    def reorder_encoder_out(self, encoder_out, new_order):
        return {"encoder_out": encoder_out["encoder_out"].index_select(0, new_order),
                "encoder_state": tuple(s.index_select(0, new_order) for s in encoder_out["encoder_state"]),
                "encoder_padding_mask": encoder_out["encoder_padding_mask"].index_select(0, new_order)}

    def max_positions(self):
        return int(1e5)


class LuongAttention(nn.Module):
    """General (bilinear) attention over the encoder outputs; returns tanh(W2 [ctx ; h])."""

    def __init__(self, decoder_dim: int, encoder_dim: int):
        super().__init__()
        self.score_proj = nn.Linear(decoder_dim, encoder_dim, bias=False)  # W1
        self.output_proj = nn.Linear(encoder_dim + decoder_dim, decoder_dim, bias=False)  # W2
        nn.init.orthogonal_(self.score_proj.weight)
        nn.init.orthogonal_(self.output_proj.weight)

    def forward(self, h, encoder_out, padding_mask):
        scores = torch.bmm(encoder_out, self.score_proj(h).unsqueeze(2)).squeeze(2)  # (B, S)
        scores = scores.masked_fill(padding_mask, float("-inf"))
        context = torch.bmm(F.softmax(scores, dim=1).unsqueeze(1), encoder_out).squeeze(1)
        return torch.tanh(self.output_proj(torch.cat([context, h], dim=1)))


class CustomLSTMDecoder(FairseqIncrementalDecoder):
    def __init__(self, cfg, dictionary):
        super().__init__(dictionary)
        self.embed_norm = not cfg.no_embed_norm
        self.hidden_size = cfg.decoder_hidden_size
        self.embed_tokens = embedding(len(dictionary), cfg.decoder_embed_dim, dictionary.pad())
        self.rnn = RecurrentLayer(cfg.cell_type, cfg.decoder_embed_dim + cfg.decoder_hidden_size,
                                  cfg.decoder_hidden_size, cfg.init_type, cfg.converted, cfg.hybrid_timesteps,
                                  cfg.hybrid_reset, cfg.hybrid_initial_potential, cfg.finetune_timesteps)
        self.attention = LuongAttention(cfg.decoder_hidden_size, cfg.encoder_hidden_size)
        self.dropout_out = nn.Dropout(cfg.decoder_dropout_out)
        self.fc_out = nn.Linear(cfg.decoder_hidden_size, len(dictionary))
        nn.init.orthogonal_(self.fc_out.weight)
        nn.init.zeros_(self.fc_out.bias)

    def forward(self, prev_output_tokens, encoder_out, incremental_state=None, **kwargs):
        if self.training and self.embed_norm:
            renormalise_(self.embed_tokens)
        if incremental_state is not None:
            prev_output_tokens = prev_output_tokens[:, -1:]
        cached = self.get_incremental_state(incremental_state, "cached_state") if incremental_state else None
        if cached is not None:
            h, c, feed = cached
        else:
            h, c = encoder_out["encoder_state"]
            feed = h.new_zeros(h.shape[0], self.hidden_size)
        x = self.embed_tokens(prev_output_tokens)
        outs = []
        for t in range(x.shape[1]):
            h, c = self.rnn(torch.cat([x[:, t], feed], dim=1), (h, c))
            out = self.dropout_out(self.attention(h, encoder_out["encoder_out"], encoder_out["encoder_padding_mask"]))
            feed = out
            outs.append(out)
        if incremental_state is not None:
            self.set_incremental_state(incremental_state, "cached_state", (h, c, feed))
        return self.fc_out(torch.stack(outs, dim=1)), None

    def reorder_incremental_state(self, incremental_state, new_order):
        cached = self.get_incremental_state(incremental_state, "cached_state")
        if cached is not None:
            self.set_incremental_state(incremental_state, "cached_state",
                                       tuple(s.index_select(0, new_order) for s in cached))

    def max_positions(self):
        return int(1e5)


@dataclass
class CustomLSTMConfig(FairseqDataclass):
    """The model's options; the defaults are the paper's (docs/method.md, "Translation")."""
    cell_type: ChoiceEnum(CELL_TYPES) = field(
        default="default", metadata={"help": "default: torch.nn.LSTMCell; modified: the piecewise-linear cell"})
    init_type: ChoiceEnum(INIT_TYPES) = field(default="orthogonal", metadata={"help": "LSTM initialisation"})
    encoder_embed_dim: int = field(default=256, metadata={"help": "encoder embedding size"})
    encoder_hidden_size: int = field(default=256, metadata={"help": "encoder LSTM size"})
    encoder_dropout_in: float = field(default=0.0, metadata={"help": "dropout on the encoder's embeddings"})
    encoder_dropout_out: float = field(default=0.0, metadata={"help": "dropout on the encoder's outputs"})
    decoder_embed_dim: int = field(default=256, metadata={"help": "decoder embedding size"})
    decoder_hidden_size: int = field(default=256, metadata={"help": "decoder LSTM size"})
    decoder_dropout_out: float = field(default=0.2, metadata={"help": "dropout on the attention output"})
    no_embed_norm: bool = field(default=False, metadata={"help": "do not renormalise embedding rows each forward"})
    converted: bool = field(default=False, metadata={
        "help": "set by modify_checkpoint_iwslt.py: the layers hold integer weights"})
    hybrid_timesteps: int = field(default=0, metadata={
        "help": "0: the analog LSTM; T > 0: the hybrid LSTM at T SNN steps (converted checkpoints)"})
    hybrid_reset: ChoiceEnum(RESET_MODES) = field(default=DEFAULT_RESET, metadata={"help": "IF reset rule of the hybrid"})
    hybrid_initial_potential: str = field(default=DEFAULT_INITIAL_POTENTIAL, metadata={"help": INITIAL_POTENTIAL_HELP})
    finetune_timesteps: int = field(default=0, metadata={
        "help": "T > 0 (--cell-type modified; start from a trained model with --finetune-from-model): train through "
                "the hybrid at T SNN steps, neurons as --hybrid-reset / --hybrid-initial-potential, straight-through "
                "gradients; modify_checkpoint_iwslt.py sets it back to 0"})


@register_model("custom_lstm", dataclass=CustomLSTMConfig)
class CustomLSTMModel(FairseqEncoderDecoderModel):
    @classmethod
    def build_model(cls, cfg, task):
        custom_baseline_iwslt(cfg)
        try:
            cfg.hybrid_initial_potential = check_initial_potential(cfg.hybrid_initial_potential)
        except ValueError as error:
            raise ValueError(f"--hybrid-initial-potential: {error}") from None
        model = cls(CustomLSTMEncoder(cfg, task.source_dictionary), CustomLSTMDecoder(cfg, task.target_dictionary))
        name_parameters(model)
        logger.info(describe_cells(cfg))
        return model


def describe_cells(cfg) -> str:
    """One line saying which cell the LSTM layers run."""
    if cfg.hybrid_timesteps:
        return (f"LSTM layers run as hybrid_lstm.HybridLSTMCell: T = {cfg.hybrid_timesteps}, "
                f"{cfg.hybrid_reset} reset, initial potential {cfg.hybrid_initial_potential}")
    if cfg.finetune_timesteps:
        return (f"LSTM layers train through their hybrid (hybrid_lstm.snn.finetune.ConversionAwareCell): "
                f"T = {cfg.finetune_timesteps}, {cfg.hybrid_reset} reset, initial potential {cfg.hybrid_initial_potential}")
    cell = "hybrid_lstm.ModifiedLSTMCell" if cfg.cell_type == "modified" else "torch.nn.LSTMCell"
    note = (" (converted integer weights present but unused: pass --model-overrides "
            "\"{'hybrid_timesteps': T}\" to run the hybrid)") if cfg.converted else ""
    return f"LSTM layers run as the analog {cell}{note}"


@register_model_architecture("custom_lstm", "custom_baseline_iwslt")
def custom_baseline_iwslt(cfg):
    """The paper's architecture: CustomLSTMConfig's defaults, filled in where a configuration (a checkpoint
    saved before an option existed) lacks them."""
    for option in CustomLSTMConfig.__dataclass_fields__.values():
        if getattr(cfg, option.name, None) is None:
            setattr(cfg, option.name, option.default)
