/**
 * The three ResNet layouts this engine reads, by what tells them apart in the weights and
 * in the forward pass: torchvision's ImageNet ResNet, the reference's CIFAR ResNet (its
 * `cifar_resnet` model: the paper's CIFAR-10 ResNet-18) and the reference's MiniResNet.
 */
export interface ResNetLayout {
  kind: 'torchvision' | 'cifar' | 'mini';
  /** the stem conv's stride (torchvision's 7x7 stem is stride 2; both CIFAR stems are 3x3 stride 1) */
  stemStride: number;
  /** torchvision's 3x3 stride-2 max pool after the stem */
  maxpool: boolean;
  /** module name of a block's projection shortcut (`<block>.<projection>.0` conv, `.1` BatchNorm) */
  projection?: 'downsample' | 'shortcut';
  /** module name of the classifier */
  head: 'fc' | 'linear';
  /**
   * AvgPool2d(k) then flatten in PyTorch's channel-major order (the CIFAR models), or
   * undefined: torchvision's adaptive average pool to 1x1.
   */
  poolWindow?: number;
}

export const LAYOUTS: Record<ResNetLayout['kind'], ResNetLayout> = {
  torchvision: { kind: 'torchvision', stemStride: 2, maxpool: true, projection: 'downsample', head: 'fc' },
  cifar: { kind: 'cifar', stemStride: 1, maxpool: false, projection: 'shortcut', head: 'linear', poolWindow: 4 },
  mini: { kind: 'mini', stemStride: 1, maxpool: false, head: 'linear', poolWindow: 8 },
};

/** The layout of `--arch`: `mini-resnet`, `cifar-resnet*` or torchvision's `resnet*`. */
export function layoutOf(arch: string): ResNetLayout {
  if (arch === 'mini-resnet') return LAYOUTS.mini;
  return arch.startsWith('cifar-') ? LAYOUTS.cifar : LAYOUTS.torchvision;
}
