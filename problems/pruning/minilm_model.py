"""The all-MiniLM-L6-v2 sentence encoder in plain torch (BERT encoder, mean pooling, L2 normalisation).

Module names follow the checkpoint's keys (``encoder.layer.{i}.attention.self.query`` ...), so the
packaged ``model.safetensors`` loads directly; the unused pooler is not built. Imported only when the
MiniLM problem is built.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, positions: int, types: int, eps: float):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(pos)[None] + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))

    def forward(self, x, bias):
        B, T, D = x.shape
        h = self.heads

        def split(t):
            return t.view(B, T, h, D // h).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // h) + bias
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)


class DenseNorm(nn.Module):
    def __init__(self, d_in: int, d_out: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, eps: float):
        super().__init__()
        self.self = SelfAttention(hidden, heads)
        self.output = DenseNorm(hidden, hidden, eps)

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class Intermediate(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.dense = nn.Linear(hidden, inner)

    def forward(self, x):
        return F.gelu(self.dense(x))  # erf GELU


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, eps: float):
        super().__init__()
        self.attention = Attention(hidden, heads, eps)
        self.intermediate = Intermediate(hidden, inner)
        self.output = DenseNorm(inner, hidden, eps)

    def forward(self, x, bias):
        x = self.attention(x, bias)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, inner: int, eps: float):
        super().__init__()
        self.layer = nn.ModuleList(Layer(hidden, heads, inner, eps) for _ in range(layers))


class MiniLM(nn.Module):
    """``forward(packed)`` with ``packed = stack([ids, attention_mask], 1)`` (B x 2 x T, int64) returns
    L2-normalised mean-pooled embeddings (B x hidden)."""

    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.embeddings = Embeddings(
            config["vocab_size"], hidden, config["max_position_embeddings"], config["type_vocab_size"], eps
        )
        self.encoder = Encoder(
            config["num_hidden_layers"], hidden, config["num_attention_heads"], config["intermediate_size"], eps
        )

    def forward(self, packed):
        ids, mask = packed[:, 0], packed[:, 1]
        x = self.embeddings(ids)
        dtype = x.dtype
        bias = (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        m = mask[..., None].to(dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, p=2, dim=1)
