import type { CommandModule } from 'yargs';
import { ablate } from './ablate.js';
import { components } from './components.js';
import { fit } from './fit.js';
import { info } from './info.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [info, components, ablate, fit];
