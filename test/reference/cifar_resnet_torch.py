"""The reference's CIFAR ResNet (its `cifar_resnet` model, kuangliu's layout; REFERENCE.md,
"Components"), written here from that layout for the tests: a 3x3 stride-1 stem conv1 + bn1
and no max pool; layer1..layer4 of blocks whose first block in layers 2-4 has stride 2;
a projection `shortcut` = Sequential(1x1 conv without bias, BatchNorm) where a block changes
shape, else an empty Sequential (identity); AvgPool2d(4), flatten, `linear`."""
import torch.nn as nn
import torch.nn.functional as F

DEPTHS = {
    'resnet18': (False, [2, 2, 2, 2]),
    'resnet34': (False, [3, 4, 6, 3]),
    'resnet50': (True, [3, 4, 6, 3]),
    'resnet101': (True, [3, 4, 23, 3]),
    'resnet152': (True, [3, 8, 36, 3]),
}


def projection(cin, cout, stride):
    if stride == 1 and cin == cout:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = projection(cin, planes, stride)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.shortcut = projection(cin, 4 * planes, stride)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth='resnet18', classes=10, wm=1.0, feat_scale=1, in_channels=3):
        super().__init__()
        bottleneck, depths = DEPTHS[depth]
        block = Bottleneck if bottleneck else Basic
        widths = [int(w * wm) for w in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for L, (planes, n) in enumerate(zip(widths, depths), start=1):
            blocks = []
            for i in range(n):
                blocks.append(block(cin, planes, 2 if L > 1 and i == 0 else 1))
                cin = planes * block.expansion
            setattr(self, f'layer{L}', nn.Sequential(*blocks))
        self.avg_pool_2d = nn.AvgPool2d(4)
        self.linear = nn.Linear(feat_scale * cin, classes)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.layer4(self.layer3(self.layer2(self.layer1(y))))
        return self.linear(self.avg_pool_2d(y).flatten(1))
