"""KFAC: mode="asdl" equals ASDL's KfacGradientMaker(fisher_type="fisher_emp") computed live (float64,
1e-10); mode="kaisa" solves the damped Kronecker system G V A + damping V = Gmat with the running
factors built from the layer inputs and output gradients, and applies the KL clip."""

import copy

import pytest
import torch
import torch.nn.functional as F
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

from optim.nn.kfac import KFAC


def _mlp(bias=True):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8, bias=bias), nn.Tanh(), nn.Linear(8, 4, bias=bias)).double()


def _batch(k, n=20):
    gen = torch.Generator().manual_seed(300 + k)
    return torch.randn(n, 6, generator=gen, dtype=torch.float64), torch.randint(0, 4, (n,), generator=gen)


class _Capture(torch.optim.SGD):
    """SGD that records the (preconditioned) gradients it is handed."""

    def step(self, closure=None):
        self.seen = [p.grad.clone() for g in self.param_groups for p in g["params"]]
        return super().step(closure)


def _conv():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 2 * 3, 4)).double()


def _kaisa_directions(opt, raws, damping):
    """The unclipped KAISA directions ``Q_G ((Q_G^T Gmat Q_A) / (d_G d_A^T + damping)) Q_A^T`` per layer, from
    the optimizer's eigendecompositions and the raw gradient matrices ``raws``."""
    out = []
    for layer, Gm in zip(opt.layers, raws, strict=True):
        (dA, QA), (dG, QG) = layer.stats["eig_A"], layer.stats["eig_G"]
        out.append(QG @ ((QG.T @ Gm @ QA) / (torch.outer(dG, dA) + damping)) @ QA.T)
    return out


@pytest.mark.parametrize("make", [lambda: _mlp(True), lambda: _mlp(False), _conv], ids=["mlp", "mlp-no-bias", "conv"])
def test_asdl_mode_equals_asdl_kfac_gradient_maker(make):
    from asdl.precondition import KfacGradientMaker, PreconditioningConfig  # peers extra: asdfghjkl==0.1a5

    ref, ours = make(), make()
    maker = KfacGradientMaker(ref, PreconditioningConfig(data_size=20, damping=1e-2), fisher_type="fisher_emp")
    sgd_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    backbone = _Capture(ours.parameters(), lr=0.1)
    opt = KFAC(ours, backbone, mode="asdl", damping=1e-2)
    for k in range(3):
        X, y = _batch(k)
        if isinstance(ref[0], nn.Conv2d):
            X = X.reshape(20, 1, 2, 3)
        sgd_ref.zero_grad()
        out = maker.setup_model_call(ref, X)
        maker.setup_loss_call(F.cross_entropy, out, y)
        maker.forward_and_backward()  # leaves ASDL's preconditioned gradient in .grad
        want = [p.grad.clone() for p in ref.parameters()]
        sgd_ref.step()
        opt.zero_grad()
        F.cross_entropy(ours(X), y).backward()
        opt.step()
        for got, w in zip(backbone.seen, want, strict=True):
            assert float((got - w).abs().max()) <= 1e-10 * max(1.0, float(w.abs().max()))
    for p, q in zip(ref.parameters(), ours.parameters(), strict=True):
        assert float((p - q).detach().abs().max()) <= 1e-10


def test_kaisa_mode_solves_the_damped_kronecker_system_and_clips():
    model = _mlp()
    lr, damping = 0.5, 1e-2
    opt = KFAC(
        model, torch.optim.SGD(model.parameters(), lr=0.0), mode="kaisa", damping=damping, inv_every=10, kl_clip=None
    )
    X, y = _batch(0)
    opt.zero_grad()
    h = model[0](X)
    h.retain_grad()
    out = model[2](torch.tanh(h))
    out.retain_grad()
    F.cross_entropy(out, y).backward()
    raw = model[0].weight.grad.clone(), model[0].bias.grad.clone()
    opt.step()
    # running factors start at I: A = 0.95 I + 0.05 a^T a / n with a = [x | 1], G likewise with g = grad_output
    a = torch.cat([X, torch.ones(20, 1, dtype=torch.float64)], 1)
    A = 0.95 * torch.eye(7, dtype=torch.float64) + 0.05 * a.T @ a / 20
    G = 0.95 * torch.eye(8, dtype=torch.float64) + 0.05 * h.grad.T @ h.grad / 20
    layer = opt.layers[0]
    torch.testing.assert_close(layer.stats["A"], A, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.stats["G"], G, rtol=0, atol=1e-12)
    V = torch.cat([model[0].weight.grad, model[0].bias.grad[:, None]], 1)
    Gmat = torch.cat([raw[0], raw[1][:, None]], 1)
    torch.testing.assert_close(G @ V @ A + damping * V, Gmat, rtol=0, atol=1e-12)
    # the KL clip scales every layer by nu = min(1, sqrt(kl_clip / |sum lr_l^2 <V_l, Gmat_l>|))
    clipped = copy.deepcopy(model)
    opt2 = KFAC(clipped, torch.optim.SGD(clipped.parameters(), lr=lr), mode="kaisa", damping=damping, kl_clip=1e-4)
    opt2.zero_grad()
    F.cross_entropy(clipped(X), y).backward()
    raws = [torch.cat([m.weight.grad, m.bias.grad[:, None]], 1) for m in (clipped[0], clipped[2])]
    opt2._update_factors()
    unclipped = _kaisa_directions(opt2, raws, damping)
    vg = abs(sum(float((V * Gm).sum()) for V, Gm in zip(unclipped, raws, strict=True))) * lr**2
    nu = min(1.0, (1e-4 / vg) ** 0.5)
    assert nu < 1
    opt2._precondition()
    for m, V in zip((clipped[0], clipped[2]), unclipped, strict=True):
        torch.testing.assert_close(torch.cat([m.weight.grad, m.bias.grad[:, None]], 1), nu * V, rtol=1e-12, atol=1e-14)


def test_kaisa_conv_factors_use_one_row_per_output_position():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    model = nn.Sequential(conv, nn.Flatten(), nn.Linear(3 * 5 * 5, 2)).double()
    opt = KFAC(model, "sgd", lr=0.0, mode="kaisa", decay=0.0)
    X = torch.randn(4, 2, 5, 5, dtype=torch.float64)
    out = conv(X)
    out.retain_grad()
    F.cross_entropy(model[2](model[1](out)), torch.tensor([0, 1, 1, 0])).backward()
    opt.step()
    P = 25
    patches = F.unfold(X, 3, padding=1).transpose(1, 2).reshape(-1, 18)
    a = torch.cat([patches, torch.ones(100, 1, dtype=torch.float64)], 1) / P
    g = out.grad.permute(0, 2, 3, 1).reshape(-1, 3) / P
    torch.testing.assert_close(opt.layers[0].stats["A"], a.T @ a / 100, rtol=0, atol=1e-12)
    torch.testing.assert_close(opt.layers[0].stats["G"], g.T @ g / 100, rtol=0, atol=1e-12)


def test_kfac_state_dict_round_trip_and_bad_input():
    ref = _mlp()
    opt = KFAC(ref, "sgd", lr=0.1, momentum=0.9, factor_every=2, inv_every=3, damping=0.1)
    for k in range(8):
        opt.zero_grad()
        F.cross_entropy(ref(_batch(k)[0]), _batch(k)[1]).backward()
        opt.step()
        if k == 3:
            saved = copy.deepcopy(opt.state_dict())
            weights = copy.deepcopy(ref.state_dict())
    fresh = _mlp()
    fresh.load_state_dict(weights)
    opt2 = KFAC(fresh, "sgd", lr=0.1, momentum=0.9, factor_every=2, inv_every=3, damping=0.1)
    opt2.load_state_dict(saved)
    for k in range(4, 8):
        opt2.zero_grad()
        F.cross_entropy(fresh(_batch(k)[0]), _batch(k)[1]).backward()
        opt2.step()
    for p, q in zip(ref.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="mode"):
        KFAC(_mlp(), mode="kfac")
    with pytest.raises(ValueError, match="damping"):
        KFAC(_mlp(), damping=0.0)
    with pytest.raises(ValueError, match="inv_every"):
        KFAC(_mlp(), inv_every=0)


def test_asdl_mode_equals_asdl_on_a_mean_squared_error_given_per_output():
    """ASDL asks for the summed loss and divides by data_size: for F.mse_loss (a mean over each sample's
    outputs too) it must get the loss divided by the outputs per sample to see the same loss as we do."""
    from asdl.precondition import KfacGradientMaker, PreconditioningConfig

    def per_output(out, target, reduction="mean"):
        loss = F.mse_loss(out, target, reduction=reduction)
        return loss / out[0].numel() if reduction == "sum" else loss

    ref, ours = _mlp(), _mlp()
    maker = KfacGradientMaker(ref, PreconditioningConfig(data_size=20, damping=1e-2), fisher_type="fisher_emp")
    sgd_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    opt = KFAC(ours, "sgd", lr=0.1, mode="asdl", damping=1e-2)
    for k in range(3):
        X = _batch(k)[0]
        Y = torch.tanh(X[:, :4])
        sgd_ref.zero_grad()
        maker.setup_loss_call(per_output, maker.setup_model_call(ref, X), Y)
        maker.forward_and_backward()
        sgd_ref.step()
        opt.zero_grad()
        F.mse_loss(ours(X), Y).backward()
        opt.step()
    for p, q in zip(ref.parameters(), ours.parameters(), strict=True):
        assert float((p - q).detach().abs().max()) <= 1e-10


def test_kaisa_kl_clip_weighs_each_layer_by_its_own_learning_rate():
    """nu = min(1, sqrt(kl_clip / |sum_l lr_l^2 <V_l, Gmat_l>|)) with per-layer parameter groups."""
    model = _mlp()
    lrs, damping = (0.5, 1.5), 1e-2
    groups = [{"params": list(m.parameters()), "lr": lr} for m, lr in zip((model[0], model[2]), lrs, strict=True)]
    opt = KFAC(model, torch.optim.SGD(groups), mode="kaisa", damping=damping, kl_clip=1e-4)
    X, y = _batch(0)
    opt.zero_grad()
    F.cross_entropy(model(X), y).backward()
    raws = [torch.cat([m.weight.grad, m.bias.grad[:, None]], 1) for m in (model[0], model[2])]
    opt._update_factors()
    unclipped = _kaisa_directions(opt, raws, damping)
    vg = abs(sum(lr**2 * float((V * Gm).sum()) for lr, V, Gm in zip(lrs, unclipped, raws, strict=True)))
    nu = min(1.0, (1e-4 / vg) ** 0.5)
    assert nu < 1
    opt._precondition()
    for m, V in zip((model[0], model[2]), unclipped, strict=True):
        torch.testing.assert_close(torch.cat([m.weight.grad, m.bias.grad[:, None]], 1), nu * V, rtol=1e-12, atol=1e-14)
