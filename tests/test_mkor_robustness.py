"""MKOR on awkward models and inputs: in-place activations, weight sharing, layers that never fire,
missing gradients, NaN/inf gradients, a validation forward without backward, gradient accumulation,
a loss scale, convolutions and sequence inputs; bad arguments fail with errors that name them."""

import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)
from torch import nn

from optim.nn.mkor import MKOR


def _batch(k, n=16, d=6, classes=4):
    gen = torch.Generator().manual_seed(200 + k)
    return torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randint(0, classes, (n,), generator=gen)


def _mlp(act):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 9), act, nn.Linear(9, 4)).double()


def _train(model, opt, steps, between=None):
    for k in range(steps):
        opt.zero_grad()
        X, y = _batch(k)
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        if between is not None:
            between(model, k)


def test_inplace_relu_gives_the_same_run_as_out_of_place():
    runs = []
    for inplace in (True, False):
        model = _mlp(nn.ReLU(inplace=inplace))
        opt = MKOR(model, "sgd", lr=0.1, inv_freq=1)
        _train(model, opt, 6)
        runs.append((model, opt))
    (m1, o1), (m2, o2) = runs
    assert o1.n_rounds == 6
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    assert torch.equal(o1.layers[0].stats["J_G"], o2.layers[0].stats["J_G"])
    assert not torch.equal(o1.layers[0].stats["J_G"], torch.eye(9, dtype=torch.float32))


class _Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(5, 5)
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        return self.head(self.shared(torch.tanh(self.shared(x))))


def test_a_module_called_twice_accumulates_both_calls():
    torch.manual_seed(0)
    model = _Twice().double()
    opt = MKOR(model, "sgd", lr=0.1)
    X = torch.randn(8, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (8,))
    h1 = model.shared(X)
    h1.retain_grad()
    x2 = torch.tanh(h1)
    h2 = model.shared(x2)
    h2.retain_grad()
    nn.functional.cross_entropy(model.head(h2), y).backward()
    layer = opt.layers[0]
    a_sum, a_count = layer.buf["a"]
    g_sum, g_count = layer.buf["g"]
    ones = torch.ones(8, 1, dtype=torch.float64)
    want_a = torch.cat([torch.cat([X, ones], 1), torch.cat([x2.detach(), ones], 1)]).sum(0)
    want_g = 8 * (h1.grad + h2.grad).sum(0)  # each call's rows times its own row count
    assert (a_count, g_count) == (16, 16)
    torch.testing.assert_close(a_sum, want_a, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_sum, want_g, rtol=1e-12, atol=1e-12)
    opt.step()


class _Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(6, 4)
        self.never = nn.Linear(6, 4)
        self.used.bias.requires_grad_(False)  # a parameter that never has a gradient

    def forward(self, x):
        return self.used(x)


def test_a_layer_that_never_fires_keeps_identity_and_missing_grads_are_skipped():
    torch.manual_seed(0)
    model = _Unused().double()
    opt = MKOR(model, "sgd", lr=0.1, inv_freq=1)
    _train(model, opt, 5)
    never = [layer for layer in opt.layers if layer.name == "never"][0]
    assert torch.equal(never.stats["J_A"], torch.eye(7)) and not never.fired
    assert model.never.weight.grad is None and model.used.bias.grad is None
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_gradients_never_poison_the_factors(bad):
    model = _mlp(nn.Tanh())
    opt = MKOR(model, "sgd", lr=0.1, inv_freq=1)
    _train(model, opt, 3)
    factors = [(layer.stats["J_A"].clone(), layer.stats["J_G"].clone()) for layer in opt.layers]
    opt.zero_grad()
    X, y = _batch(9)
    X[0, 0] = bad
    nn.functional.cross_entropy(model(X), y).backward()
    opt.step()
    for layer, (JA, JG) in zip(opt.layers, factors, strict=True):
        for J, before in ((layer.stats["J_A"], JA), (layer.stats["J_G"], JG)):
            assert torch.isfinite(J).all()
            if bad != bad:  # NaN statistics: the round is skipped, factors unchanged
                assert torch.equal(J, before)
            else:  # inf inputs are clamped to +-100 (as the authors' code does): a finite, bounded update
                assert float(torch.linalg.eigvalsh(J.double()).max()) <= 1 + 1e-5
    assert opt.skipped_rounds == (1 if bad != bad else 0)
    assert not torch.isfinite(model[0].weight).all()  # the bad gradient reaches the parameter, as in SGD


def test_a_validation_forward_with_grad_and_no_backward_leaves_no_trace():
    def validate(model, k):
        X, y = _batch(50 + k)
        nn.functional.cross_entropy(model(X), y)  # grad enabled, never backpropagated

    runs = []
    for between in (None, validate):
        model = _mlp(nn.Tanh())
        opt = MKOR(model, "sgd", lr=0.1, inv_freq=2)
        _train(model, opt, 6, between)
        runs.append(model)
    for p, q in zip(*(m.parameters() for m in runs), strict=True):
        assert torch.equal(p, q)


def test_accumulated_micro_batches_give_the_factors_of_the_whole_batch():
    results = []
    for k_acc in (1, 2):
        model = _mlp(nn.Tanh())
        opt = MKOR(model, "sgd", lr=0.1, inv_freq=1, grad_accum_steps=k_acc, factor_dtype=torch.float64)
        for k in range(4):
            opt.zero_grad()
            X, y = _batch(k)
            for rows in torch.chunk(torch.arange(16), k_acc):
                (nn.functional.cross_entropy(model(X[rows]), y[rows]) / k_acc).backward()
            opt.step()
        results.append(opt)
    for la, lb in zip(results[0].layers, results[1].layers, strict=True):
        torch.testing.assert_close(la.stats["J_A"], lb.stats["J_A"], rtol=0, atol=1e-12)
        torch.testing.assert_close(la.stats["J_G"], lb.stats["J_G"], rtol=0, atol=1e-12)


def test_a_loss_scale_is_divided_out_of_the_statistics():
    runs = []
    for scale in (None, 1024.0):
        model = _mlp(nn.Tanh())
        opt = MKOR(model, "sgd", lr=0.1, inv_freq=1, grad_scaler=scale, factor_dtype=torch.float64)
        for k in range(4):
            opt.zero_grad()
            X, y = _batch(k)
            (nn.functional.cross_entropy(model(X), y) * (scale or 1.0)).backward()
            for p in model.parameters():
                p.grad.div_(scale or 1.0)  # what GradScaler.unscale_ does to the backbone's groups
            opt.step()
        runs.append(opt)
    for la, lb in zip(runs[0].layers, runs[1].layers, strict=True):
        torch.testing.assert_close(la.stats["J_G"], lb.stats["J_G"], rtol=0, atol=1e-12)


def test_convolutions_sequences_and_grouped_convs():
    torch.manual_seed(0)
    conv = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(4, 4, 3, groups=2),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3),
    )
    opt = MKOR(conv, "adamw", lr=1e-3, inv_freq=1)
    assert [layer.name for layer in opt.layers] == ["0", "4"]  # the grouped conv is left to the backbone
    assert opt.layers[0].d_in == 1 * 3 * 3 + 1 and opt.layers[0].d_out == 4
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(conv(torch.randn(5, 1, 8, 8)), torch.randint(0, 3, (5,))).backward()
        opt.step()
    assert not torch.equal(opt.layers[0].stats["J_A"], torch.eye(10))
    seq = nn.Sequential(nn.Linear(8, 8, bias=False), nn.LayerNorm(8), nn.Linear(8, 5))
    opt = MKOR(seq, "sgd", lr=0.1, inv_freq=1)
    for _ in range(3):
        opt.zero_grad()
        out = seq(torch.randn(2, 7, 8))
        nn.functional.cross_entropy(out.reshape(-1, 5), torch.randint(0, 5, (14,))).backward()
        opt.step()
    assert all(torch.isfinite(p).all() for p in seq.parameters())


def test_lr_schedulers_and_param_groups_act_on_the_backbone():
    model = _mlp(nn.Tanh())
    opt = MKOR(model, "sgd", lr=0.1)
    assert opt.param_groups is opt.backbone.param_groups
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    _train(model, opt, 2)
    sched.step()
    assert opt.backbone.param_groups[0]["lr"] == pytest.approx(0.05)
    opt.close()
    assert all(not layer.module._forward_hooks for layer in opt.layers)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(inv_freq=0), ValueError, "inv_freq"),
        (dict(inv_freq=-3), ValueError, "inv_freq"),
        (dict(variant="paper", gamma=0.0), ValueError, "gamma"),
        (dict(gamma=1.0), ValueError, "gamma"),
        (dict(gamma=1.5), ValueError, "gamma"),
        (dict(backbone="adamx"), ValueError, "backbone"),
        (dict(backbone=3), TypeError, "backbone"),
        (dict(variant="exact"), ValueError, "variant"),
        (dict(factor_dtype=torch.int32), ValueError, "factor_dtype"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, match):
    with pytest.raises(error, match=match):
        MKOR(_mlp(nn.Tanh()), **kwargs)


def test_a_model_without_supported_layers_and_a_non_module_are_rejected():
    with pytest.raises(ValueError, match="no layer to precondition"):
        MKOR(nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4)), "sgd")
    with pytest.raises(TypeError, match="model"):
        MKOR([torch.zeros(2, requires_grad=True)], "sgd")
    with pytest.warns(UserWarning, match="max_factor_dim"):
        opt = MKOR(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 40)), "sgd", max_factor_dim=16)
    assert [layer.name for layer in opt.layers] == ["0"] and [layer.name for layer in opt.excluded] == ["1"]


def test_a_torch_grad_scaler_drives_mkor_like_any_optimizer():
    """GradScaler.step(mkor) unscales the backbone's groups (they are MKOR's) and MKOR divides the scale out
    of its statistics: the run equals the unscaled one up to rounding."""
    runs = []
    for use_scaler in (False, True):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 4))
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12) if use_scaler else None
        opt = MKOR(model, "sgd", lr=0.1, inv_freq=1, grad_scaler=scaler)
        for k in range(5):
            opt.zero_grad()
            X, y = _batch(k)
            loss = nn.functional.cross_entropy(model(X.float()), y)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
        runs.append((model, opt))
    (m0, o0), (m1, o1) = runs
    assert o1.n_rounds == 5
    for la, lb in zip(o0.layers, o1.layers, strict=True):
        torch.testing.assert_close(la.stats["J_G"], lb.stats["J_G"], rtol=1e-4, atol=1e-5)
    for p, q in zip(m0.parameters(), m1.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_string_paddings_are_unfolded_like_the_convolution():
    """padding="same"/"valid" convolutions are preconditioned with the patches the convolution itself uses
    (checked against conv2d as a matrix product); an even "same" extent is left to the backbone."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding="same"),
        nn.Conv2d(3, 3, 3, padding="valid", dilation=2),
        nn.Conv2d(3, 3, 2, padding="same"),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 2),
    )
    opt = MKOR(model, "sgd", lr=0.1, inv_freq=1)
    assert [layer.name for layer in opt.layers] == ["0", "1", "4"]
    x = torch.randn(4, 2, 8, 8)
    for layer, inp in ((opt.layers[0], x), (opt.layers[1], model[0](x))):
        conv = layer.module
        cols = layer.patches(inp)  # N x K x P
        out = (conv.weight.reshape(conv.out_channels, -1) @ cols).reshape(conv(inp).shape[0], conv.out_channels, -1)
        expected = (conv(inp) - conv.bias[None, :, None, None]).reshape(out.shape)
        assert torch.allclose(out, expected, atol=1e-5)
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), torch.randint(0, 2, (4,))).backward()
        opt.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
