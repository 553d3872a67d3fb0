"""ResNet fixtures from timm (timm/models/resnet.py): narrow ResNet-18 (basic blocks) and
ResNet-26 (bottlenecks) with BatchNorm-ReLU, ImageNet stem 4 wide, stage widths 4/8/16/32, 5
classes.

Writes weights/fixtures/resnet_timm.safetensors: for each net (`r18.`, `r26.`) its state dict
(random weights; every BN with random gamma, beta, running mean and variance, so that
zero_init_last's zeros do not hide the last norm of each block) and, under `io.`, an input
[2, 3, 32, 32] with the evaluation-mode logits of both nets (`io.r18`, `io.r26`). Then one
training-mode forward of each net on the same input: its logits (`train.r18.logits`) and every
BN's running mean and variance after it (`train.r18.<bn>.running_mean`, `...running_var`:
PyTorch moves the variance towards the unbiased batch variance; on the last stage's 1x1 maps
at batch 2 that is twice the biased one).

    python weights/reference/resnet_fixtures.py
"""
import os

import torch
from safetensors.torch import save_file
from timm.models.resnet import BasicBlock, Bottleneck, ResNet

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "resnet_timm.safetensors")


def net(block):
    torch.manual_seed(0 if block is BasicBlock else 1)
    m = ResNet(block, [2, 2, 2, 2], num_classes=5, channels=(4, 8, 16, 32))
    # timm's plain stem is always 64 wide; burnzoo's is the first stage's width (as in the
    # paper's ResNets, 64 = 64), so narrow the stem and the first block's input to 4.
    m.conv1 = torch.nn.Conv2d(3, 4, 7, stride=2, padding=3, bias=False)
    m.bn1 = torch.nn.BatchNorm2d(4)
    if block is BasicBlock:
        m.layer1[0] = BasicBlock(4, 4)
    else:
        shortcut = torch.nn.Sequential(torch.nn.Conv2d(4, 16, 1, bias=False), torch.nn.BatchNorm2d(16))
        m.layer1[0] = Bottleneck(4, 4, downsample=shortcut)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            with torch.no_grad():
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


tensors = {}
torch.manual_seed(2)
x = torch.randn(2, 3, 32, 32)
tensors["io.x"] = x
for name, block in (("r18", BasicBlock), ("r26", Bottleneck)):
    m = net(block)
    for k, v in m.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            tensors[f"{name}.{k}"] = v.detach().float().clone()
    with torch.no_grad():
        tensors[f"io.{name}"] = m(x)
        m.train()
        tensors[f"train.{name}.logits"] = m(x)
    for k, v in m.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            tensors[f"train.{name}.{k}"] = v.detach().float().clone()
save_file(tensors, OUT)
print(f"wrote {OUT}: {len(tensors)} tensors")
