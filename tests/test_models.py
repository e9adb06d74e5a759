"""Every registered architecture honours the input/output contract (timm-style registry tests),
plus the structural facts of the paper's networks and the efficient network's CAM."""

import pytest
import torch

from magical_prune.errors import MagicalPruneError, UnknownNameError
from magical_prune.models import (
    DEFAULT_ARCH,
    FEATURE_SETS,
    MODELS,
    create_model,
    get_architecture,
    list_models,
)
from magical_prune.models._base import compact_layout

ALL = list_models()


def batch(size: int, n: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((n, 6, 3, size, size), generator=gen)


def test_registry_lists_the_paper_networks_and_the_default():
    assert ALL == ["nofeat2d", "nofeat3d", "feat2d", "feat3d", "efficient"]
    assert DEFAULT_ARCH == "efficient"
    assert list_models("feat*") == ["feat2d", "feat3d"]
    assert list_models("*3d") == ["nofeat3d", "feat3d"]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("size", [64, 32])
def test_forward_backward(name, size):
    torch.manual_seed(0)
    model = create_model(name, image_size=size)
    x = batch(size)
    logits = model(x)
    assert logits.shape == (2, 2)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    logits[:, 1].sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", ALL)
def test_deterministic_init(name):
    torch.manual_seed(123)
    first = create_model(name, image_size=32).state_dict()
    torch.manual_seed(123)
    again = create_model(name, image_size=32).state_dict()
    torch.manual_seed(124)
    other = create_model(name, image_size=32).state_dict()
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())


@pytest.mark.parametrize("name", ALL)
def test_model_carries_name_and_training_defaults(name):
    model = create_model(name, image_size=32)
    assert model.arch_name == name
    cfg = model.default_cfg
    assert cfg == dict(get_architecture(name).default_cfg)
    for key in ("optimizer", "lr", "batch_size", "epochs", "finetune_epochs", "classifier"):
        assert key in cfg
    model.get_submodule(cfg["classifier"])  # the named head exists
    cfg["lr"] = -1.0  # the model holds a copy: the registry entry is untouched
    assert get_architecture(name).default_cfg["lr"] > 0


def test_paper_training_defaults():
    cfg = get_architecture("feat3d").default_cfg
    assert cfg["optimizer"] == "adam"
    assert cfg["lr"] == pytest.approx(3e-4)
    assert (cfg["lr_decay"], cfg["lr_decay_steps"]) == (0.9, 430)
    assert cfg["l2"] == pytest.approx(0.1)
    assert (cfg["batch_size"], cfg["epochs"], cfg["steps_per_epoch"]) == (16, 500, 64)
    assert cfg["finetune_epochs"] == 100


@pytest.mark.parametrize("name", ["feat3d", "efficient"])
def test_wrong_input_shape_is_a_clear_error(name):
    model = create_model(name, image_size=32)
    with pytest.raises(MagicalPruneError, match=r"\(B, 6, 3, 32, 32\)"):
        model(batch(64))
    with pytest.raises(MagicalPruneError):
        model(torch.rand(2, 18, 32, 32))


def test_unknown_architecture_suggests_the_nearest():
    with pytest.raises(UnknownNameError, match="did you mean feat3d"):
        create_model("feat3")
    with pytest.raises(UnknownNameError, match="efficient"):
        create_model("eficient")
    assert "feat3d" in MODELS


def test_paper_nets_refuse_images_too_small_for_their_pools():
    with pytest.raises(MagicalPruneError, match="too small"):
        create_model("feat3d", image_size=16)


def test_feature_set_order_matches_the_features_module():
    features = pytest.importorskip("magical_prune.features")
    assert tuple(features.IMAGE_NAMES) == FEATURE_SETS


# -- the paper's networks ---------------------------------------------------------------
def test_compact_layout_is_routing_plus_max_of_the_device_images():
    x = torch.zeros(1, 6, 3, 2, 2)
    x[0, 0, 0] = torch.tensor([[0.1, 0.0], [0.0, 0.2]])  # routing demand
    x[0, 1, 0, 0, 0] = 0.25  # first stage NMOS
    x[0, 3, 0, 0, 0] = 0.75  # a feedback capacitor on the same pixel
    x[0, 5, 0, 1, 1] = 0.5  # bias PMOS
    x[:, :, 1:] = 9.0  # coordinate channels are dropped
    out = compact_layout(x)
    assert out.shape == (1, 2, 1, 2, 2)
    assert torch.equal(out[0, 0, 0], x[0, 0, 0])
    assert torch.equal(out[0, 1, 0], torch.tensor([[0.75, 0.0], [0.0, 0.5]]))


@pytest.mark.parametrize("name", ["nofeat2d", "nofeat3d"])
def test_nofeat_nets_ignore_coordinates_and_sub_circuit_membership(name):
    torch.manual_seed(0)
    model = create_model(name, image_size=32).eval()
    x = batch(32)
    moved = x.clone()
    moved[:, :, 1:] = torch.rand_like(moved[:, :, 1:])  # other coordinate channels
    swapped = x.clone()
    swapped[:, [1, 2, 3, 4, 5]] = x[:, [5, 4, 3, 2, 1]]  # devices in other sub-circuits
    with torch.no_grad():
        ref = model(x)
        assert torch.allclose(model(moved), ref)
        assert torch.allclose(model(swapped), ref, atol=1e-6)


@pytest.mark.parametrize("name", ["feat2d", "feat3d"])
def test_feat_nets_use_coordinates_and_sub_circuit_membership(name):
    torch.manual_seed(0)
    model = create_model(name, image_size=32).eval()
    x = batch(32)
    swapped = x.clone()
    swapped[:, [1, 2]] = x[:, [2, 1]]
    with torch.no_grad():
        assert not torch.allclose(model(swapped), model(x))


@pytest.mark.parametrize(("name", "filters"), [("feat3d", 128), ("feat2d", 24)])
def test_first_convolution_is_separate_per_feature_set(name, filters):
    """Output block j of the per-set convolution depends on input set j only."""
    model = create_model(name, image_size=32)
    conv = model.per_set.conv0
    assert conv.groups == 6 and conv.out_channels == 6 * filters
    assert conv.kernel_size == (5, 5)
    x = batch(32, n=1).flatten(1, 2).requires_grad_()
    out = conv(x)
    for j in (0, 3):
        block = out[:, j * filters : (j + 1) * filters].sum()
        (grad,) = torch.autograd.grad(block, x, retain_graph=True)
        per_set = grad.abs().sum(dim=(0, 2, 3)).view(6, 3).sum(dim=1)
        assert per_set[j] > 0
        assert torch.count_nonzero(per_set) == 1


def test_feat3d_layers_follow_the_reference():
    model = create_model("feat3d")
    convs = [model.body.conv1, model.body.conv2, model.body.conv3]
    assert [c.out_channels for c in convs] == [64, 32, 32]
    assert [c.kernel_size for c in convs] == [(3, 5, 5), (3, 5, 5), (2, 5, 5)]
    pools = [model.per_set.pool0, model.body.pool1, model.body.pool2, model.body.pool3]
    assert [p.kernel_size for p in pools[1:]] == [(1, 3, 3)] * 3
    assert [p.stride for p in pools[1:]] == [(1, 2, 2)] * 3
    dense = [model.head.fc0, model.head.fc1, model.head.logits]
    # 64 -> 31 -> 15 -> 7 -> 3 through the pools, six sets kept in depth
    assert [(d.in_features, d.out_features) for d in dense] == [
        (32 * 6 * 3 * 3, 128),
        (128, 16),
        (16, 2),
    ]


def test_feat2d_folds_the_sets_into_channels():
    model = create_model("feat2d")
    assert model.body.conv1.in_channels == 6 * 24
    assert model.body.conv1.kernel_size == (5, 5)
    assert model.head.fc0.in_features == 32 * 3 * 3


# -- the efficient network --------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 32])
def test_cam_adds_up_to_the_prune_logit(size):
    torch.manual_seed(0)
    model = create_model("efficient", image_size=size).eval()
    x = batch(size, n=3)
    with torch.no_grad():
        logit = model(x)[:, 1] - model.fc.bias[1]
        cam = model.cam(x)
        coarse = model.cam(x, upsample=False)
    assert cam.shape == (3, 6, size, size)
    assert coarse.shape[:2] == (3, 6)
    assert torch.allclose(coarse.mean(dim=(1, 2, 3)), logit, atol=1e-5)
    assert torch.allclose(cam.mean(dim=(1, 2, 3)), logit, atol=1e-4)


def test_cam_of_the_other_class_and_per_set_resolution():
    torch.manual_seed(0)
    model = create_model("efficient", image_size=32).eval()
    x = batch(32)
    with torch.no_grad():
        keep = model(x)[:, 0] - model.fc.bias[0]
        cam0 = model.cam(x, target=0)
        cam1 = model.cam(x)
    assert torch.allclose(cam0.mean(dim=(1, 2, 3)), keep, atol=1e-4)
    # the six sets keep their own maps (no pooling over depth before the head)
    assert not torch.allclose(cam1[:, 0], cam1[:, 1])


def test_efficient_uses_groupnorm_not_batchnorm():
    model = create_model("efficient")
    kinds = {type(m).__name__ for m in model.modules()}
    assert "GroupNorm" in kinds
    assert not any("BatchNorm" in k for k in kinds)


def test_efficient_gives_the_same_answer_alone_or_in_a_batch():
    """Per-sample normalisation: a layout's score does not depend on its batch mates."""
    torch.manual_seed(0)
    model = create_model("efficient", image_size=32).train()
    x = batch(32, n=4)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_efficient_stages_can_come_from_json_metadata():
    import json

    from magical_prune.models.efficient import DEFAULT_STAGES

    plain = json.loads(json.dumps([vars(s) for s in DEFAULT_STAGES]))
    torch.manual_seed(0)
    from_json = create_model("efficient", image_size=32, stages=plain).state_dict()
    torch.manual_seed(0)
    default = create_model("efficient", image_size=32).state_dict()
    assert all(torch.equal(from_json[k], default[k]) for k in default)
    with pytest.raises(MagicalPruneError, match="odd"):
        create_model("efficient", stages=[{"channels": 8, "kernel": 4}])


def test_efficient_stem_has_its_own_weights_per_set():
    """Stem output of depth entry j depends on feature set j only, and swapping two sets'
    images changes the logits (a shared stem could tell sets apart only via padding)."""
    torch.manual_seed(0)
    model = create_model("efficient", image_size=32).eval()
    x = batch(32, n=1).requires_grad_()
    out = model.stem(x)  # (1, C, 6, h, w)
    assert out.shape[2] == 6
    for j in (0, 4):
        (grad,) = torch.autograd.grad(out[:, :, j].sum(), x, retain_graph=True)
        per_set = grad.abs().sum(dim=(0, 2, 3, 4))
        assert per_set[j] > 0 and torch.count_nonzero(per_set) == 1
    swapped = x.detach()[:, [0, 2, 1, 3, 4, 5]]
    with torch.no_grad():
        assert not torch.allclose(model(x.detach()), model(swapped))


@pytest.mark.parametrize("stem", ["shared", "per_set"])
def test_efficient_linear_head_cam_adds_up_to_the_logit(stem):
    torch.manual_seed(0)
    model = create_model("efficient", image_size=32, head="linear", stem=stem).eval()
    x = batch(32, n=3)
    with torch.no_grad():
        logit = model(x)[:, 1] - model.fc.bias[1]
        coarse = model.cam(x, upsample=False)
    assert coarse.shape[:2] == (3, 6)
    assert torch.allclose(coarse.mean(dim=(1, 2, 3)), logit, atol=1e-4)


def test_efficient_rejects_unknown_head_or_stem():
    with pytest.raises(MagicalPruneError, match="head"):
        create_model("efficient", head="attention")
    with pytest.raises(MagicalPruneError, match="stem"):
        create_model("efficient", stem="none")
