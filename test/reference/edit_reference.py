"""Independent reference for COAR-Edit: PyTorch loads the edited safetensors with the
original parameter names and recomputes what `coar edit` reported.

usage:
  edit_reference.py welch TARGET.npy REFERENCE.npy
      attributions [C, n_T] and [C, n_R] -> Welch's t per component (population variances)
  edit_reference.py verify EDIT_DIR
      edit.json + edited.safetensors -> JSON on stdout: for each set, PyTorch's accuracy
      and margins before (the original weights) and after (the edited file), and the
      largest difference from the margins edit.json reports
  edit_reference.py zeroed ORIGINAL EDITED COMPONENTS
      COMPONENTS: comma-separated component names (`layer.0.conv1.weight[3]`). JSON: whether
      EDITED loads strictly into the model built from ORIGINAL, and the largest difference
      from zeroing those rows of ORIGINAL in PyTorch (0 expected), tensor by tensor
  edit_reference.py cases RESULTS_JSON EDITED_DIR
      for each case-study edit in RESULTS_JSON (case-studies/results.json), the accuracy
      PyTorch gives on each recorded set with EDITED_DIR/<id>.safetensors, and the held-out
      metrics of the single-edit studies (case-studies/evaluate.py)
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'weights'))
sys.path.insert(0, os.path.join(ROOT, 'case-studies'))
import train_fashion as tf  # noqa: E402

torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))


@torch.no_grad()
def margins(model, x, y, batch=1000):
    out = []
    for i in range(0, len(x), batch):
        logits = model(torch.from_numpy(x[i:i + batch])).double()
        yy = torch.from_numpy(y[i:i + batch].astype(np.int64))
        true = logits.gather(1, yy[:, None])[:, 0]
        other = logits.scatter(1, yy[:, None], -np.inf).max(1).values
        out.append((true - other).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def set_inputs(data, indices):
    """The preprocessed inputs and labels of a set, from the data spec coar recorded."""
    idx = np.asarray(indices, dtype=np.int64)
    if data['source'] == 'fashion-mnist':
        images, labels = tf.load_split(data['split'], data.get('folder') or tf.DEFAULT_DATA)
        return tf.preprocess(images[idx], data['preprocessing']), labels[idx].astype(np.int64)
    x = np.load(data['inputs'], mmap_mode='r')
    y = np.load(data['labels'])
    return np.ascontiguousarray(x[idx], dtype=np.float32), y[idx].astype(np.int64)


def verify(edit_dir):
    record = json.load(open(os.path.join(edit_dir, 'edit.json')))
    original, _ = tf.load_model(record['model']['weights'])
    edited, _ = tf.load_model(os.path.join(edit_dir, record['edited']))
    out = {}
    for name, s in record['sets'].items():
        x, y = set_inputs(s['data'], s['indices'])
        before, after = margins(original, x, y), margins(edited, x, y)
        out[name] = {
            'n': len(y), 'labels_match': bool(np.array_equal(y, np.asarray(s['labels']))),
            'accuracy_before': float((before > 0).mean()), 'accuracy_after': float((after > 0).mean()),
            'margin_error_before': float(np.abs(before - np.asarray(s['margins']['before'])).max()),
            'margin_error_after': float(np.abs(after - np.asarray(s['margins']['after'])).max()),
            'margin_scale': float(np.abs(after).max()),
        }
    return out


def zeroed(original_path, edited_path, names):
    original, _ = tf.load_model(original_path)
    edited_tensors, _ = tf.read_safetensors(edited_path)
    model, _ = tf.load_model(original_path)
    # strict: every parameter and buffer by its original name, nothing extra
    missing, unexpected = model.load_state_dict(edited_tensors, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    expected = {k: v.clone() for k, v in original.state_dict().items()}
    with torch.no_grad():
        for name in filter(None, names.split(',')):
            param, row = name[:-1].split('[')
            expected[param][int(row)].zero_()
    diffs = {k: float((v.float() - edited_tensors[k].float()).abs().max()) for k, v in expected.items() if k in edited_tensors}
    return {'missing': missing, 'unexpected': list(unexpected), 'max_difference': max(diffs.values()), 'zeroed_rows': len(list(filter(None, names.split(','))))}


def cases(results_path, edited_dir):
    import evaluate  # case-studies/evaluate.py: the sets' images and the held-out metrics
    results = json.load(open(results_path))
    out = {}
    for study in results['studies']:
        base, meta = tf.load_model(os.path.join(ROOT, study['weights']))
        data = {name: evaluate.set_data(s['source'], s['indices'], meta['arch']) for name, s in study['sets'].items()}
        before = {name: float((margins(base, x, y) > 0).mean()) for name, (x, y) in data.items()}
        for e in study['edits']:
            model, _ = tf.load_model(os.path.join(edited_dir, f"{e['id']}.safetensors"))
            sets = {role: {'before': before[s['set']], 'after': float((margins(model, *data[s['set']]) > 0).mean())}
                    for role, s in e['sets'].items()}
            entry = {'sets': sets}
            if len(study['edits']) == 1:
                entry['held_out'] = evaluate.held_out_metrics(study['study'], model, meta['arch'])
            out[e['id']] = entry
    return out


def welch(target_path, reference_path):
    t = np.load(target_path).astype(np.float64)
    r = np.load(reference_path).astype(np.float64)
    se = np.sqrt(t.var(axis=1, ddof=0) / t.shape[1] + r.var(axis=1, ddof=0) / r.shape[1])
    return ((t.mean(axis=1) - r.mean(axis=1)) / se).tolist()


def main():
    cmd = sys.argv[1]
    if cmd == 'welch':
        print(json.dumps(welch(sys.argv[2], sys.argv[3])))
    elif cmd == 'verify':
        print(json.dumps(verify(sys.argv[2])))
    elif cmd == 'zeroed':
        print(json.dumps(zeroed(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif cmd == 'cases':
        print(json.dumps(cases(sys.argv[2], sys.argv[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main()
