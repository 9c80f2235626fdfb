"""Unusual and hostile .npy files, written by numpy itself, for test/adversarial.test.ts.
usage: hostile_npy.py GOOD_DIR OUT_DIR  (GOOD_DIR holds inputs.npy, labels.npy, masks.npy)"""
import os
import struct
import sys

import numpy as np

good, d = sys.argv[1], sys.argv[2]
out = lambda name: os.path.join(d, name)
x = np.load(os.path.join(good, 'inputs.npy'))
y = np.load(os.path.join(good, 'labels.npy'))
m = np.load(os.path.join(good, 'masks.npy'))

# the same arrays in the other byte and memory orders numpy writes: read, they must equal the originals
np.save(out('inputs_big_fortran.npy'), np.asfortranarray(x.astype('>f4')))
np.save(out('labels_big.npy'), y.astype('>i8'))
np.save(out('masks_fortran.npy'), np.asfortranarray(m))

# pickled Python objects: numpy itself needs allow_pickle to load these, we never do
np.save(out('objects.npy'), np.array([{'a': 1}, None], dtype=object), allow_pickle=True)


def data_offset(path):
    with open(path, 'rb') as f:
        version = np.lib.format.read_magic(f)
        np.lib.format._read_array_header(f, version)
        return f.tell()


# numpy's header for a 12 GB float32 [10**6, 3, 32, 32] array, and only 64 bytes of data
p = out('huge_claim.npy')
a = np.lib.format.open_memmap(p, mode='w+', dtype='<f4', shape=(10**6, 3, 32, 32))
del a
os.truncate(p, data_offset(p) + 64)

# an 8 GB int64 label file that really is that long (sparse: it costs no disk)
a = np.lib.format.open_memmap(out('huge_labels.npy'), mode='w+', dtype='<i8', shape=(10**9,))
del a

# masks cut short by 5 bytes
np.save(out('masks_truncated.npy'), m)
os.truncate(out('masks_truncated.npy'), os.path.getsize(out('masks_truncated.npy')) - 5)

# labels out of range for a 10-class model: negative, = classes, and 2^32 + 3 (3 after a wrap to int32)
for name, bad in [('labels_negative', -1), ('labels_ten', 10), ('labels_wrap', 2**32 + 3)]:
    z = y.astype(np.int64)
    z[-1] = bad
    np.save(out(name + '.npy'), z)


def raw_npy(name, header):
    """A file with numpy's magic and a header that numpy's own reader refuses."""
    text = header.encode('latin1')
    text += b' ' * (-(10 + len(text) + 1) % 64) + b'\n'
    with open(out(name), 'wb') as f:
        f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(text)) + text + bytes(64))


raw_npy('header_code.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': __import__('os').system('echo pwned')}")
raw_npy('header_list.npy', "['<f4', False, (4,)]")
raw_npy('header_twice.npy', "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'shape': (2,), }")
# numpy's literal_eval keeps the last 'shape' of header_twice; these two it refuses as well
for name in ['header_code.npy', 'header_list.npy']:
    try:
        np.load(out(name))
        raise SystemExit(f'numpy read {name}')
    except ValueError:
        pass
print('ok')
