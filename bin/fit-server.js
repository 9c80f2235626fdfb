#!/usr/bin/env node
// A `coar worker`'s fit process (src/cli/fit_server.ts), run from the TypeScript sources as bin/coar.js runs them.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/fit_server.ts');
