import type { CommandModule } from 'yargs';
import { info } from './info.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [info];
