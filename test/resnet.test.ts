/**
 * ResNets equal PyTorch when the same components are ablated by zeroing weight rows
 * (REFERENCE.md, "Components" and "Ablation"). The reference runs live: random models with
 * non-trivial BatchNorm statistics, built, ablated and run by Debian's PyTorch.
 */
import { test } from 'uvu';
import { resnetCases, type ResNetCase } from './support/resnet_cases.js';
import { tempDir } from './support/tmp.js';

const cases: ResNetCase[] = [
  { arch: 'mini-resnet', args: ['--width', '16', '--blocks', '2', '--n', '3'], components: 80, forward: true },
  { arch: 'mini-resnet', args: ['--width', '12', '--blocks', '1', '--n', '2', '--classes', '7'], components: 36, forward: true },
  { arch: 'resnet18', args: ['--n', '2'], components: 3904, forward: true },
  { arch: 'resnet50', args: ['--n', '2'], components: 22720, forward: true },
  // the reference's CIFAR model: 9 convs x 256 filters (the paper's text says 2,306)
  { arch: 'mini-resnet', args: ['--width', '256', '--blocks', '4', '--n', '1'], components: 2304, forward: false },
];

resnetCases(tempDir(), cases);

test.run();
