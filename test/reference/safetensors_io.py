"""Write/read safetensors by hand (Debian has no python3-safetensors): an 8-byte
little-endian header length, a JSON header, then raw little-endian tensor bytes."""
import json
import struct

import numpy as np

DTYPES = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16', np.dtype('float64'): 'F64'}


def save(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        data = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPES[arr.dtype], 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    inv = {v: k for k, v in DTYPES.items()}
    out = {}
    for name, info in header.items():
        b, e = info['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=inv[info['dtype']]).reshape(info['shape']).copy()
    return out, meta


def state_dict_tensors(model, skip_prefixes=()):
    """float tensors of a state dict (num_batches_tracked dropped), by name."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith('num_batches_tracked') or k.startswith(tuple(skip_prefixes)):
            continue
        out[k] = v.detach().cpu().numpy().astype(np.float32)
    return out
