/**
 * The edited model as a file PyTorch loads: the original safetensors bytes with the output
 * rows of the ablated components set to zero (REFERENCE.md, "Ablation": nothing else
 * changes, BatchNorm and biases stay). Every tensor keeps its name, dtype, shape and data
 * offsets, so `load_state_dict` takes the file exactly as it took the original; the
 * metadata gains a record of the edit. Zero bytes are 0.0 in F32, F16, BF16 and F64 alike.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { readSafetensors } from '../io/safetensors.js';
import type { ComponentTable } from '../models/components.js';

const FLOAT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** The original file's bytes with `ablated` components' rows zeroed, and `metadata` added. */
export function editedSafetensors(path: string, components: ComponentTable, ablated: readonly number[], metadata: Record<string, string>): Uint8Array {
  readSafetensors(path); // every tensor checked against the file first, with clear errors
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, any>;
  const data = new Uint8Array(buf.buffer, buf.byteOffset + 8 + headerLen, buf.length - 8 - headerLen).slice();
  for (const j of ablated) {
    if (!Number.isInteger(j) || j < 0 || j >= components.size) throw new Error(`component ${j} is outside 0..${components.size - 1}`);
    const g = components.locate(j);
    const info = header[g.param] as { dtype: string; shape: number[]; data_offsets: [number, number] } | undefined;
    if (!info) throw new UserError(`${path}: no tensor '${g.param}' to edit (component ${components.name(j)})`);
    const size = FLOAT_BYTES[info.dtype];
    if (!size) throw new UserError(`${path}: tensor '${g.param}' is ${info.dtype}; only float tensors can be edited`);
    const rows = info.shape[0]!;
    const rowBytes = (info.data_offsets[1] - info.data_offsets[0]) / rows;
    const row = j - g.offset;
    data.fill(0, info.data_offsets[0] + row * rowBytes, info.data_offsets[0] + (row + 1) * rowBytes);
  }
  header.__metadata__ = { ...(header.__metadata__ ?? {}), ...metadata };
  const text = new TextEncoder().encode(JSON.stringify(header));
  // the data starts 8-aligned: pad the header with spaces (counted in bytes, not characters)
  const jsonBytes = new Uint8Array(Math.ceil(text.length / 8) * 8).fill(0x20);
  jsonBytes.set(text);
  const out = new Uint8Array(8 + jsonBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  out.set(data, 8 + jsonBytes.length);
  return out;
}

/** What an edited file's metadata records: enough to rebuild it from the original. */
export function editMetadata(direction: string, ablatedNames: readonly string[], sourceSha256: string): Record<string, string> {
  return { coar_edit: JSON.stringify({ direction, k: ablatedNames.length, components: ablatedNames }), coar_edit_source_sha256: sourceSha256 };
}
