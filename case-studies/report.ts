/**
 * The case studies' report: OUT/report.html (the HTML report's edit sections, one per
 * edit, under a summary of the held-out results) and OUT/results.md (the results table of
 * docs/EDIT.md), from OUT/results.json (case-studies/evaluate.py) and each edit.json.
 *
 *   node --import tsx case-studies/report.ts OUT
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { editPage, type EditRecord } from '../src/report/edit.js';
import { esc } from '../src/report/html.js';

interface Study {
  study: string; weights: string; max_drop: number; direction: string;
  held_out_before: Record<string, any>;
  edits: { id: string; k: number; components: string[]; held_out: Record<string, any>; target?: number; target_fixed?: boolean }[];
  summary: Record<string, any>;
}

const NAMES: Record<string, string> = {
  'fix-error': 'Fix one error', 'forget-class': 'Forget a class', backdoor: 'Remove a backdoor', spurious: 'Subpopulation robustness',
  'fix-error-vit': 'Fix one error (ViT)', 'forget-class-vit': 'Forget a class (ViT)', 'backdoor-vit': 'Remove a backdoor (ViT)',
};

const pct = (a: number) => `${(100 * a).toFixed(1)}%`;
const pts = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(2)}`;

/** One row per study: [study, model, edit, goal, before, after, goal met]. */
function rows(studies: Study[]): string[][] {
  return studies.map((s) => {
    const b = s.held_out_before, sum = s.summary;
    const e = s.edits[0]!;
    const a = e.held_out;
    // long edits (the ViT's forget-class ablates dozens of rows) list their first 8; edit.json has all
    const comps = (x: { k: number; components: string[] }) => `k = ${x.k}: ${x.components.slice(0, 8).map((c) => `\`${c}\``).join(', ') || '(none)'}${x.k > 8 ? `, … (${x.k - 8} more)` : ''}`;
    // a '-vit' study repeats its CNN study on the ViT: same metrics and goals
    switch (s.study.replace(/-vit$/, '')) {
      case 'fix-error': {
        const ks = s.edits.filter((x) => x.target_fixed).map((x) => x.k);
        // met only when >= 20 errors are each fixed, at a median test-accuracy drop <= 0.5 points
        const met = sum.fixed >= 20 && sum.median_test_accuracy_drop_points <= 0.5;
        const edit = ks.length ? `k from ${Math.min(...ks)} to ${Math.max(...ks)} for the fixed ones (median ${sum.median_k})` : 'none fixed';
        const after = ks.length
          ? `${sum.fixed}/${s.edits.length} fixed (${(100 * sum.fraction_fixed).toFixed(0)}%); median drop over the fixed ones ${pts(-sum.median_test_accuracy_drop_points)} points (held-out half: ${pts(-sum.median_held_out_accuracy_drop_points)})`
          : `0/${s.edits.length} fixed`;
        return [NAMES[s.study]!, s.weights, `${s.edits.length} misclassified test images, one edit each; ${edit}`,
          '≥ 20 misclassified examples each fixed on its own; median test-accuracy drop ≤ 0.5 points', `0/${s.edits.length} right; test accuracy ${pct(b.test_accuracy)}`,
          after, met ? 'yes' : sum.fixed ? `no (${sum.fixed} of ${s.edits.length} fixed)` : 'no'];
      }
      case 'forget-class': {
        const met = a.class_accuracy <= 0.1 && sum.other_classes_mean_drop_points <= 2;
        return [NAMES[s.study]!, s.weights, comps(e), 'class accuracy ≤ 10%; other classes lose ≤ 2 points on average',
          `class ${pct(b.class_accuracy)}; others ${pct(b.other_classes_mean_accuracy)}`, `class ${pct(a.class_accuracy)}; others ${pct(a.other_classes_mean_accuracy)} (${pts(-sum.other_classes_mean_drop_points)} points)`, met ? 'yes' : 'no'];
      }
      case 'backdoor': {
        const met = sum.relative_reduction >= 0.8 && sum.clean_accuracy_drop_points <= 1;
        return [NAMES[s.study]!, s.weights, comps(e), 'attack success rate −80% (relative); clean accuracy drops ≤ 1 point',
          `attack success ${pct(b.attack_success_rate)}; clean ${pct(b.clean_accuracy)}`,
          `attack success ${pct(a.attack_success_rate)} (−${(100 * sum.relative_reduction).toFixed(0)}% relative); clean ${pct(a.clean_accuracy)} (${pts(-sum.clean_accuracy_drop_points)} points)`, met ? 'yes' : 'no'];
      }
      default: {
        const met = sum.worst_group_gain_points >= 10 && sum.average_accuracy_drop_points <= 2;
        return [NAMES[s.study]!, s.weights, comps(e), 'worst-group accuracy +10 points; average accuracy drops ≤ 2 points',
          `worst group ${pct(b.worst_group_accuracy)}; average ${pct(b.accuracy)}`,
          `worst group ${pct(a.worst_group_accuracy)} (${pts(sum.worst_group_gain_points)} points); average ${pct(a.accuracy)} (${pts(-sum.average_accuracy_drop_points)} points)`, met ? 'yes' : 'no'];
      }
    }
  });
}

const HEAD = ['study', 'model', 'edit', 'goal', 'before (held-out)', 'after (held-out)', 'goal met'];

export function markdownTable(studies: Study[]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|');
  return [`| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`, ...rows(studies).map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n') + '\n';
}

function htmlTable(studies: Study[]): string {
  const code = (c: string) => esc(c).replace(/`([^`]*)`/g, '<code>$1</code>');
  return `<h2>Case studies on Fashion-MNIST</h2>
<p>Each row: the edit <code>coar edit</code> chose, and what PyTorch measures with the edited safetensors on the held-out Fashion-MNIST test images 5000-9999 (the sets of the edit come from images 0-4999; fix-error also reports all 10,000).</p>
<table class="summary"><thead><tr>${HEAD.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows(studies).map((r) => `<tr>${r.map((c) => `<td>${code(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

function main(): void {
  const out = process.argv[2];
  if (!out || !existsSync(join(out, 'results.json'))) {
    console.error('usage: node --import tsx case-studies/report.ts OUT (OUT/results.json from case-studies/evaluate.py)');
    process.exit(1);
  }
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { studies: Study[] };
  const records: EditRecord[] = [];
  for (const s of results.studies) {
    for (const e of s.edits) {
      const folder = s.edits.length === 1 ? 'edit' : `edit-${e.target}`;
      records.push(JSON.parse(readFileSync(join(out, s.study, folder, 'edit.json'), 'utf8')) as EditRecord);
    }
  }
  writeFileSync(join(out, 'report.html'), editPage(records, { title: 'COAR-Edit case studies', summary: htmlTable(results.studies), collapse: true }));
  writeFileSync(join(out, 'results.md'), markdownTable(results.studies));
  console.log(markdownTable(results.studies));
  console.log(`wrote ${join(out, 'report.html')} and ${join(out, 'results.md')}`);
}

main();
