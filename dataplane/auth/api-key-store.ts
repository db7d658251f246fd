/**
 * API keys from a mounted file (a Kubernetes Secret), with live reload.
 *
 *     keys:
 *     - id: team-a            # the user requests with this key get; required, unique
 *       tier: premium         # optional
 *       sha256: 3b1f…         # hex SHA-256 of the key (preferred: the Secret holds no usable key)
 *     - id: team-b
 *       key: sk-team-b-…      # or the key itself, hashed at load and never kept
 *
 * Lookups hash the presented key and find it by digest, so no plaintext key is held in memory.
 *
 * Reloading: kubelet updates a Secret volume by writing a new timestamped folder and swapping the
 * `..data` symlink to it, so the file's own inode never changes and a watch on the file misses the
 * update. The store watches the folder instead (fs.watch, debounced), and also compares the file's
 * stat every `pollIntervalMs`, because fs.watch is not delivered on every filesystem (NFS, some
 * overlay setups). A bad or missing file after a good load keeps the last good keys; a file that
 * never loaded makes lookups fail with SLUICE_AUTH_UNAVAILABLE rather than refusing every key as
 * unknown, which would blame the client for an operator's mistake.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadBounded, YamlError } from '../../shared/util/bounded-yaml';
import type { Issue } from '../../shared/api/validate';
import type { Identity } from '../../shared/config/router-policy';
import { SluiceError } from '../../shared/errors/codes';
import type { Logger } from '../../shared/log/logger';

/** Tuning for tests; production uses the defaults. */
export interface ApiKeyStoreOptions {
  /** Stat the file this often as a fallback to fs.watch, ms (default 2000). */
  pollIntervalMs?: number;
  /** Wait this long after the last watch event before re-reading, ms (default 50). */
  debounceMs?: number;
}

/** What one reload attempt did; passed to `onReload` listeners. */
export interface ApiKeyReload {
  /** True when the file loaded and its keys now serve. */
  readonly ok: boolean;
  /** Keys serving after the attempt (the previous ones when it failed). */
  readonly keys: number;
  /** Why the attempt failed; null when it succeeded. */
  readonly error: string | null;
}

/** The store's state for the debug endpoint: never keys or hashes. */
export interface ApiKeyStoreStatus {
  readonly file: string;
  /** When the serving keys were loaded (ISO), null if the file never loaded. */
  readonly loadedAt: string | null;
  readonly keys: number;
  /** The ids of the serving keys, sorted. */
  readonly ids: string[];
  /** The last reload's problem, null once a later reload succeeded. */
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
  /** False when fs.watch could not watch the folder; the stat poll still runs. */
  readonly watching: boolean;
}

/** One parsed key: its digest and the identity it grants. */
export interface ApiKeyRecord {
  readonly digest: Buffer;
  readonly identity: Identity;
}

/** The outcome of parsing a key file. */
export type ApiKeyParse = { ok: true; records: ApiKeyRecord[] } | { ok: false; issues: Issue[] };

const ENTRY_FIELDS = ['id', 'tier', 'sha256', 'key'];
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** Visible ASCII: a key travels in an HTTP header, where spaces and control characters break it. */
const KEY_CHARS = /^[\x21-\x7e]+$/;
/** Shorter keys could be guessed, or recovered from a leaked hash by brute force. */
const MIN_KEY_LENGTH = 16;

/** SHA-256 of a key, as stored and looked up. */
export function digestKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The shape of a value, never the value: a key file is a secret, and a key pasted into the wrong
 * place (a list item, an id, a field name) would otherwise reach the log and the unauthenticated
 * debug endpoint.
 */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `a string of ${v.length} characters`;
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

/**
 * A field name safe to show: short enough that it cannot be a key (keys have at least
 * MIN_KEY_LENGTH characters) and shaped like a field name. Anything else is shown by position.
 */
function fieldName(name: string, index: number): string {
  return /^[A-Za-z][A-Za-z0-9_]{0,11}$/.test(name) ? name : `<field ${index + 1}, ${name.length} characters, not shown>`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One entry's problems go to `issues`; returns the record when it had none. */
function parseEntry(raw: unknown, path: string, issues: Issue[]): ApiKeyRecord | null {
  if (!isRecord(raw)) {
    issues.push({ path, message: `must be a mapping with id and sha256 or key (got ${describe(raw)})` });
    return null;
  }
  const before = issues.length;
  Object.keys(raw).forEach((field, i) => {
    if (!ENTRY_FIELDS.includes(field)) issues.push({ path: `${path}.${fieldName(field, i)}`, message: `unknown field (allowed: ${ENTRY_FIELDS.join(', ')})` });
  });
  const { id, tier, sha256, key } = raw;
  if (typeof id !== 'string' || id.trim() === '') {
    issues.push({ path: `${path}.id`, message: `must be a non-empty string naming who uses the key (got ${describe(id)}); quote numbers` });
  }
  if (tier !== undefined && tier !== null && (typeof tier !== 'string' || tier.trim() === '')) {
    issues.push({ path: `${path}.tier`, message: `must be a non-empty string or absent (got ${describe(tier)})` });
  }
  let digest: Buffer | null = null;
  if (sha256 !== undefined && key !== undefined) {
    issues.push({ path, message: 'set sha256 or key, not both' });
  } else if (sha256 !== undefined) {
    // Never echo the value: a pasted key in the wrong field would end up in the log.
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
      issues.push({ path: `${path}.sha256`, message: `must be 64 hex characters, the output of printf %s "$KEY" | sha256sum (got ${typeof sha256 === 'string' ? `${sha256.length} characters` : typeof sha256}); quote it if YAML reads it as a number` });
    } else digest = Buffer.from(sha256, 'hex');
  } else if (key !== undefined) {
    if (typeof key !== 'string') {
      issues.push({ path: `${path}.key`, message: `must be a string (got ${typeof key}); quote it` });
    } else if (key.length < MIN_KEY_LENGTH) {
      issues.push({ path: `${path}.key`, message: `must be at least ${MIN_KEY_LENGTH} characters (got ${key.length}); generate one with openssl rand -hex 24` });
    } else if (!KEY_CHARS.test(key)) {
      issues.push({ path: `${path}.key`, message: 'must be visible ASCII characters without spaces, since it is sent in an HTTP header' });
    } else digest = digestKey(key);
  } else {
    issues.push({ path, message: 'needs sha256 (hex SHA-256 of the key, preferred) or key' });
  }
  if (issues.length > before || digest === null) return null;
  const identity: Identity = Object.freeze({ user: id as string, tier: typeof tier === 'string' ? tier : null, via: 'api-key' as const });
  return { digest, identity };
}

/**
 * Parses a key file's text (YAML, or JSON, which YAML reads too). Lists every problem with its
 * path; refuses duplicate ids and two entries with the same key.
 */
export function parseApiKeyFile(text: string): ApiKeyParse {
  let doc: unknown;
  try {
    doc = loadBounded(text);
  } catch (err) {
    if (!(err instanceof YamlError)) throw err;
    // Position and reason only, never the quoted text: tags and alias names may hold a key.
    const reason = err.message.replace(/^not valid YAML/, 'not valid YAML or JSON').replace(/!<[^>]*>/g, '!<tag not shown>').replace(/"[^"]*"/g, '"…"');
    return { ok: false, issues: [{ path: '', message: reason }] };
  }
  if (!isRecord(doc)) {
    return { ok: false, issues: [{ path: '', message: `must be a mapping with a keys list (got ${describe(doc)})` }] };
  }
  const issues: Issue[] = [];
  Object.keys(doc).forEach((field, i) => {
    if (field !== 'keys') issues.push({ path: fieldName(field, i), message: 'unknown field (the file has one field, keys)' });
  });
  if (!Array.isArray(doc.keys)) {
    issues.push({ path: 'keys', message: `must be a list of {id, tier, sha256 | key} (got ${describe(doc.keys)})` });
    return { ok: false, issues };
  }
  const records: ApiKeyRecord[] = [];
  const byId = new Map<string, number>();
  const byDigest = new Map<string, number>();
  doc.keys.forEach((raw, i) => {
    const path = `keys[${i}]`;
    const rec = parseEntry(raw, path, issues);
    const id = isRecord(raw) && typeof raw.id === 'string' ? raw.id : null;
    if (id !== null) {
      const first = byId.get(id);
      if (first !== undefined) issues.push({ path: `${path}.id`, message: `the same id as keys[${first}]; ids must be unique` });
      else byId.set(id, i);
    }
    if (rec === null) return;
    const hex = rec.digest.toString('hex');
    const first = byDigest.get(hex);
    if (first !== undefined) issues.push({ path, message: `has the same key as keys[${first}]; every key must be different` });
    else byDigest.set(hex, i);
    records.push(rec);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, records };
}

/** `keys[2].sha256: must be …; keys[3]: …` */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

function statSignature(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

/** API keys of one file, reloaded live. */
export class ApiKeyStore {
  /** The key file's path, as configured. */
  readonly file: string;
  private readonly log: Logger;
  private readonly debounceMs: number;
  /** Digest (base64) → record. Replaced whole on reload, never mutated. */
  private byDigest: ReadonlyMap<string, ApiKeyRecord> = new Map();
  private loadedAt: Date | null = null;
  private lastError: string | null = null;
  private lastErrorAt: Date | null = null;
  /** Text of the last read, so a touch or a swap to identical content is not a reload. */
  private lastText: string | null = null;
  /** Stat of the last read, compared by the poll. */
  private lastSignature: string | null = null;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private readonly poll: NodeJS.Timeout;
  private readonly listeners = new Set<(r: ApiKeyReload) => void>();
  private closed = false;

  /** Loads the file now (synchronously: lookups work once this returns) and starts watching it. */
  constructor(file: string, log: Logger, opts: ApiKeyStoreOptions = {}) {
    this.file = file;
    this.log = log.child({ apiKeyFile: file });
    this.debounceMs = opts.debounceMs ?? 50;
    this.check();
    this.startWatch();
    this.poll = setInterval(() => this.pollOnce(), opts.pollIntervalMs ?? 2000);
    this.poll.unref();
  }

  /**
   * The identity a key grants, or null for an unknown key. Throws SLUICE_AUTH_UNAVAILABLE while
   * the file has never loaded.
   *
   * The map is keyed by the SHA-256 of the presented key, so any timing difference in the lookup
   * depends on the digest of the attacker's own guess, not on the stored key: learning that a
   * guess's digest shares a prefix with a stored digest does not help find a key whose digest
   * has it (that is a preimage search). timingSafeEqual then confirms the match without an
   * early exit, so the comparison itself adds nothing either.
   */
  lookup(key: string): Identity | null {
    if (this.loadedAt === null) {
      throw new SluiceError('SLUICE_AUTH_UNAVAILABLE', 'API keys cannot be checked: the key file has not loaded yet; the data plane log says why');
    }
    const digest = digestKey(key);
    const rec = this.byDigest.get(digest.toString('base64'));
    if (rec === undefined || !timingSafeEqual(rec.digest, digest)) return null;
    return rec.identity;
  }

  /** Calls `fn` after each reload attempt that changed something; returns an unsubscribe. */
  onReload(fn: (r: ApiKeyReload) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The store's state for `/debug/config_dump/auth`. */
  status(): ApiKeyStoreStatus {
    return {
      file: this.file,
      loadedAt: this.loadedAt?.toISOString() ?? null,
      keys: this.byDigest.size,
      ids: [...this.byDigest.values()].map((r) => r.identity.user).sort(),
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt?.toISOString() ?? null,
      watching: this.watcher !== null,
    };
  }

  /** Stops watching. Lookups keep answering from the last keys (requests in flight may use them). */
  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    this.watcher?.close();
    this.watcher = null;
    this.listeners.clear();
  }

  /** Re-reads the file now. Synchronous: a key file is a few KiB, read a few times a day. */
  check(): void {
    if (this.closed) return;
    let text: string;
    try {
      this.lastSignature = statSignature(statSync(this.file));
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      this.lastSignature = `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
      this.lastText = null;
      this.failed(`cannot read ${this.file}: ${(err as Error).message}`);
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    const parsed = parseApiKeyFile(text);
    if (!parsed.ok) {
      this.failed(`${this.file}: ${formatIssues(parsed.issues)}`);
      return;
    }
    const next = new Map<string, ApiKeyRecord>();
    for (const rec of parsed.records) next.set(rec.digest.toString('base64'), rec);
    this.byDigest = next;
    this.loadedAt = new Date();
    this.lastError = null;
    this.lastErrorAt = null;
    this.log.info({ keys: next.size }, next.size === 0 ? 'API key file loaded with no keys: every key is refused' : 'API key file loaded');
    this.emit({ ok: true, keys: next.size, error: null });
  }

  private failed(error: string): void {
    // The poll finds a missing file every tick: report a problem once, not every 2 s.
    if (error === this.lastError) return;
    this.lastError = error;
    this.lastErrorAt = new Date();
    if (this.loadedAt !== null) {
      this.log.error({ keys: this.byDigest.size, loadedAt: this.loadedAt.toISOString(), err: error }, 'API key file reload failed; keeping the keys loaded before');
    } else {
      this.log.error({ err: error }, 'API key file did not load; requests with API keys get SLUICE_AUTH_UNAVAILABLE until it does');
    }
    this.emit({ ok: false, keys: this.byDigest.size, error });
  }

  private emit(r: ApiKeyReload): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(r);
      } catch (err) {
        this.log.error({ err }, 'API key reload listener threw');
      }
    }
  }

  private startWatch(quiet = false): void {
    const dir = dirname(this.file);
    const name = basename(this.file);
    try {
      this.watcher = watch(dir, { persistent: false }, (_event, changed) => {
        // Only our file and the Secret volume's `..data` symlink (or its tmp name) matter; other
        // files in the folder are other Secret keys. A null name means the platform did not say.
        if (changed !== null && changed !== name && !changed.startsWith('..')) return;
        this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.log.warn({ err }, 'watching the API key folder failed; falling back to the stat poll');
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (err) {
      this.watcher = null;
      if (!quiet) this.log.warn({ err: (err as Error).message }, 'cannot watch the API key folder; relying on the stat poll');
    }
  }

  /** Trailing debounce: an editor or kubelet makes several events per update; read once after. */
  private schedule(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.check();
    }, this.debounceMs);
    this.debounce.unref();
  }

  private pollOnce(): void {
    // The folder may have appeared since (a volume mounted late), or its watch died: retry quietly.
    if (this.watcher === null) this.startWatch(true);
    let sig: string;
    try {
      sig = statSignature(statSync(this.file));
    } catch (err) {
      sig = `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
    if (sig !== this.lastSignature) this.check();
  }
}
