"""MKOR's preconditioning against the formula ``D = s J_G Gmat J_A`` (``s`` keeps each layer's gradient norm),
computed here in float64 from the raw gradients and the factors, after changes the optimizer must notice: a
factor replaced (a stabilizer reset), a parameter tied or replaced after construction, a missing bias
gradient, a non-contiguous gradient, gradients dropped and recreated between steps."""

import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

from optim.nn.mkor import MKOR


def _model():
    torch.manual_seed(0)
    conv = [nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Flatten()]
    return nn.Sequential(*conv, nn.Linear(48, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6)).double()


def _backward(model, k):
    gen = torch.Generator().manual_seed(k)
    X = torch.randn(8, 2, 4, 4, generator=gen, dtype=torch.float64)
    nn.functional.cross_entropy(model(X), torch.randint(0, 6, (8,), generator=gen)).backward()


def _random_factor(d, seed):
    M = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return M @ M.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def _expected(opt, rescale):
    """``{id(grad tensor): what the preconditioning must leave in it}`` from the formula; layers are processed
    in order, so a gradient shared by tied layers ends up with the last one's result."""
    want = {}
    for layer in opt.layers:
        W, b = layer.module.weight, layer.module.bias
        if W.grad is None:
            continue
        raw_w = W.grad.reshape(layer.d_out, -1).clone()
        raw_b = b.grad.clone() if b.grad is not None else torch.zeros(layer.d_out, dtype=torch.float64)
        D = layer.stats["J_G"] @ torch.cat([raw_w, raw_b[:, None]], 1) @ layer.stats["J_A"]
        norms = [raw_w.norm(), raw_b.norm(), D[:, :-1].norm(), D[:, -1].norm()]
        if rescale == "sum":
            s = (norms[0] + norms[1]) / (norms[2] + norms[3])
        else:
            s = torch.hypot(norms[0], norms[1]) / torch.hypot(norms[2], norms[3])
        want[id(W.grad)] = (W.grad, (s * D[:, :-1]).reshape(W.shape))
        if b.grad is not None:
            want[id(b.grad)] = (b.grad, s * D[:, -1])
    return want


CHANGES = ["none", "factor reset", "tied after construction", "replaced after construction", "bias grad None"]


@pytest.mark.parametrize("rescale", ["sum", "joint"])
@pytest.mark.parametrize("change", CHANGES + ["non-contiguous grad"])
def test_preconditioning_equals_the_formula_after_structural_changes(change, rescale):
    model = _model()
    opt = MKOR(model, "sgd", lr=0.05, inv_freq=1, rescale=rescale, factor_dtype=torch.float64)
    for k in range(3):  # factors away from I; the in-place path and its cached views are in use
        opt.zero_grad()
        _backward(model, k)
        opt.step()
    last = opt.layers[-1]
    if change == "factor reset":  # a new tensor: the views of the old one must not be used
        last.stats["J_A"] = _random_factor(last.d_in, 1)
    elif change == "tied after construction":  # two layers share one weight and its gradient
        model[7].weight = model[5].weight
    elif change == "replaced after construction":
        model[7].weight = nn.Parameter(torch.randn(6, 6, dtype=torch.float64))
    for k in range(3, 6):  # gradients are dropped (set_to_none) and recreated each step
        opt.zero_grad()
        _backward(model, k)
        if change == "bias grad None":
            last.module.bias.grad = None
        if change == "non-contiguous grad" and k == 4:
            g = last.module.weight.grad
            last.module.weight.grad = g.T.contiguous().T
            assert not last.module.weight.grad.is_contiguous()
        want = _expected(opt, rescale)
        with torch.no_grad():
            opt._precondition()
        for grad, value in want.values():
            assert torch.allclose(grad, value, rtol=1e-10, atol=1e-14)
        if change == "bias grad None":
            assert last.module.bias.grad is None
        opt.backbone.step()
        opt.t += 1


def test_weight_and_bias_gradients_of_different_dtypes_take_the_general_path():
    """A float32 weight with a float64 bias (the in-place path would multiply mismatched dtypes): the
    step runs and, with identity factors, leaves each gradient as it was (s = 1), in its own dtype."""
    lin = nn.Linear(4, 3)
    lin.bias = nn.Parameter(lin.bias.detach().double())
    opt = MKOR(nn.Sequential(lin), "sgd", lr=0.1)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    (x @ lin.weight.T + lin.bias.float()).pow(2).sum().backward()  # a forward outside the module's hooks
    before = [lin.weight.grad.clone(), lin.bias.grad.clone()]
    with torch.no_grad():
        opt._precondition()
    assert lin.weight.grad.dtype == torch.float32 and lin.bias.grad.dtype == torch.float64
    torch.testing.assert_close(lin.weight.grad, before[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(lin.bias.grad, before[1], rtol=1e-6, atol=1e-7)
