// WebGPU's enums and classes (GPUBufferUsage, ...) as globals, before any module uses them.
import { globals } from 'webgpu';

Object.assign(globalThis, globals);
