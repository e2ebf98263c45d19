"""Tests of gnnops.training.loop: batch plans, LR schedule, per-graph loss, physics term."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch
from training_fixtures import ToyGNN, make_graphs

from gnnops.surrogate.recipe import make_recipe
from gnnops.surrogate.surrogate import Surrogate
from gnnops.training.distributed import DistInfo
from gnnops.training.loop import batch_loss, lr_lambda, per_graph_mean, plan_batches


def test_plan_shards_global_batches() -> None:
    single = plan_batches(10, 4, seed=3, epoch=2)
    assert [len(i) for i, _ in single] == [4, 4, 2] and [g for _, g in single] == [4, 4, 2]
    assert sorted(sum((i for i, _ in single), [])) == list(range(10))
    r0 = plan_batches(10, 4, seed=3, epoch=2, rank=0, world=2)
    r1 = plan_batches(10, 4, seed=3, epoch=2, rank=1, world=2)
    for (a, _), (b, _), (s, _) in zip(r0, r1, single, strict=True):
        assert a + b == s  # rank chunks tile each global batch in order
    assert plan_batches(10, 4, seed=3, epoch=3) != single  # reshuffled every epoch
    assert len(plan_batches(9, 4, seed=0, epoch=0, world=2)) == 2  # 1-graph tail dropped


def test_lr_schedules_closed_form() -> None:
    f = lr_lambda(scheduler="cosine", epochs=10, steps_per_epoch=4, warmup_epochs=1.0,
                  min_lr_factor=0.1, step_epochs=1, gamma=0.5)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4 + 18) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f(40) == pytest.approx(0.1)
    g = lr_lambda(scheduler="step", epochs=10, steps_per_epoch=4, warmup_epochs=0,
                  min_lr_factor=0, step_epochs=3, gamma=0.5)
    assert [g(0), g(11), g(12), g(24)] == [1.0, 1.0, 0.5, 0.25]
    h = lr_lambda(scheduler="none", epochs=10, steps_per_epoch=4, warmup_epochs=0,
                  min_lr_factor=0, step_epochs=3, gamma=0.5)
    assert h(17) == 1.0


def test_per_graph_mean() -> None:
    v = torch.tensor([1.0, 3.0, 10.0, 20.0, 30.0])
    b = torch.tensor([0, 0, 1, 1, 1])
    assert per_graph_mean(v, b, 2).tolist() == [2.0, 20.0]


class _QuadProblem:
    """Fake physics: residual = mean((u - a)^2); records the inputs it was given."""

    def __init__(self) -> None:
        self.seen: dict = {}

    def residual_torch(self, data, outputs, **inputs):
        self.seen = inputs
        return ((outputs[:, 0] - inputs["a"]) ** 2).mean()


def test_physics_term_adds_weighted_residual_with_gradient() -> None:
    gs = make_graphs(4, 0)
    recipe = make_recipe(gs, inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem="quad")
    torch.manual_seed(0)
    model = ToyGNN(3, 1, hidden=8)
    sur = Surrogate(model, model_name="toy", model_kwargs={}, recipe=recipe,
                    normalizers={"x.mean": torch.zeros(3), "x.std": torch.ones(3),
                                 "y.mean": torch.tensor([1.0]), "y.std": torch.tensor([2.0])})
    batch = Batch.from_data_list([sur.prepare(g) for g in gs])
    info = DistInfo()
    prob = _QuadProblem()
    plain, lg = batch_loss(sur, sur, batch, 4, info)
    with_phys, _ = batch_loss(sur, sur, batch, 4, info, physics_weight=0.3, problem=prob)
    assert torch.equal(prob.seen["a"], batch.x[:, 0])  # raw input column, by name, [N]
    u = sur(batch)[:, 0]
    expected = 0.3 * ((u - batch.x[:, 0]) ** 2).mean()
    assert float(with_phys - plain) == pytest.approx(float(expected), rel=1e-5)
    assert float(plain) == pytest.approx(float(lg.mean()), rel=1e-6)  # mean over the batch
    grads = torch.autograd.grad(with_phys - plain, list(model.parameters()))
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_per_graph_rel_l2_is_the_volume_weighted_relative_error() -> None:
    from torch_geometric.data import Batch, Data

    from gnnops.training.loop import per_graph_rel_l2

    g1 = Data(y=torch.tensor([[1.0], [2.0]]), node_volume=torch.tensor([1.0, 3.0]),
              num_nodes=2)
    g2 = Data(y=torch.tensor([[4.0], [0.0], [3.0]]), node_volume=torch.ones(3), num_nodes=3)
    b = Batch.from_data_list([g1, g2])
    pred = torch.tensor([[2.0], [2.0], [4.0], [1.0], [3.0]])
    # g1: sqrt(1*1 / (1 + 3*4)); g2: sqrt(1 / 25)
    expected = torch.tensor([(1 / 13) ** 0.5, 0.2])
    torch.testing.assert_close(per_graph_rel_l2(pred, b), expected, atol=1e-5, rtol=1e-5)


def test_train_epoch_uses_the_configured_loss_on_every_batch() -> None:
    """Regression: the loop rebound ``loss`` (the loss kind) to the first batch's tensor, so
    every later batch silently fell back to mse."""
    from gnnops.training.loop import make_loader, per_graph_rel_l2, train_epoch

    gs = make_graphs(6, 1)
    recipe = make_recipe(gs, inputs=["a"], input_dims=[1], targets=["u"], target_dims=[1],
                         features=["pos"], problem=None)
    torch.manual_seed(0)
    model = ToyGNN(3, 1, hidden=8)
    sur = Surrogate(model, model_name="toy", model_kwargs={}, recipe=recipe,
                    normalizers={"x.mean": torch.zeros(3), "x.std": torch.ones(3),
                                 "y.mean": torch.tensor([0.0]), "y.std": torch.tensor([3.0])})
    prepared = [sur.prepare(g) for g in gs]
    plan = plan_batches(6, 2, seed=0, epoch=0, shuffle=False)
    opt = torch.optim.SGD(sur.parameters(), lr=0.0)  # weights fixed: the loss is reproducible
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    got = train_epoch(sur, sur, make_loader(prepared, plan), plan, opt, sched, DistInfo(),
                      loss="rel_l2")
    with torch.no_grad():
        b = Batch.from_data_list(prepared)
        want = float(per_graph_rel_l2(sur(b), b).mean())
    assert got == pytest.approx(want, rel=1e-5)  # rel_l2 on all 3 batches, not only the first
