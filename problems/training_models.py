"""torch models of the built-in training problems (imported only when a model is built)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def mlp(sizes, activation=nn.Tanh) -> nn.Sequential:
    """Fully connected network ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between layers."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def small_cnn() -> nn.Sequential:
    """1x8x8 -> Conv(1->16, 3, pad 1) ReLU -> Conv(16->32, 3, pad 1, stride 2) ReLU -> Linear(512->10)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def autoencoder(sizes=(64, 256, 128, 16, 128, 256, 64)) -> nn.Sequential:
    """Deep autoencoder: tanh after every hidden layer except the (linear) code layer; linear output."""
    code = len(sizes) // 2  # index of the code width
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 and i + 1 != code:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x)) (MLP 4x, GELU)."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=False)
        self.attn = CausalSelfAttention(d_model, heads)
        self.ln2 = nn.LayerNorm(d_model, bias=False)
        self.fc = nn.Linear(d_model, 4 * d_model, bias=False)
        self.out = nn.Linear(4 * d_model, d_model, bias=False)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class CharGPT(nn.Module):
    """Tiny GPT: token + position embeddings, ``layers`` blocks, final LayerNorm, linear head.

    Matrices carry no bias; weights start from N(0, 0.02^2) (GPT-2's initialisation).
    """

    def __init__(self, vocab: int, context: int = 64, d_model: int = 128, heads: int = 4, layers: int = 2):
        super().__init__()
        self.context = context
        self.tok_embed = nn.Embedding(vocab, d_model)
        self.pos_embed = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model, bias=False)
        self.head = nn.Linear(d_model, vocab, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        if T > self.context:
            raise ValueError(f"sequence length {T} exceeds the context {self.context}")
        x = self.tok_embed(idx) + self.pos_embed(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))
