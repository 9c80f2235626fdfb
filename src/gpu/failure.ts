/**
 * A device that has reported an error no error scope caught (a shader that fails to
 * compile, a pipeline over the adapter's limits, a lost device) has computed nothing the
 * caller may use: its dispatches were skipped and its buffers read back as zeros. The
 * first such error is kept here, and every read back from the device throws it, so a
 * wrong result is never returned, written to a store or printed.
 */
export class GpuFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuFailure';
  }
}

const failures = new WeakMap<GPUDevice, string>();

/** Watch `device`: keep its first uncaptured error and a loss that `destroy()` did not cause. */
export function watchDevice(device: GPUDevice): void {
  device.addEventListener('uncapturederror', (ev) => {
    // Dawn's first line says what is wrong; the lines under it trace the calls, naming the object
    const lines = (ev as GPUUncapturedErrorEvent).error.message.trim().split('\n');
    const shader = /\[\w+ "([\w.-]+\.wgsl)/.exec(lines.slice(1).join('\n'))?.[1];
    if (!failures.has(device)) failures.set(device, `${lines[0]}${shader ? ` (${shader})` : ''}`);
  });
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed' && !failures.has(device)) failures.set(device, `device lost: ${info.message}`);
  });
}

/** Throw if `device` has failed since it was opened (call after each read back). */
export function checkDevice(device: GPUDevice): void {
  const message = failures.get(device);
  if (message !== undefined) {
    throw new GpuFailure(`the GPU reported an error, so its results are not used: ${message}`);
  }
}
