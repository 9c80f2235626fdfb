// A worker's entry point must be JavaScript: register tsx (as bin/coar.js does) and load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./cholesky_worker.ts');
