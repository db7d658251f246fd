/**
 * Decoder of vLLM's KV-cache event payloads (the third frame of each ZMQ message), as
 * vllm/distributed/kv_events.py encodes them with msgspec:
 *
 *   KVEventBatch(ts: float, events: list, data_parallel_rank: int | None = None)
 *   BlockStored(block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium, lora_name,
 *               extra_keys=None, group_idx=None, kv_cache_spec_kind=None,
 *               kv_cache_spec_sliding_window=None)
 *   BlockRemoved(block_hashes, medium, group_idx=None)
 *   AllBlocksCleared()
 *
 * Structs are tagged (tag = class name) and omit defaults. Older vLLM encodes them array_like
 * ([tag, field...] in declaration order, BlockStored ending at lora_id, medium or lora_name), newer
 * vLLM as maps with the tag in a "type" field, and one generation mixed an array batch with map
 * events; all are accepted, as are fields this decoder does not know (later vLLM adds some).
 *
 * Engine block hashes are normalised to strings: ints (Python hash(), or the low 64 bits of
 * sha256 with VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES) in decimal, exact also beyond 2^53 (msgpack
 * 64-bit ints are read as BigInt); bytes (sha256, 32 bytes) as "0x" + lowercase hex, readable in
 * debug dumps. The two forms cannot collide (a decimal never contains "x").
 *
 * Limits: a payload over MAX_KV_EVENT_PAYLOAD_BYTES, a block_size outside 1..MAX_BLOCK_SIZE, or a
 * BlockStored whose token_ids are not block_size x len(block_hashes) is rejected with an Error
 * naming the problem; the caller counts and drops the batch. Unknown event tags are skipped and
 * counted in `unknownEvents`.
 */
import { Unpackr } from 'msgpackr';

/** Largest payload accepted: 16 MiB, ~60k blocks of 16 tokens in one batch, far above one engine step. */
export const MAX_KV_EVENT_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Largest block_size accepted (vLLM's are 1..256 in practice). */
export const MAX_BLOCK_SIZE = 65_536;

/** Blocks newly cached by the engine, in chain order. */
export interface KvBlockStored {
  type: 'BlockStored';
  /** Engine hashes of the blocks, normalised (see the file header). */
  blockHashes: string[];
  /** Engine hash of the block before the first one, or null when the first starts a sequence. */
  parentBlockHash: string | null;
  /** Token ids of all the blocks: blockSize x blockHashes.length of them. */
  tokenIds: number[];
  blockSize: number;
  /** vLLM's numeric adapter id (deprecated upstream in favour of loraName). */
  loraId: number | null;
  /** Adapter name; null for the base model or an engine too old to send it. */
  loraName: string | null;
  /** Storage tier ("GPU", "CPU", ...); null when the engine does not say. */
  medium: string | null;
  /** KV-cache group (hybrid models have several); null when the engine does not say. */
  groupIdx: number | null;
}

/** Blocks the engine dropped from its cache. */
export interface KvBlockRemoved {
  type: 'BlockRemoved';
  blockHashes: string[];
  medium: string | null;
  groupIdx: number | null;
}

/** The engine emptied its prefix cache (reset_prefix_cache). */
export interface KvAllBlocksCleared {
  type: 'AllBlocksCleared';
}

/** One decoded event. */
export type KvEvent = KvBlockStored | KvBlockRemoved | KvAllBlocksCleared;

/** One decoded KVEventBatch. */
export interface KvEventBatch {
  /** Engine wall-clock time of the batch, seconds since the epoch. */
  ts: number;
  events: KvEvent[];
  /** data_parallel_rank, or null when absent. */
  dpRank: number | null;
  /** Events with a tag this decoder does not know, skipped. */
  unknownEvents: number;
}

// int64AsType 'bigint': 64-bit msgpack ints (hashes above 2^32, negative Python hashes) stay exact.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function fail(what: string): never {
  throw new Error(`kv-event payload: ${what}`);
}

function hashKey(v: unknown, where: string): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(`${where} is a non-integer number`);
    return String(v);
  }
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) {
    if (v.length === 0 || v.length > 64) fail(`${where} has ${v.length} bytes (want 1..64)`);
    return '0x' + Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
  }
  return fail(`${where} is ${describe(v)}, want int or bytes`);
}

function hashList(v: unknown, where: string): string[] {
  if (!Array.isArray(v)) fail(`${where} is ${describe(v)}, want an array`);
  const out = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = hashKey(v[i], `${where}[${i}]`);
  return out;
}

function optInt(v: unknown, where: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  return fail(`${where} is ${describe(v)}, want int or null`);
}

function optStr(v: unknown, where: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  return fail(`${where} is ${describe(v)}, want str or null`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? 'a map' : `a ${typeof v}`;
}

function tokenList(v: unknown, where: string): number[] {
  if (!Array.isArray(v)) fail(`${where} is ${describe(v)}, want an array`);
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    // Token ids are vocabulary indices: non-negative and below 2^32.
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffffffff) fail(`${where}[${i}] is not a token id`);
  }
  return v as number[];
}

/** Fields of BlockStored by position after the tag (array_like layout) and by name (map layout). */
const STORED_FIELDS = ['block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id', 'medium', 'lora_name', 'extra_keys', 'group_idx'] as const;
const REMOVED_FIELDS = ['block_hashes', 'medium', 'group_idx'] as const;

/** Field lookup over either layout: `at(name)` gives the field's value or undefined. */
function fieldsOf(ev: unknown[] | Obj, names: readonly string[]): (name: string) => unknown {
  if (!Array.isArray(ev)) return (name) => ev[name];
  return (name) => ev[names.indexOf(name) + 1];
}

function decodeStored(at: (name: string) => unknown, where: string, required: (name: string) => boolean): KvBlockStored {
  for (const f of ['block_hashes', 'parent_block_hash', 'token_ids', 'block_size']) {
    if (!required(f)) fail(`${where}.${f} is missing`);
  }
  const blockHashes = hashList(at('block_hashes'), `${where}.block_hashes`);
  const parent = at('parent_block_hash');
  const tokenIds = tokenList(at('token_ids'), `${where}.token_ids`);
  const blockSize = at('block_size');
  if (typeof blockSize !== 'number' || !Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK_SIZE) {
    fail(`${where}.block_size is ${String(blockSize)}, want an integer in 1..${MAX_BLOCK_SIZE}`);
  }
  if (tokenIds.length !== blockSize * blockHashes.length) {
    fail(`${where}: ${tokenIds.length} token_ids for ${blockHashes.length} blocks of ${blockSize}`);
  }
  return {
    type: 'BlockStored', blockHashes,
    parentBlockHash: parent === null ? null : hashKey(parent, `${where}.parent_block_hash`),
    tokenIds, blockSize,
    loraId: optInt(at('lora_id'), `${where}.lora_id`),
    medium: optStr(at('medium'), `${where}.medium`),
    loraName: optStr(at('lora_name'), `${where}.lora_name`),
    groupIdx: optInt(at('group_idx'), `${where}.group_idx`),
  };
}

/** Decode one event; null for an unknown tag. */
function decodeEvent(ev: unknown, where: string): KvEvent | null {
  let tag: unknown;
  let fields: unknown[] | Obj;
  if (Array.isArray(ev)) {
    tag = ev[0];
    fields = ev;
  } else if (isObj(ev)) {
    tag = ev.type;
    fields = ev;
  } else {
    return fail(`${where} is ${describe(ev)}, want an array or a map`);
  }
  if (typeof tag !== 'string') fail(`${where} has no string tag`);
  const has = (names: readonly string[]) => (name: string): boolean =>
    Array.isArray(fields) ? names.indexOf(name) + 1 < fields.length : name in fields;
  switch (tag) {
    case 'BlockStored':
      return decodeStored(fieldsOf(fields, STORED_FIELDS), `${where}(BlockStored)`, has(STORED_FIELDS));
    case 'BlockRemoved': {
      const at = fieldsOf(fields, REMOVED_FIELDS);
      if (!has(REMOVED_FIELDS)('block_hashes')) fail(`${where}(BlockRemoved).block_hashes is missing`);
      return {
        type: 'BlockRemoved',
        blockHashes: hashList(at('block_hashes'), `${where}(BlockRemoved).block_hashes`),
        medium: optStr(at('medium'), `${where}(BlockRemoved).medium`),
        groupIdx: optInt(at('group_idx'), `${where}(BlockRemoved).group_idx`),
      };
    }
    case 'AllBlocksCleared':
      return { type: 'AllBlocksCleared' };
    default:
      return null;
  }
}

/** Decode one payload frame into a batch; throws an Error naming the problem when it is malformed. */
export function decodeKvEventBatch(payload: Uint8Array): KvEventBatch {
  if (payload.length > MAX_KV_EVENT_PAYLOAD_BYTES) fail(`${payload.length} bytes exceeds the ${MAX_KV_EVENT_PAYLOAD_BYTES}-byte limit`);
  if (payload.length === 0) fail('empty');
  let raw: unknown;
  try {
    raw = unpackr.unpack(payload);
  } catch (e) {
    return fail(`not msgpack (${(e as Error).message})`);
  }
  let ts: unknown;
  let events: unknown;
  let dp: unknown;
  if (Array.isArray(raw)) [ts, events, dp] = raw;
  else if (isObj(raw)) ({ ts, events, data_parallel_rank: dp } = raw);
  else return fail(`batch is ${describe(raw)}, want an array or a map`);
  if (typeof ts !== 'number') fail(`ts is ${describe(ts)}, want a float`);
  if (!Array.isArray(events)) fail(`events is ${describe(events)}, want an array`);
  const out: KvEvent[] = [];
  let unknownEvents = 0;
  for (let i = 0; i < events.length; i++) {
    const ev = decodeEvent(events[i], `events[${i}]`);
    if (ev === null) unknownEvents++;
    else out.push(ev);
  }
  return { ts, events: out, dpRank: optInt(dp, 'data_parallel_rank'), unknownEvents };
}
