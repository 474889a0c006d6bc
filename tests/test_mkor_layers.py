"""Which layers MKOR and KFAC precondition: ``exclude`` names are checked against the model (a misspelt
name is an error, a container name excludes everything inside it), and a layer that fires on some steps
and then goes silent keeps the factors of its last round, with no statistics carried over."""

import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

from optim.nn.kfac import KFAC
from optim.nn.mkor import MKOR

OPTIMIZERS = [
    pytest.param(lambda m, **kw: MKOR(m, "sgd", lr=0.05, inv_freq=1, **kw), id="mkor"),
    pytest.param(lambda m, **kw: KFAC(m, "sgd", lr=0.05, mode="asdl", **kw), id="kfac-asdl"),
    pytest.param(lambda m, **kw: KFAC(m, "sgd", lr=0.05, factor_every=1, inv_every=1, **kw), id="kfac-kaisa"),
]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8))
        self.side = nn.Linear(6, 8)
        self.head = nn.Linear(8, 4)
        self.use_side = True

    def forward(self, x):
        h = torch.tanh(self.enc(x))
        if self.use_side:
            h = h + torch.tanh(self.side(x))
        return self.head(h)


def _batch(k, n=12):
    gen = torch.Generator().manual_seed(500 + k)
    return torch.randn(n, 6, generator=gen, dtype=torch.float64), torch.randint(0, 4, (n,), generator=gen)


def _step(model, opt, k):
    opt.zero_grad()
    X, y = _batch(k)
    nn.functional.cross_entropy(model(X), y).backward()
    opt.step()


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_misspelt_or_foreign_exclusions_are_errors_naming_them(make):
    model = _Net().double()
    with pytest.raises(ValueError, match=r"'enc\.3'.*'haed'"):
        make(model, exclude=["enc.0", "enc.3", "haed"])
    with pytest.raises(ValueError, match="not part of the model"):
        make(model, exclude=[nn.Linear(2, 2)])
    with pytest.raises(TypeError, match="exclude"):
        make(model, exclude=[3])
    with pytest.raises(TypeError, match="exclude"):
        make(model, exclude=3)


class _Capture(torch.optim.SGD):
    """An SGD backbone that records the gradients it is handed."""

    def step(self, closure=None):
        self.seen = {id(p): p.grad.clone() for g in self.param_groups for p in g["params"] if p.grad is not None}
        return super().step(closure)


@pytest.mark.parametrize("cls", [MKOR, KFAC])
def test_excluding_a_container_leaves_every_layer_inside_it_to_the_backbone(cls):
    model = _Net().double()
    backbone = _Capture(model.parameters(), lr=0.05)
    opt = cls(model, backbone, exclude="enc", **({"inv_freq": 1} if cls is MKOR else {"mode": "asdl"}))
    assert [layer.name for layer in opt.layers] == ["side", "head"]
    assert sorted(layer.name for layer in opt.excluded) == ["enc.0", "enc.2"]
    other = _Net().double()
    assert [layer.name for layer in cls(other, exclude=[other.enc]).layers] == ["side", "head"]  # by module
    for k in range(3):  # the excluded layers' gradients reach the backbone untouched, the others do not
        opt.zero_grad()
        X, y = _batch(k)
        nn.functional.cross_entropy(model(X), y).backward()
        raw = {id(p): p.grad.clone() for p in model.parameters()}
        opt.step()
        for p in model.enc.parameters():
            assert torch.equal(backbone.seen[id(p)], raw[id(p)])
        if k >= 2:
            assert not torch.equal(backbone.seen[id(model.head.weight)], raw[id(model.head.weight)])


def _factors(opt, layer):
    keys = ("J_A", "J_G") if isinstance(opt, MKOR) else ("A", "G")
    return [layer.stats[key].clone() for key in keys]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_a_layer_that_fires_twice_then_goes_silent_keeps_its_last_factors(make):
    model = _Net().double()
    opt = make(model)
    side = next(layer for layer in opt.layers if layer.name == "side")
    head = next(layer for layer in opt.layers if layer.name == "head")
    for k in range(2):  # two factor rounds with the side branch (MKOR's first round only initialises)
        _step(model, opt, k)
        assert not side.fired and side.buf == {}  # the round consumed and cleared the statistics
    kept = _factors(opt, side)
    eye = torch.eye(side.d_in, dtype=kept[0].dtype)
    assert not torch.equal(kept[0], eye) if isinstance(opt, MKOR) else True
    model.use_side = False
    for k in range(2, 6):
        before = _factors(opt, head)
        _step(model, opt, k)
        assert not side.fired and not head.fired and side.buf == {}
        assert model.side.weight.grad is None  # nothing to precondition for the silent layer
        for got, want in zip(_factors(opt, side), kept, strict=True):
            assert torch.equal(got, want)
        assert any(not torch.equal(a, b) for a, b in zip(_factors(opt, head), before, strict=True))
    model.use_side = True  # firing again: it takes part in the next round
    _step(model, opt, 6)
    assert any(not torch.equal(a, b) for a, b in zip(_factors(opt, side), kept, strict=True))
