"""Contract of every optimizer of optim.nn (docs/optimizers.md): foreach == for-loop,
bit-exact state_dict resumption, untouched grads and grad-less params, closures, maximize,
param groups, bf16 state, and clear errors for bad input."""

import pytest
import torch
from optimizers_fixtures import one_thread  # noqa: F401  (autouse)

import optim.nn as onn

FACTORIES = {
    "lion": lambda ps, **kw: onn.Lion(ps, lr=1e-2, weight_decay=0.1, **kw),
    "lion-l2": lambda ps, **kw: onn.LionK(ps, lr=1e-2, weight_decay=0.1, K="l2", **kw),
    "lion-lp": lambda ps, **kw: onn.LionK(ps, lr=1e-2, weight_decay=0.1, K="lp_norm", K_options={"p": 1.5}, **kw),
    "lion-linf": lambda ps, **kw: onn.LionK(ps, lr=1e-2, weight_decay=0.1, K="linf", **kw),
    "lion-nuclear": lambda ps, **kw: onn.LionK(ps, lr=1e-2, weight_decay=0.1, K="nuclear", **kw),
    "auon": lambda ps, **kw: onn.AuON(ps, lr=0.05, weight_decay=0.1, **kw),
    "auon-code": lambda ps, **kw: onn.AuON(ps, lr=0.05, weight_decay=0.1, variant="code_head", **kw),
    "hybrid": lambda ps, **kw: onn.HybridAuON(ps, lr=0.05, weight_decay=0.1, **kw),
    "hybrid-code": lambda ps, **kw: onn.HybridAuON(
        ps, lr=0.05, weight_decay=0.1, variant="code_head", ns_steps=5, **kw
    ),
}
SHAPES = [(16, 8), (8, 24), (4, 3, 5)]


def _params(dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in SHAPES]


def _grads(step, dtype=torch.float32):
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]


def _run(opt, params, steps, start=0):
    for k in range(start, start + steps):
        for p, g in zip(params, _grads(k, params[0].dtype), strict=False):
            p.grad = g
        opt.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("name", FACTORIES)
def test_foreach_and_for_loop_agree(name):
    a = _params()
    b = _params()
    xa = _run(FACTORIES[name](a, foreach=False), a, 20)
    xb = _run(FACTORIES[name](b, foreach=True), b, 20)
    for u, v in zip(xa, xb, strict=False):
        torch.testing.assert_close(u, v, rtol=1e-6, atol=1e-6)
    if name == "lion":
        assert all(torch.equal(u, v) for u, v in zip(xa, xb, strict=False))


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("foreach", [False, True])
def test_state_dict_round_trip_is_bit_exact(name, foreach):
    full = _params()
    expected = _run(FACTORIES[name](full, foreach=foreach), full, 12)
    first = _params()
    opt = FACTORIES[name](first, foreach=foreach)
    _run(opt, first, 7)
    saved = opt.state_dict()
    resumed = [p.detach().clone().requires_grad_() for p in first]
    opt2 = FACTORIES[name](resumed, foreach=foreach)
    opt2.load_state_dict(saved)
    got = _run(opt2, resumed, 5, start=7)
    assert all(torch.equal(u, v) for u, v in zip(expected, got, strict=False))


@pytest.mark.parametrize("name", FACTORIES)
def test_grad_unchanged_and_gradless_param_untouched(name):
    params = _params()
    grads = _grads(0)
    params[0].grad = grads[0].clone()
    params[1].grad = grads[1].clone()
    untouched = params[2].detach().clone()
    opt = FACTORIES[name](params, maximize=True)
    opt.step()
    assert torch.equal(params[0].grad, grads[0]) and torch.equal(params[1].grad, grads[1])
    assert torch.equal(params[2].detach(), untouched)
    assert len(opt.state[params[2]]) == 0


@pytest.mark.parametrize("name", FACTORIES)
def test_zero_gradient_gives_decay_only(name):
    params = _params()
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.zeros_like(p)
    opt = FACTORIES[name](params)
    opt.step()
    lr, wd = opt.param_groups[0]["lr"], opt.param_groups[0]["weight_decay"]
    for p, b in zip(params, before, strict=False):
        torch.testing.assert_close(p.detach(), b * (1 - lr * wd), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["lion", "auon", "hybrid"])
def test_maximize_equals_minimizing_the_negated_gradient(name):
    a, b = _params(), _params()
    opt_a = FACTORIES[name](a, maximize=True)
    opt_b = FACTORIES[name](b)
    for k in range(5):
        for p, q, g in zip(a, b, _grads(k), strict=False):
            p.grad, q.grad = g, -g
        opt_a.step()
        opt_b.step()
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=False))


def test_closure_is_evaluated_with_grad_and_returned():
    w = torch.ones(3, 2, requires_grad=True)

    def closure():
        w.grad = None
        loss = (w**2).sum()
        loss.backward()
        return loss

    for opt in (onn.Lion([w], lr=0.1), onn.AuON([w], lr=0.1)):
        assert float(opt.step(closure).detach()) > 0
        assert w.grad is not None


def test_param_groups_use_their_own_lr_and_decay():
    a, b = torch.zeros(4, requires_grad=True), torch.zeros(4, requires_grad=True)
    opt = onn.Lion([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = torch.ones(4)
    opt.step()
    assert torch.equal(a.detach(), torch.full((4,), -0.1)) and torch.equal(b.detach(), torch.full((4,), -0.5))


def test_bf16_state_stores_bf16_and_tracks_fp32():
    a, b = _params(), _params()
    xa = _run(onn.Lion(a, lr=1e-2, state_dtype=torch.bfloat16), a, 10)
    xb = _run(onn.Lion(b, lr=1e-2), b, 10)
    opt = onn.AuON([a[0]], state_dtype=torch.bfloat16)
    a[0].grad = torch.ones_like(a[0])
    opt.step()
    assert opt.state[a[0]]["momentum_buffer"].dtype == torch.bfloat16
    # the sign of the EMA rarely flips under bf16 rounding: almost every coordinate moves alike
    agree = sum(int((u == v).sum()) for u, v in zip(xa, xb, strict=False)) / sum(u.numel() for u in xa)
    assert agree > 0.95


def test_schedulers_drive_the_group_lr():
    w = torch.zeros(2, requires_grad=True)
    opt = onn.Lion([w], lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = torch.ones(2)
        opt.step()
        sched.step()
    assert torch.equal(w.detach(), torch.full((2,), -1.75))


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: onn.Lion(p, lr=-1e-3), "lr"),
        (lambda p: onn.Lion(p, betas=(1.0, 0.99)), r"betas\[0\]"),
        (lambda p: onn.Lion(p, betas=(0.9, -0.1)), r"betas\[1\]"),
        (lambda p: onn.Lion(p, weight_decay=-1), "weight_decay"),
        (lambda p: onn.Lion(p, decay_mode="coupled"), "decay_mode"),
        (lambda p: onn.LionK(p, K="sgn"), "did you mean 'sign'"),
        (lambda p: onn.LionK(p, K="lp_norm"), "missing"),
        (lambda p: onn.LionK(p, K="lp_norm", K_options={"p": 3}), "p"),
        (lambda p: onn.AuON(p, lr=-1), "lr"),
        (lambda p: onn.AuON(p, momentum=1.0), "momentum"),
        (lambda p: onn.AuON(p, variant="code"), "variant"),
        (lambda p: onn.HybridAuON(p, ns_steps=-1), "ns_steps"),
    ],
)
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([torch.zeros(3, 3, requires_grad=True)])


@pytest.mark.parametrize("cls", [onn.AuON, onn.HybridAuON])
def test_auon_rejects_vectors_and_points_to_split_params(cls):
    model = torch.nn.Linear(4, 3)
    with pytest.raises(ValueError, match="split_params"):
        cls(model.parameters())
    matrices, others = onn.split_params(model)
    cls(matrices)  # fine once split


def test_split_params_routes_embeddings_head_biases_and_counts_tied_weights_once():
    from problems.training_models import CharGPT

    model = CharGPT(vocab=20, context=8, d_model=16, heads=2, layers=2)
    model.head.weight = model.tok_embed.weight  # tie
    matrices, others = onn.split_params(model)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)].split(".", 2)[-1] for p in matrices) == sorted(
        ["attn.qkv.weight", "attn.proj.weight", "fc.weight", "out.weight"] * 2
    )
    assert all(p.ndim == 2 for p in matrices)
    all_params = matrices + others
    assert len({id(p) for p in all_params}) == len(all_params) == len(list(model.parameters()))
    assert any(p is model.tok_embed.weight for p in others)


def test_compiled_lion_agrees_with_eager_and_follows_the_schedule():
    a, b = _params(), _params()
    opt_a = onn.Lion(a, lr=1e-2, weight_decay=0.1, compile=True)
    opt_b = onn.Lion(b, lr=1e-2, weight_decay=0.1)
    for k in range(6):
        for opt in (opt_a, opt_b):
            opt.param_groups[0]["lr"] = 1e-2 / (k + 1)  # a schedule: lr is a tensor inside, no recompiles
        for p, q, g in zip(a, b, _grads(k), strict=False):
            p.grad, q.grad = g, g
        opt_a.step()
        opt_b.step()
    for p, q in zip(a, b, strict=False):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(opt_a.state[p]["exp_avg"], opt_b.state[q]["exp_avg"], rtol=1e-6, atol=1e-6)


def test_decay_modes():
    """lr_coupled: p (1 - lr wd) (box radius 1/wd); fixed: p (1 - wd) whatever the lr (radius lr/wd)."""
    for mode, expected in (("lr_coupled", 1 - 0.1 * 0.5), ("fixed", 1 - 0.5)):
        w = torch.ones(3, requires_grad=True)
        w.grad = torch.zeros(3)
        onn.Lion([w], lr=0.1, weight_decay=0.5, decay_mode=mode).step()
        assert torch.equal(w.detach(), torch.full((3,), expected))
