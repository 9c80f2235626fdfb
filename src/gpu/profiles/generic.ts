/**
 * Any other adapter (SwiftShader, mobile GPUs, ...): the register tile, which every adapter
 * compiles and runs correctly; the tuner finds better where there is better.
 */
import { REGISTER_ATTENTION, REGISTER_TILE } from './lavapipe.js';
import type { ClassPolicy } from './policy.js';

export const generic: ClassPolicy = {
  name: 'generic',
  matches: () => true,
  convDefault: () => REGISTER_TILE,
  gemmDefault: { tm: 16, tn4: 2, wgm: 64, wgn: 1, shared: false },
  attentionDefault: REGISTER_ATTENTION,
  lanes: 64,
  wgmemTile: { tp: 4, tc4: 1, wg: 16, wgc: 16, wgmem: true, kch: 4 },
  measured: false,
};
