/**
 * Our own encoder for byte-level BPE tokenizers of the shapes chunk-plan.ts accepts (GPT-2,
 * Llama-3, Qwen2 families), giving the ids @huggingface/tokenizers gives, ~30× faster on a warm
 * 32k-token prompt and ~15× on words it has never seen (docs/adr/0005). The steps are the
 * library's, in its order:
 *
 *   1. split out added tokens not marked `normalized`, leftmost-longest (the library's trie walk;
 *      here one V8 regex of the contents, longest first, which picks the same matches);
 *   2. per remaining section: a section that equals an added token's text is that token; else NFC
 *      when the normalizer says so (skipped when every code unit is below U+0300, see NFC_INERT),
 *      then split out `normalized` added tokens the same way;
 *   3. pre-tokenize: with pre-token-scanner.ts for the GPT-2/Llama-3/Qwen2 regexes (the same
 *      boundaries as V8's regex, ~5× faster), else with the Split regex itself (onig-regex.ts),
 *      keeping unmatched gaps as the library's regex_split does;
 *   4. per pre-token: look up the pre-token text in a bounded cache (piece-cache.ts); on a miss,
 *      UTF-8 encode it (lone surrogates as U+FFFD, as TextEncoder does), take the id of each
 *      byte's byte-level character, emit the whole pre-token if `ignore_merges` and it is in the
 *      vocabulary, else merge (bpe-merges.ts); ids of strings that are also added tokens are the
 *      added token's (the library maps token strings to ids through its added-token map first).
 *
 * Where the speed comes from: the library runs a backtracking regex, builds a byte-level string,
 * looks it up in an LRU, and for a miss builds a node object per character and JSON pair keys,
 * then maps token strings to ids. Here the split is one pass over a class table, a repeated
 * pre-token (most of them, in any language) is one hash lookup of its raw text range, and a new
 * one is merged on Int32Arrays keyed by id pairs. buildByteLevelBpe refuses anything it
 * cannot reproduce exactly (with a reason); HfTokenizer also compares it with the library at load.
 */
import { BpeMerges } from './bpe-merges';
import { planChunking } from './chunk-plan';
import { translateOnigPattern } from './onig-regex';
import { DEFAULT_PIECE_CACHE_ENTRIES, PieceCache, type PieceIds } from './piece-cache';
import { PreTokenScanner, splitFamily } from './pre-token-scanner';

/** Pre-tokens longer than this (UTF-16 units) are merged every time, not cached (as the library). */
export const MAX_CACHED_PIECE_CHARS = 256;

/** The split the library's ByteLevel pre-tokenizer uses with use_regex (its own JS `\s`, kept). */
const BYTE_LEVEL_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Text whose code units are all below U+0300 is already NFC: no character there has a
 * decomposition that NFC keeps, and every character that composes with a preceding one
 * (combining marks, Hangul vowels and trailing consonants, a few Indic vowel signs) is at U+0300
 * or above. byte-level-bpe.test.ts checks every character and pair below U+0300.
 */
const NFC_INERT = /^[\u0000-\u02ff]*$/;

/** GPT-2's byte → character table: printable bytes map to themselves, the rest to U+0100 onwards. */
export function byteLevelChars(): string[] {
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return chars;
}

/** Options of buildByteLevelBpe. */
export interface ByteLevelBpeOptions {
  /** Pre-tokens per cache generation (default 32 Ki; at most twice that are held). */
  pieceCacheEntries?: number;
  /** Split with the V8 regex even when the scanner knows the pattern (tests compare the two). */
  regexSplit?: boolean;
}

/** Counters for a debug dump. */
export interface ByteLevelBpeStats {
  pieceHits: number;
  pieceMisses: number;
  pieceEntries: number;
  pieceRotations: number;
}

/** Everything encode needs, checked and derived from tokenizer.json at build time. */
interface Tables {
  vocab: Map<string, number>;
  merges: BpeMerges;
  byteIds: Int32Array;
  byteChars: string[];
  /** Added token text (and NFC text of normalized ones) → id, in the library's insertion order. */
  addedIds: Map<string, number>;
  /** Added token texts as written (the library adds these, not the NFC forms, to its vocabulary). */
  rawContents: Set<string>;
  /** Vocabulary ids whose string is also an added token: the added token's id wins. */
  remap: Map<number, number>;
  rawAdded: RegExp | null;
  normalizedAdded: RegExp | null;
  nfc: boolean;
  /** The fast split, or null to use `split` (a pattern the scanner does not know). */
  scanner: PreTokenScanner | null;
  split: RegExp;
  keepGaps: boolean;
  ignoreMerges: boolean;
}

/** A byte-level BPE encoder built by buildByteLevelBpe. Not re-entrant (scratch buffers). */
export class ByteLevelBpe {
  private readonly cache: PieceCache;
  private out = new Uint32Array(4096);
  private n = 0;
  private syms = new Int32Array(256);
  private hits = 0;
  private misses = 0;

  /** Prefer buildByteLevelBpe, which validates the tables. */
  constructor(private readonly t: Tables, opts: ByteLevelBpeOptions = {}) {
    this.cache = new PieceCache(opts.pieceCacheEntries ?? DEFAULT_PIECE_CACHE_ENTRIES);
  }

  /** Ids of `text` without the post-processor's special tokens. */
  encode(text: string): Uint32Array {
    this.n = 0;
    this.splitAdded(text, this.t.rawAdded, true);
    return this.out.slice(0, this.n);
  }

  /** Counters of the pre-token cache. */
  stats(): ByteLevelBpeStats {
    return { pieceHits: this.hits, pieceMisses: this.misses, pieceEntries: this.cache.size, pieceRotations: this.cache.rotations };
  }

  /** Emit added tokens found by `re` and encode the text between them (as a section or not). */
  private splitAdded(s: string, re: RegExp | null, raw: boolean): void {
    let last = 0;
    if (re !== null) {
      re.lastIndex = 0;
      // Bounded: every match is non-empty (contents are), so lastIndex advances.
      for (let m = re.exec(s); m !== null; m = re.exec(s)) {
        if (m.index > last) this.between(s.slice(last, m.index), raw);
        this.emit(this.t.addedIds.get(m[0])!);
        last = m.index + m[0].length;
      }
    }
    if (last < s.length) this.between(last === 0 ? s : s.slice(last), raw);
  }

  /** Text between raw added tokens is a section (step 2), between normalized ones a subsection. */
  private between(s: string, raw: boolean): void {
    const direct = this.t.addedIds.get(s);
    if (direct !== undefined) return this.emit(direct);
    if (!raw) return this.words(s);
    const norm = this.t.nfc && !NFC_INERT.test(s) ? s.normalize('NFC') : s;
    if (norm.length === 0) return;
    if (this.t.normalizedAdded !== null) return this.splitAdded(norm, this.t.normalizedAdded, false);
    // The library checks the subsection against the added tokens again (NFC may have made one).
    const again = norm === s ? undefined : this.t.addedIds.get(norm);
    if (again !== undefined) return this.emit(again);
    this.words(norm);
  }

  /** Pre-tokenize `s` and encode each pre-token. */
  private words(s: string): void {
    const sc = this.t.scanner;
    if (sc === null) return this.wordsRegex(s);
    // Bounded: next() returns a position after i.
    for (let i = 0, n = s.length; i < n;) {
      const j = sc.next(s, i);
      this.piece(s, i, j);
      i = j;
    }
  }

  /** Pre-tokenize `s` with the regex (the library's way) and encode each pre-token. */
  private wordsRegex(s: string): void {
    const pieces = s.match(this.t.split);
    let covered = 0;
    if (pieces !== null) for (const p of pieces) covered += p.length;
    if (this.t.keepGaps && covered !== s.length) return this.wordsWithGaps(s);
    if (pieces === null) return;
    for (const p of pieces) if (p.length > 0) this.piece(p, 0, p.length);
  }

  /** regex_split: unmatched text between matches is a pre-token too (no shipped pattern has gaps). */
  private wordsWithGaps(s: string): void {
    const re = this.t.split;
    let last = 0;
    for (const m of s.matchAll(re)) {
      if (m.index! > last) this.piece(s, last, m.index!);
      if (m[0].length > 0) this.piece(m[0], 0, m[0].length);
      last = m.index! + m[0].length;
    }
    if (last < s.length) this.piece(s, last, s.length);
  }

  /** Encode the pre-token s[a, b). */
  private piece(s: string, a: number, b: number): void {
    const cacheable = b - a <= MAX_CACHED_PIECE_CHARS;
    let ids = cacheable ? this.cache.get(s, a, b) : undefined;
    if (ids === undefined) {
      this.misses++;
      ids = this.encodePiece(s, a, b);
      if (cacheable) this.cache.set(s, a, b, ids);
    } else this.hits++;
    if (typeof ids === 'number') this.emit(ids);
    else for (let i = 0; i < ids.length; i++) this.emit(ids[i]!);
  }

  private emit(id: number): void {
    if (this.n === this.out.length) {
      const bigger = new Uint32Array(this.out.length * 2);
      bigger.set(this.out);
      this.out = bigger;
    }
    this.out[this.n++] = id;
  }

  /** Step 4 for the pre-token p[from, to) not in the cache. */
  private encodePiece(p: string, from: number, to: number): PieceIds {
    const t = this.t;
    if (this.syms.length < (to - from) * 3) this.syms = new Int32Array((to - from) * 3); // ≤ 3 bytes per unit
    const syms = this.syms;
    const b = t.byteIds;
    let n = 0;
    for (let i = from; i < to; i++) {
      let c = p.charCodeAt(i);
      if (c < 0x80) { syms[n++] = b[c]!; continue; }
      if (c >= 0xd800 && c <= 0xdfff) {
        const lo = i + 1 < to ? p.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
        } else c = 0xfffd; // a lone surrogate: TextEncoder writes U+FFFD
      }
      if (c < 0x800) {
        syms[n++] = b[0xc0 | (c >> 6)]!;
      } else if (c < 0x10000) {
        syms[n++] = b[0xe0 | (c >> 12)]!;
        syms[n++] = b[0x80 | ((c >> 6) & 0x3f)]!;
      } else {
        syms[n++] = b[0xf0 | (c >> 18)]!;
        syms[n++] = b[0x80 | ((c >> 12) & 0x3f)]!;
        syms[n++] = b[0x80 | ((c >> 6) & 0x3f)]!;
      }
      syms[n++] = b[0x80 | (c & 0x3f)]!;
    }
    if (t.ignoreMerges && n > 1) {
      const whole = this.byteLevelString(p.slice(from, to));
      if (t.vocab.has(whole) || t.rawContents.has(whole)) return t.addedIds.get(whole) ?? t.vocab.get(whole)!;
    }
    const k = t.merges.merge(syms, n);
    if (k === 1) return t.remap.get(syms[0]!) ?? syms[0]!;
    const ids: number[] = new Array(k);
    for (let i = 0; i < k; i++) ids[i] = t.remap.get(syms[i]!) ?? syms[i]!;
    return ids;
  }

  /** The byte-level string of `p` (only needed for ignore_merges). */
  private byteLevelString(p: string): string {
    let s = '';
    for (const byte of Buffer.from(p, 'utf8')) s += this.t.byteChars[byte]!;
    return s;
  }
}

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leftmost-longest matcher of `contents` (longest first in the alternation), or null. */
function alternation(contents: string[]): RegExp | null {
  const sorted = [...new Set(contents)].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
  return sorted.length ? new RegExp(sorted.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
}

/**
 * Build the encoder from a parsed tokenizer.json and tokenizer_config.json, or return why this
 * tokenizer is outside what it reproduces exactly.
 */
export function buildByteLevelBpe(json: Json, config: Json, opts: ByteLevelBpeOptions = {}): ByteLevelBpe | string {
  const plan = planChunking(json);
  if (!plan.chunked) return `not a chunkable byte-level BPE: ${plan.reason}`;
  const model = json.model as Json;
  if (model.byte_fallback === true) return 'BPE byte_fallback is not supported';
  for (const k of ['continuing_subword_prefix', 'continuing_subword_suffix', 'end_of_word_suffix']) {
    if (model[k] !== undefined && model[k] !== null && model[k] !== '') return `BPE ${k} is not supported`;
  }
  if (config.remove_space === true || config.do_lowercase_and_remove_accent === true) {
    return 'tokenizer_config remove_space / do_lowercase_and_remove_accent are not supported';
  }
  if (!isObj(model.vocab)) return 'model.vocab is not an object';
  const vocab = new Map<string, number>();
  // Ids seen so far (a plain array indexed by id: a Set of 151k numbers costs ~3× the time).
  const seen: boolean[] = [];
  const vocabJson = model.vocab;
  // for-in, not Object.entries: no 151k [key, value] arrays (twice as fast on a dictionary object).
  for (const tok in vocabJson) {
    const id = vocabJson[tok];
    if (!(Number.isInteger(id) && (id as number) >= 0)) return `vocab id of ${JSON.stringify(tok)} is not an integer >= 0`;
    if (seen[id as number] === true) return `vocab id ${String(id)} is used twice`;
    seen[id as number] = true;
    vocab.set(tok, id as number);
  }
  const byteChars = byteLevelChars();
  const byteIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    const id = vocab.get(byteChars[b]!);
    if (id === undefined) return `byte ${b} has no token in the vocabulary`;
    byteIds[b] = id;
  }
  const merges = BpeMerges.build(model.merges, vocab);
  if (typeof merges === 'string') return merges;

  const nfc = isObj(json.normalizer) && json.normalizer.type === 'NFC';
  const addedIds = new Map<string, number>();
  const rawContents = new Set<string>();
  const raw: string[] = [];
  const normalized: string[] = [];
  for (const t of (json.added_tokens ?? []) as Json[]) {
    const content = String(t.content);
    const id = t.id as number;
    addedIds.set(content, id);
    rawContents.add(content);
    // The library's default: special tokens are not normalized, others are.
    if ((t.normalized ?? t.special !== true) === true && nfc) {
      const n = content.normalize('NFC');
      normalized.push(n);
      addedIds.set(n, id);
    } else raw.push(content);
  }
  const remap = new Map<number, number>();
  for (const [text, id] of addedIds) {
    const v = vocab.get(text);
    if (v !== undefined && v !== id) remap.set(v, id);
  }

  const pre = json.pre_tokenizer as Json;
  let split = BYTE_LEVEL_SPLIT;
  let keepGaps = false;
  let scanner: PreTokenScanner | null = new PreTokenScanner('gpt2', 'js');
  if (pre.type !== 'ByteLevel') {
    const pattern = String(((pre.pretokenizers as Json[])[0]!.pattern as Json).Regex);
    const tr = translateOnigPattern(pattern);
    if (!tr.ok) return `split regex: ${tr.reason}`;
    split = tr.re;
    keepGaps = true;
    const family = splitFamily(pattern);
    scanner = family === null ? null : new PreTokenScanner(family, 'unicode');
  }
  if (opts.regexSplit === true) scanner = null;
  return new ByteLevelBpe({
    vocab, merges, byteIds, byteChars, addedIds, rawContents, remap, nfc, scanner, split, keepGaps,
    rawAdded: alternation(raw), normalizedAdded: alternation(normalized),
    ignoreMerges: model.ignore_merges === true,
  }, opts);
}
