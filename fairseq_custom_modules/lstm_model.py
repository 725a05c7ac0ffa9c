"""The translation model of the paper (docs/method.md, "Translation"): arch custom_baseline_iwslt.

Encoder: embedding, one unidirectional LSTM layer (left padding turned into right padding;
final h and c at each sequence's true length). Decoder: embedding, input feeding (LSTM input
= [embedding ; previous attention output]), one LSTM layer starting from the encoder's final
(h, c), Luong "general" attention
    score_s = enc_s . (W1 h) ; a = softmax over non-padding s ; ctx = sum_s a_s enc_s
    out = tanh(W2 [ctx ; h])   (W1, W2 bias-free, orthogonal)
dropout on out (also the next step's input feed), logits = fc_out(out) (orthogonal weight,
zero bias). Embeddings U(-0.1, 0.1) with the padding row 0; with --embed-norm (default) every
row of both tables is renormalised to unit L2 norm at each training forward pass.

Hybrid inference: on a checkpoint converted by modify_checkpoint_iwslt.py, give
    fairseq-generate ... --model-overrides "{'hybrid_timesteps': T, 'hybrid_reset': 'soft', 'hybrid_initial_potential': 'one'}"
and both LSTM layers run as hybrid_lstm.HybridLSTMCell at T SNN steps per LSTM step.
"""
import argparse
import logging

import torch
import torch.nn.functional as F
from fairseq import utils
from fairseq.models import (
    FairseqEncoder, FairseqEncoderDecoderModel, FairseqIncrementalDecoder, register_model, register_model_architecture,
)
from torch import nn

from hybrid_lstm.runs.cli import INITIAL_POTENTIAL_HELP, initial_potential
from hybrid_lstm.snn.neurons import RESET_MODES

from .recurrent import CELL_TYPES, INIT_TYPES, RecurrentLayer

logger = logging.getLogger(__name__)

# fairseq checkpoints hold an argparse.Namespace; allowing it keeps torch's safe loader usable.
torch.serialization.add_safe_globals([argparse.Namespace])


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
    def __init__(self, args, dictionary):
        super().__init__(dictionary)
        self.padding_idx = dictionary.pad()
        self.embed_norm = args.embed_norm
        self.embed_tokens = embedding(len(dictionary), args.encoder_embed_dim, self.padding_idx)
        self.rnn = RecurrentLayer(args.cell_type, args.encoder_embed_dim, args.encoder_hidden_size, args.init_type,
                                  args.converted, args.hybrid_timesteps, args.hybrid_reset,
                                  args.hybrid_initial_potential)
        self.dropout_in = nn.Dropout(args.encoder_dropout_in)
        self.dropout_out = nn.Dropout(args.encoder_dropout_out)

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
    def __init__(self, args, dictionary):
        super().__init__(dictionary)
        self.embed_norm = args.embed_norm
        self.hidden_size = args.decoder_hidden_size
        self.embed_tokens = embedding(len(dictionary), args.decoder_embed_dim, dictionary.pad())
        self.rnn = RecurrentLayer(args.cell_type, args.decoder_embed_dim + args.decoder_hidden_size,
                                  args.decoder_hidden_size, args.init_type, args.converted, args.hybrid_timesteps,
                                  args.hybrid_reset, args.hybrid_initial_potential)
        self.attention = LuongAttention(args.decoder_hidden_size, args.encoder_hidden_size)
        self.dropout_out = nn.Dropout(args.decoder_dropout_out)
        self.fc_out = nn.Linear(args.decoder_hidden_size, len(dictionary))
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


@register_model("custom_lstm")
class CustomLSTMModel(FairseqEncoderDecoderModel):
    @staticmethod
    def add_args(parser):
        parser.add_argument("--cell-type", choices=CELL_TYPES, help="default: torch.nn.LSTMCell; modified: PL cells")
        parser.add_argument("--init-type", choices=INIT_TYPES, help="LSTM initialisation")
        parser.add_argument("--encoder-embed-dim", type=int)
        parser.add_argument("--encoder-hidden-size", type=int)
        parser.add_argument("--encoder-dropout-in", type=float)
        parser.add_argument("--encoder-dropout-out", type=float)
        parser.add_argument("--decoder-embed-dim", type=int)
        parser.add_argument("--decoder-hidden-size", type=int)
        parser.add_argument("--decoder-dropout-out", type=float, help="dropout on the attention output")
        parser.add_argument("--embed-norm", type=utils.eval_bool, help="renormalise embedding rows each forward")
        parser.add_argument("--converted", type=utils.eval_bool,
                            help="set by modify_checkpoint_iwslt.py: the layers hold integer weights")
        parser.add_argument("--hybrid-timesteps", type=int,
                            help="0: analog LSTM; T > 0: hybrid LSTM at T SNN steps (converted checkpoints)")
        parser.add_argument("--hybrid-reset", choices=RESET_MODES, help="IF reset rule of the hybrid")
        parser.add_argument("--hybrid-initial-potential", type=initial_potential, help=INITIAL_POTENTIAL_HELP)

    @classmethod
    def build_model(cls, args, task):
        custom_baseline_iwslt(args)
        model = cls(CustomLSTMEncoder(args, task.source_dictionary), CustomLSTMDecoder(args, task.target_dictionary))
        name_parameters(model)
        logger.info(describe_cells(args))
        return model


def describe_cells(args) -> str:
    """One line saying which cell the LSTM layers run."""
    if args.hybrid_timesteps:
        return (f"LSTM layers run as hybrid_lstm.HybridLSTMCell: T = {args.hybrid_timesteps}, "
                f"{args.hybrid_reset} reset, initial potential {args.hybrid_initial_potential}")
    cell = "hybrid_lstm.ModifiedLSTMCell" if args.cell_type == "modified" else "torch.nn.LSTMCell"
    note = (" (converted integer weights present but unused: pass --model-overrides "
            "\"{'hybrid_timesteps': T}\" to run the hybrid)") if args.converted else ""
    return f"LSTM layers run as the analog {cell}{note}"


@register_model_architecture("custom_lstm", "custom_baseline_iwslt")
def custom_baseline_iwslt(args):
    """Defaults only (docs/method.md, "Translation")."""
    args.cell_type = getattr(args, "cell_type", "default")
    args.init_type = getattr(args, "init_type", "orthogonal")
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", 256)
    args.encoder_hidden_size = getattr(args, "encoder_hidden_size", 256)
    args.encoder_dropout_in = getattr(args, "encoder_dropout_in", 0.0)
    args.encoder_dropout_out = getattr(args, "encoder_dropout_out", 0.0)
    args.decoder_embed_dim = getattr(args, "decoder_embed_dim", 256)
    args.decoder_hidden_size = getattr(args, "decoder_hidden_size", 256)
    args.decoder_dropout_out = getattr(args, "decoder_dropout_out", 0.2)
    args.embed_norm = getattr(args, "embed_norm", True)
    args.converted = getattr(args, "converted", False)
    args.hybrid_timesteps = getattr(args, "hybrid_timesteps", 0)
    args.hybrid_reset = getattr(args, "hybrid_reset", "soft")
    args.hybrid_initial_potential = getattr(args, "hybrid_initial_potential", "one")
