"""MAC counting and receptive-field coverage against hand-computed answers."""

import pytest
import torch
from torch import nn

from magical_prune.models import create_model, list_models
from magical_prune.models._base import mark_set_mixing
from magical_prune.models.analysis import (
    LayerSpec,
    count_macs,
    count_params,
    layer_specs,
    receptive_field,
)


class TinyNet(nn.Module):
    """conv 3->4 (3x3, same) on 5x5, ReLU, max-pool, grouped strided conv, dense."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 1)  # 5x5 -> 4x4, not counted
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2, groups=2)  # 4x4 -> 1x1
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.pool(torch.relu(self.conv1(x))))
        return self.fc(h.flatten(1))


def test_count_macs_of_a_tiny_conv_net_by_hand():
    # conv1: 4 x 5 x 5 outputs, each 3 channels x 3 x 3 = 27 products -> 2700
    # conv2: 4 x 1 x 1 outputs, each 4/2 channels x 3 x 3 = 18 products -> 72
    # fc:    2 outputs, 4 products each -> 8
    assert count_macs(TinyNet(), (3, 5, 5)) == 2700 + 72 + 8
    # per sample: the count does not depend on a batch
    assert count_params(TinyNet()) == (4 * 27 + 4) + (4 * 18 + 4) + (2 * 4 + 2)


def test_count_macs_of_a_3d_convolution_by_hand():
    net = nn.Sequential(nn.Conv3d(2, 3, (2, 3, 3)))  # (2, 4, 5, 5) -> (3, 3, 3, 3)
    assert count_macs(net, (2, 4, 5, 5)) == 3 * 3 * 3 * 3 * (2 * 2 * 3 * 3)


def test_count_params_trainable_only():
    net = TinyNet()
    net.fc.requires_grad_(False)
    assert count_params(net, trainable_only=True) == count_params(net) - 10


def test_receptive_field_recursion_on_three_layers_by_hand():
    specs = [
        LayerSpec("a", kernel=(3, 3, 3)),  # rf 3, jump 1
        LayerSpec("p", kernel=(1, 2, 2), stride=(1, 2, 2), is_conv=False),  # rf 4, jump 2
        LayerSpec("b", kernel=(3, 3, 3), dilation=(1, 2, 2)),  # rf 4 + 2*2*2 = 12; depth 5
    ]
    wide = receptive_field(specs, image_size=16)
    assert wide.layer == "b"
    assert wide.rf == (5, 12, 12)
    assert wide.spatial == pytest.approx(12 * 12 / (16 * 16))
    assert wide.sets_seen == 5 and not wide.full
    small = receptive_field(specs, image_size=8)  # clipped to the image
    assert small.spatial == 1.0
    # a trailing pool does not count: the coverage is that of the last convolution
    assert receptive_field([*specs, LayerSpec("q", (1, 9, 9), is_conv=False)]).rf == wide.rf


def test_receptive_field_counts_sets_folded_into_channels_and_compacted_sets():
    per_set = [LayerSpec("per_set", kernel=(1, 5, 5))]
    assert receptive_field(per_set).sets_seen == 1
    mixed = [*per_set, LayerSpec("mix", kernel=(1, 5, 5), mixes_sets=True)]
    assert receptive_field(mixed).sets_seen == 6
    # nofeat: depth entries are (routing, compacted layout of five sets)
    assert receptive_field(per_set, depth_sets=(1, 5)).sets_seen == 5
    assert receptive_field(per_set + [LayerSpec("d", (2, 1, 1))], depth_sets=(1, 5)).sets_seen == 6


def test_layer_specs_are_read_from_a_model_in_call_order():
    net = nn.Sequential(
        nn.Conv3d(3, 4, (1, 5, 5), padding=(0, 2, 2)),
        nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
        nn.Conv3d(4, 4, (3, 3, 3), dilation=(1, 2, 2)),
    )
    specs = layer_specs(net, (3, 6, 16, 16))
    assert [s.kernel for s in specs] == [(1, 5, 5), (1, 3, 3), (3, 3, 3)]
    assert [s.is_conv for s in specs] == [True, False, True]
    assert specs[2].dilation == (1, 2, 2)
    conv2d = mark_set_mixing(nn.Conv2d(3, 4, 3))
    (spec,) = layer_specs(nn.Sequential(conv2d), (3, 8, 8))
    assert spec.kernel == (1, 3, 3) and spec.mixes_sets


def test_feat3d_receptive_field_by_hand():
    # spatial: conv5 -> 5, pool3/2 -> 7 (jump 2), conv5 -> 15, pool -> 19 (jump 4),
    # conv5 -> 35, pool -> 43 (jump 8), conv5 -> 75; depth: 1 + 2 + 2 + 1 = 6
    cover = receptive_field(create_model("feat3d"))
    assert cover.layer == "body.conv3"
    assert cover.rf == (6, 75, 75)
    assert cover.full


@pytest.mark.parametrize("name", list_models())
def test_every_paper_and_efficient_net_sees_everything_at_its_last_conv(name):
    assert receptive_field(create_model(name)).full


@pytest.mark.parametrize("size", [64, 32])
def test_efficient_is_cheap_and_sees_all_pixels_of_all_sets(size):
    efficient = create_model("efficient", image_size=size)
    feat3d = create_model("feat3d", image_size=size)
    assert count_macs(efficient) * 50 <= count_macs(feat3d)
    cover = receptive_field(efficient)
    assert cover.spatial == 1.0
    assert cover.rf[1] >= size and cover.rf[0] >= 6
    assert cover.sets_seen == cover.sets_total == 6


def test_paper_mac_counts_by_hand():
    # feat3d at 64: per-set conv 6 x 64x64 x 128 x (3 x 5x5); conv1 6 x 31x31 x 64 x (128 x 3x5x5);
    # conv2 6 x 15x15 x 32 x (64 x 3x5x5); conv3 6 x 7x7 x 32 x (32 x 2x5x5);
    # dense 1728 x 128 + 128 x 16 + 16 x 2
    expected = (
        6 * 64 * 64 * 128 * 75
        + 6 * 31 * 31 * 64 * 128 * 75
        + 6 * 15 * 15 * 32 * 64 * 75
        + 6 * 7 * 7 * 32 * 32 * 50
        + 1728 * 128
        + 128 * 16
        + 16 * 2
    )
    assert count_macs(create_model("feat3d")) == expected


def test_measure_throughput_leaves_the_model_and_threads_alone():
    from magical_prune.models.analysis import measure_throughput

    torch.manual_seed(0)
    model = create_model("efficient", image_size=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    threads = torch.get_num_threads()
    speed = measure_throughput(model, batch_size=2, steps=1, threads=1)
    assert speed.train > 0 and speed.infer > 0 and speed.threads == 1
    assert torch.get_num_threads() == threads
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
