/**
 * The raw text of a top-level member of a JSON object. JSON.parse turns integers above 2^53 into
 * the nearest double, but SGLang's bootstrap_room is any integer below 2^63 (Python parses it
 * exactly), so the simulator reads such a number's digits from the body itself.
 */

/** Index just past the string literal starting at `i` (text[i] is '"'). */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  // Bounded: each turn moves j forward or returns.
  while (j < text.length) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    let slashes = 0;
    while (text[q - 1 - slashes] === '\\') slashes++;
    if (slashes % 2 === 0) return q + 1;
    j = q + 1;
  }
  return text.length;
}

/** Index just past the JSON value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return stringEnd(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text[j];
      if (d === '"') j = stringEnd(text, j) - 1;
      else if (d === '{' || d === '[') depth++;
      else if ((d === '}' || d === ']') && --depth === 0) return j + 1;
    }
    return text.length;
  }
  let j = i;
  while (j < text.length && !/[\s,}\]]/.test(text[j])) j++;
  return j;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && /\s/.test(text[i])) i++;
  return i;
}

/**
 * Raw text of the value of top-level `key` in `text` (the last one, as JSON.parse keeps), or
 * undefined. `text` must be a JSON object that JSON.parse accepted.
 */
export function topLevelRawValue(text: string, key: string): string | undefined {
  let i = skipWs(text, 0);
  if (text[i] !== '{') return undefined;
  i++;
  let found: string | undefined;
  // Bounded: each member moves i forward.
  while (i < text.length) {
    i = skipWs(text, i);
    if (text[i] !== '"') return found; // '}' of an empty object
    const keyEnd = stringEnd(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, skipWs(text, keyEnd) + 1); // past ':'
    const end = valueEnd(text, i);
    if (name === key) found = text.slice(i, end);
    i = skipWs(text, end);
    if (text[i] !== ',') return found;
    i++;
  }
  return found;
}
