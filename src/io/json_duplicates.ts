/**
 * JSON.parse keeps the last of two equal keys without a word, so a hand-edited header that
 * names a tensor twice would silently lose one. This scans text that JSON.parse already
 * accepted and returns the key path of the first key an object repeats.
 */
export function firstDuplicateKey(text: string): string[] | undefined {
  // one entry per open container: its keys so far (object) or null (array)
  const open: (Set<string> | null)[] = [];
  const keys: string[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = open[open.length - 1];
      if (top && expectKey) {
        // decoded, so "a" and "\u0061" are the same key, as JSON.parse sees them
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.has(key)) return [...keys.slice(0, open.length - 1), key];
        top.add(key);
        keys[open.length - 1] = key;
        expectKey = false;
      }
      i = j;
    } else if (c === '{') { open.push(new Set()); expectKey = true; }
    else if (c === '[') { open.push(null); keys[open.length - 1] = '[]'; expectKey = false; }
    else if (c === '}' || c === ']') { open.pop(); keys.length = open.length; expectKey = false; }
    else if (c === ',') expectKey = open.length > 0 && open[open.length - 1] !== null;
  }
  return undefined;
}
