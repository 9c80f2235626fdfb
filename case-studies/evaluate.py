#!/usr/bin/python3
"""Score the edited models of the case studies in PyTorch, on held-out test images.

  /usr/bin/python3 case-studies/evaluate.py OUT      # after case-studies/reproduce.sh

Reads OUT/<study>/edit*/edit.json and edited.safetensors (written by `coar edit`), loads
each edited file in PyTorch with the original parameter names, and measures what the
study is about on Fashion-MNIST test images 5000-9999, which no step of the edit saw
(and, for fix-error, on all 10,000). Writes OUT/results.json: per study the example sets,
per edit the ablated components, the sha256 of the edited file, the accuracies the engine
reported on each set, and PyTorch's held-out metrics before and after.
"""
import glob
import hashlib
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'weights'))
import train_fashion as tf  # noqa: E402
import train_variants as tv  # noqa: E402
from prepare import HELD_OUT, STUDIES, WEIGHTS, kind  # noqa: E402

torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
_TEST = None


def test_split():
    global _TEST
    if _TEST is None:
        _TEST = tf.load_split('test')
    return _TEST


def set_data(source, indices, arch='cnn'):
    """Preprocessed inputs and labels of test images `indices`, as a case study shows them to a
    model of `arch` ('cnn' or 'vit'): source 'fashion-mnist:test' (as is), 'triggered' (backdoor
    trigger) or 'framed' (the spurious study's test images, framed where the test-time attribute says)."""
    images, labels = test_split()
    idx = np.asarray(indices, dtype=np.int64)
    if source == 'triggered':
        shown = tv.add_trigger(images[idx])
    elif source == 'framed':
        shown = tv.add_frame(images[idx], tv.frame_attribute(labels, 'test')[idx])
    elif source == 'fashion-mnist:test':
        shown = images[idx]
    else:
        raise ValueError(f'unknown source {source!r}')
    return tf.preprocess(shown, arch), labels[idx].astype(np.int64)


@torch.no_grad()
def predict(model, x, batch=1000):
    return np.concatenate([model(torch.from_numpy(x[i:i + batch])).argmax(1).numpy() for i in range(0, len(x), batch)])


def held_out_metrics(study, model, arch='cnn'):
    """The study's measure on the held-out test images 5000-9999."""
    images, labels = test_split()
    idx = HELD_OUT
    y = labels[idx]
    if kind(study) == 'forget-class':
        from prepare import FORGET_CLASS
        pred = predict(model, tf.preprocess(images[idx], arch))
        per_class = [float((pred[y == c] == c).mean()) for c in range(10)]
        others = [a for c, a in enumerate(per_class) if c != FORGET_CLASS]
        return {'class_accuracy': per_class[FORGET_CLASS], 'other_classes_mean_accuracy': float(np.mean(others)),
                'accuracy': float((pred == y).mean()), 'per_class_accuracy': per_class}
    if kind(study) == 'backdoor':
        m = tv.backdoor_metrics(model, images[idx], y, arch)
        return {k: m[k] for k in ('clean_accuracy', 'attack_success_rate', 'triggered_accuracy')}
    if kind(study) == 'spurious':
        m = tv.spurious_metrics(model, images[idx], y, tv.frame_attribute(labels, 'test')[idx], arch)
        return {k: m[k] for k in ('accuracy', 'worst_group_accuracy', 'worst_group', 'minority_accuracy', 'majority_accuracy', 'group_accuracy')}
    pred = predict(model, tf.preprocess(images, arch))
    correct = pred == labels
    return {'test_accuracy': float(correct.mean()), 'held_out_accuracy': float(correct[idx].mean())}


def cached(path, digest, compute):
    """compute(), remembered in `path` for the edited file with this sha256 (the metrics of
    one edit take minutes on a busy CPU; a re-run scores only new edits)."""
    if os.path.exists(path):
        saved = json.load(open(path))
        if saved.get('edited_sha256') == digest:
            return saved['metrics']
    metrics = compute()
    with open(path + '.tmp', 'w') as f:
        json.dump({'edited_sha256': digest, 'metrics': metrics}, f)
    os.replace(path + '.tmp', path)
    return metrics


def source_of(data):
    if data['source'] == 'fashion-mnist':
        assert data['split'] == 'test'
        return 'fashion-mnist:test'
    return os.path.splitext(os.path.basename(data['inputs']))[0]


def sha256(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def evaluate_study(study, out):
    folder = os.path.join(out, study)
    edits = sorted(glob.glob(os.path.join(folder, 'edit*', 'edit.json')), key=lambda p: (len(p), p))
    if not edits:
        return None
    base_path = os.path.join(HERE, '..', 'weights', WEIGHTS[study])
    base, meta = tf.load_model(base_path)
    arch = meta['arch']
    before = cached(os.path.join(folder, 'held_out_before.json'), sha256(base_path), lambda: held_out_metrics(study, base, arch))
    sets, entries = {}, []
    for path in edits:
        record = json.load(open(path))
        edit_dir = os.path.dirname(path)
        model, _ = tf.load_model(os.path.join(edit_dir, record['edited']))
        roles = {}
        for role, s in record['sets'].items():
            source = source_of(s['data'])
            key = None
            for name, known in sets.items():
                if known['source'] == source and known['indices'] == s['indices']:
                    key = name
            if key is None:
                key = f'{role}-{s["indices"][0]}' if len(s['indices']) == 1 else role
                sets[key] = {'source': source, 'indices': s['indices']}
            roles[role] = {'set': key, 'accuracy_before': s['before']['accuracy'], 'accuracy_after': s['after']['accuracy']}
        digest = sha256(os.path.join(edit_dir, record['edited']))
        entry = {
            'id': study if len(edits) == 1 else f'{study}-{os.path.basename(edit_dir)[len("edit-"):]}',
            'k': record['chosen']['k'], 'components': [c['name'] for c in record['chosen']['components']],
            'scores': [c['score'] for c in record['chosen']['components']],
            'edited_sha256': digest, 'engine_seconds': record['seconds'], 'sets': roles,
            'held_out': cached(os.path.join(edit_dir, 'held_out.json'), digest, lambda: held_out_metrics(study, model, arch)),
        }
        if kind(study) == 'fix-error':
            t = record['sets']['target']['indices'][0]
            x, y = set_data('fashion-mnist:test', [t], arch)
            entry['target'] = t
            entry['target_fixed'] = bool(predict(model, x)[0] == y[0])
        entries.append(entry)
    return {'study': study, 'weights': f'weights/{WEIGHTS[study]}', 'arch': arch, 'max_drop': record['maxDrop'],
            'direction': record['direction'], 'sets': sets, 'held_out_before': before, 'edits': entries,
            'summary': summarise(study, before, entries)}


def summarise(study, before, entries):
    if kind(study) == 'fix-error':
        fixed = [e for e in entries if e['target_fixed']]
        drops = [100 * (before['test_accuracy'] - e['held_out']['test_accuracy']) for e in fixed]
        held = [100 * (before['held_out_accuracy'] - e['held_out']['held_out_accuracy']) for e in fixed]
        return {'targets': len(entries), 'fixed': len(fixed), 'fraction_fixed': len(fixed) / len(entries),
                'median_test_accuracy_drop_points': float(np.median(drops)) if drops else None,
                'median_held_out_accuracy_drop_points': float(np.median(held)) if held else None,
                'median_k': float(np.median([e['k'] for e in fixed])) if fixed else None,
                'goal': 'fixed individually; median drop in test accuracy <= 0.5 points'}
    after = entries[0]['held_out']
    if kind(study) == 'forget-class':
        from prepare import FORGET_CLASS
        drops = [100 * (before['per_class_accuracy'][c] - after['per_class_accuracy'][c]) for c in range(10) if c != FORGET_CLASS]
        return {'class_accuracy_before': before['class_accuracy'], 'class_accuracy_after': after['class_accuracy'],
                'other_classes_mean_drop_points': float(np.mean(drops)),
                'goal': 'class accuracy <= 10%; other classes lose <= 2 points on average'}
    if kind(study) == 'backdoor':
        b, a = before['attack_success_rate'], after['attack_success_rate']
        return {'attack_success_rate_before': b, 'attack_success_rate_after': a,
                'relative_reduction': (b - a) / b if b > 0 else None,
                'clean_accuracy_drop_points': 100 * (before['clean_accuracy'] - after['clean_accuracy']),
                'goal': 'attack success rate falls by >= 80% (relative); clean accuracy drops <= 1 point'}
    return {'worst_group_accuracy_before': before['worst_group_accuracy'], 'worst_group_accuracy_after': after['worst_group_accuracy'],
            'worst_group_gain_points': 100 * (after['worst_group_accuracy'] - before['worst_group_accuracy']),
            'average_accuracy_drop_points': 100 * (before['accuracy'] - after['accuracy']),
            'goal': 'worst-group accuracy improves by >= 10 points; average accuracy drops <= 2 points'}


def update_fixture(path, studies):
    """Replace the fixture's entries for the studies evaluated now, keep the others: a run of one
    study must not drop the checked-in results of the rest. Written whole, then renamed."""
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            kept = json.load(f)['studies']
    now = {s['study'] for s in studies}
    merged = [s for s in kept if s['study'] not in now] + studies
    merged.sort(key=lambda s: STUDIES.index(s['study']) if s['study'] in STUDIES else len(STUDIES))
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'format': 'webcoar-case-studies-1', 'held_out': HELD_OUT_TEXT, 'studies': merged}, f, indent=1)
    os.replace(tmp, path)


HELD_OUT_TEXT = 'Fashion-MNIST test images 5000-9999'


def main():
    """evaluate.py OUT [--update-fixture case-studies/results.json]"""
    out = sys.argv[1]
    studies = [s for s in (evaluate_study(s, out) for s in STUDIES) if s]
    results = {'format': 'webcoar-case-studies-1', 'held_out': HELD_OUT_TEXT, 'studies': studies}
    with open(os.path.join(out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    if '--update-fixture' in sys.argv:
        update_fixture(sys.argv[sys.argv.index('--update-fixture') + 1], studies)
    for s in studies:
        print(s['study'], json.dumps(s['summary']))


if __name__ == '__main__':
    main()
