import type { CommandModule } from 'yargs';
import { ablate } from './ablate.js';
import { bench } from './bench.js';
import { components } from './components.js';
import { curve } from './curve.js';
import { edit } from './edit.js';
import { evalCommand } from './eval.js';
import { fit } from './fit.js';
import { info } from './info.js';
import { report } from './report.js';
import { run } from './run.js';
import { preprocess } from './preprocess.js';
import { convert } from './convert.js';
import { merge, sweep } from './sweep.js';
import { withExamples } from '../examples.js';
import { worker } from './worker.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [info, components, ablate, sweep, merge, fit, evalCommand, report, run, curve, bench, edit, preprocess, convert, worker].map(withExamples);
