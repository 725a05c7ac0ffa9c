"""The translation model's parts against what docs/method.md says: padding, the encoder's final
state at each sentence's true length, attention masking, embedding renormalisation, and where
dropout acts."""
import argparse

import pytest
import torch
from torch import nn

pytest.importorskip("fairseq")

from fairseq.data import Dictionary  # noqa: E402

from fairseq_custom_modules.lstm_model import (  # noqa: E402
    CustomLSTMDecoder, CustomLSTMEncoder, LuongAttention, custom_baseline_iwslt,
)

WORDS = ["der", "hund", "katze", "steht", "."]


def small_args(cell_type: str = "modified") -> argparse.Namespace:
    args = argparse.Namespace(cell_type=cell_type, encoder_embed_dim=6, encoder_hidden_size=5,
                              decoder_embed_dim=6, decoder_hidden_size=5)
    custom_baseline_iwslt(args)
    return args


def dictionary() -> Dictionary:
    table = Dictionary()
    for word in WORDS:
        table.add_symbol(word)
    return table


def left_padded(sentences, table: Dictionary):
    """fairseq's source batch: token ids left-padded to the longest sentence, and the lengths."""
    longest = max(map(len, sentences))
    tokens = torch.full((len(sentences), longest), table.pad())
    for row, sentence in enumerate(sentences):
        tokens[row, longest - len(sentence):] = torch.tensor([table.index(w) for w in sentence])
    return tokens, torch.tensor([len(s) for s in sentences])


@pytest.mark.parametrize("cell_type", ["default", "modified"])
def test_encoder_state_is_taken_at_each_sentences_true_length(cell_type):
    torch.manual_seed(0)
    table = dictionary()
    encoder = CustomLSTMEncoder(small_args(cell_type), table).eval()
    long, short = ["der", "hund", "steht", "."], ["katze", "."]
    tokens, lengths = left_padded([long, short], table)
    batch = encoder(tokens, lengths)
    alone = encoder(*left_padded([short], table))
    assert batch["encoder_padding_mask"].tolist() == [[False] * 4, [False, False, True, True]]
    for batched, single in zip(batch["encoder_state"], alone["encoder_state"]):
        torch.testing.assert_close(batched[1], single[0])  # equal up to the batch's float rounding
    torch.testing.assert_close(batch["encoder_out"][1, :2], alone["encoder_out"][0])
    # the state after stepping over the padding would be another one
    assert not torch.allclose(batch["encoder_out"][1, -1], batch["encoder_state"][0][1], atol=1e-3)


def test_attention_ignores_padded_positions():
    torch.manual_seed(0)
    attention = LuongAttention(5, 4)
    h, encoder_out = torch.randn(2, 5), torch.randn(2, 3, 4)
    mask = torch.tensor([[False, False, True], [False, False, False]])
    changed = encoder_out.clone()
    changed[0, 2] = 100.0
    torch.testing.assert_close(attention(h, encoder_out, mask)[0], attention(h, changed, mask)[0], rtol=0, atol=0)
    unmasked = torch.zeros_like(mask)
    assert not torch.equal(attention(h, encoder_out, unmasked)[0], attention(h, changed, unmasked)[0])


def test_embeddings_are_renormalised_in_training_only():
    torch.manual_seed(0)
    table = dictionary()
    encoder = CustomLSTMEncoder(small_args(), table)
    tokens, lengths = left_padded([["der", "hund"]], table)
    before = encoder.embed_tokens.weight.detach().clone()
    encoder.eval()(tokens, lengths)
    assert torch.equal(encoder.embed_tokens.weight, before)  # inference leaves the table alone
    encoder.train()(tokens, lengths)
    norms = encoder.embed_tokens.weight.norm(dim=1)
    assert norms[table.pad()] == 0
    others = torch.cat([norms[: table.pad()], norms[table.pad() + 1:]])
    torch.testing.assert_close(others, torch.ones_like(others))
    rows = encoder.embed_tokens.weight[torch.arange(len(table)) != table.pad()]
    before_rows = before[torch.arange(len(table)) != table.pad()]
    torch.testing.assert_close(rows, before_rows / before_rows.norm(dim=1, keepdim=True))  # direction kept


class Zero(nn.Module):
    """Stands in for a dropout that drops everything, to show where the dropout sits."""

    def forward(self, x):
        return torch.zeros_like(x)


class Recording(nn.Module):
    """A recurrent layer that records the input of every step."""

    def __init__(self, layer):
        super().__init__()
        self.layer, self.inputs = layer, []

    def forward(self, x, state):
        self.inputs.append(x.detach().clone())
        return self.layer(x, state)


def test_decoder_dropout_acts_on_the_attention_output_and_the_input_feed():
    """Dropout on out = tanh(W2 [ctx ; h]): what fc_out reads and what the next step is fed."""
    torch.manual_seed(0)
    table = dictionary()
    args = small_args()
    encoder, decoder = CustomLSTMEncoder(args, table).eval(), CustomLSTMDecoder(args, table).eval()
    source = encoder(*left_padded([["der", "hund", "."]], table))
    previous = torch.tensor([[table.eos(), table.index("der"), table.index("hund")]])
    decoder.rnn = Recording(decoder.rnn)
    normal, _ = decoder(previous, source)
    assert [x[0, 6:].abs().sum() > 0 for x in decoder.rnn.inputs] == [False, True, True]  # feed: zeros, then out
    decoder.rnn.inputs.clear()
    decoder.dropout_out = Zero()
    dropped, _ = decoder(previous, source)
    assert all(x[0, 6:].abs().sum() == 0 for x in decoder.rnn.inputs)
    assert torch.equal(dropped, decoder.fc_out.bias.expand_as(dropped)) and not torch.equal(dropped, normal)


def test_encoder_dropouts_act_on_the_embeddings_and_the_outputs():
    """dropout_in on the embeddings the LSTM reads; dropout_out on the outputs attention reads,
    not on the final state the decoder starts from."""
    torch.manual_seed(0)
    table = dictionary()
    encoder = CustomLSTMEncoder(small_args(), table).eval()
    tokens, lengths = left_padded([["der", "hund"]], table)
    seen = []
    run = encoder.rnn.run
    encoder.rnn.run = lambda x, lengths: (seen.append(x), run(x, lengths))[1]
    normal = encoder(tokens, lengths)
    encoder.dropout_in = Zero()
    encoder(tokens, lengths)
    assert seen[0].abs().sum() > 0 and seen[1].abs().sum() == 0
    encoder.dropout_in = nn.Identity()
    encoder.dropout_out = Zero()
    dropped = encoder(tokens, lengths)
    assert dropped["encoder_out"].abs().sum() == 0 and normal["encoder_out"].abs().sum() > 0
    assert all(torch.equal(a, b) for a, b in zip(dropped["encoder_state"], normal["encoder_state"]))
