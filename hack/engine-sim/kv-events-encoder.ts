/**
 * Encodes the simulator's KV events exactly as vLLM's msgspec encoder does, byte for byte, in the
 * current map layout (the default) or the older array_like layout (v2: BlockStored ending at
 * lora_name). msgspec writes every integer in its smallest msgpack form, every float as float64,
 * strings as fixstr/str8/str16/str32, bytes as bin8/16/32, and omits fields equal to their default
 * (so extra_keys, group_idx and the cache-spec fields never appear; data_parallel_rank does, as the
 * publisher sets it to the rank, 0 here). Tested against the fixtures made by real msgspec.
 */

/** One event, with engine hashes as raw bytes. */
export type SimKvEvent =
  | { type: 'BlockStored'; blockHashes: Buffer[]; parentBlockHash: Buffer | null; tokenIds: readonly number[]; blockSize: number; loraId: number | null; medium: string | null; loraName: string | null }
  | { type: 'BlockRemoved'; blockHashes: Buffer[]; medium: string | null }
  | { type: 'AllBlocksCleared' };

/** Wire layout: `map` as current vLLM, `array` as vLLM before the switch to maps. */
export type KvEventLayout = 'map' | 'array';

/** A growable byte buffer with msgpack writers. */
class Writer {
  private buf = Buffer.allocUnsafe(1024);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }

  nil(): void {
    this.byte(0xc0);
  }

  float64(v: number): void {
    this.room(9);
    this.buf[this.n] = 0xcb;
    this.buf.writeDoubleBE(v, this.n + 1);
    this.n += 9;
  }

  /** Integer in its smallest form (msgspec's choice): fixint, u8..u64 or i8..i64. */
  int(v: number): void {
    if (!Number.isSafeInteger(v)) throw new Error(`kv-events encoder: ${v} is not a safe integer`);
    this.room(9);
    const b = this.buf;
    if (v >= 0) {
      if (v < 0x80) b[this.n++] = v;
      else if (v < 0x100) (b[this.n++] = 0xcc), (b[this.n++] = v);
      else if (v < 0x10000) (b[this.n] = 0xcd), b.writeUInt16BE(v, this.n + 1), (this.n += 3);
      else if (v < 0x100000000) (b[this.n] = 0xce), b.writeUInt32BE(v, this.n + 1), (this.n += 5);
      else (b[this.n] = 0xcf), b.writeBigUInt64BE(BigInt(v), this.n + 1), (this.n += 9);
    } else if (v >= -32) b[this.n++] = v & 0xff;
    else if (v >= -0x80) (b[this.n] = 0xd0), b.writeInt8(v, this.n + 1), (this.n += 2);
    else if (v >= -0x8000) (b[this.n] = 0xd1), b.writeInt16BE(v, this.n + 1), (this.n += 3);
    else if (v >= -0x80000000) (b[this.n] = 0xd2), b.writeInt32BE(v, this.n + 1), (this.n += 5);
    else (b[this.n] = 0xd3), b.writeBigInt64BE(BigInt(v), this.n + 1), (this.n += 9);
  }

  str(s: string): void {
    const len = Buffer.byteLength(s);
    this.room(len + 5);
    const b = this.buf;
    if (len < 32) b[this.n++] = 0xa0 | len;
    else if (len < 0x100) (b[this.n++] = 0xd9), (b[this.n++] = len);
    else if (len < 0x10000) (b[this.n] = 0xda), b.writeUInt16BE(len, this.n + 1), (this.n += 3);
    else (b[this.n] = 0xdb), b.writeUInt32BE(len, this.n + 1), (this.n += 5);
    this.n += b.write(s, this.n);
  }

  optStr(s: string | null): void {
    if (s === null) this.nil();
    else this.str(s);
  }

  bin(v: Buffer): void {
    this.room(v.length + 5);
    const b = this.buf;
    if (v.length < 0x100) (b[this.n++] = 0xc4), (b[this.n++] = v.length);
    else if (v.length < 0x10000) (b[this.n] = 0xc5), b.writeUInt16BE(v.length, this.n + 1), (this.n += 3);
    else (b[this.n] = 0xc6), b.writeUInt32BE(v.length, this.n + 1), (this.n += 5);
    v.copy(b, this.n);
    this.n += v.length;
  }

  /** Header of an array (`map` false) or a map of `len` entries. */
  header(len: number, map: boolean): void {
    this.room(5);
    const b = this.buf;
    if (len < 16) b[this.n++] = (map ? 0x80 : 0x90) | len;
    else if (len < 0x10000) (b[this.n] = map ? 0xde : 0xdc), b.writeUInt16BE(len, this.n + 1), (this.n += 3);
    else (b[this.n] = map ? 0xdf : 0xdd), b.writeUInt32BE(len, this.n + 1), (this.n += 5);
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.n));
  }
}

/** Writes one struct: `fields` in declaration order, tag first, as a map or a tagged array. */
function struct(w: Writer, map: boolean, tag: string | null, fields: Array<[string, () => void]>): void {
  w.header(fields.length + (tag === null ? 0 : 1), map);
  if (tag !== null) {
    if (map) w.str('type');
    w.str(tag);
  }
  for (const [name, write] of fields) {
    if (map) w.str(name);
    write();
  }
}

function hashList(w: Writer, hs: Buffer[]): void {
  w.header(hs.length, false);
  for (const h of hs) w.bin(h);
}

function event(w: Writer, map: boolean, e: SimKvEvent): void {
  switch (e.type) {
    case 'BlockStored':
      return struct(w, map, e.type, [
        ['block_hashes', () => hashList(w, e.blockHashes)],
        ['parent_block_hash', () => (e.parentBlockHash === null ? w.nil() : w.bin(e.parentBlockHash))],
        ['token_ids', () => {
          w.header(e.tokenIds.length, false);
          for (const t of e.tokenIds) w.int(t);
        }],
        ['block_size', () => w.int(e.blockSize)],
        ['lora_id', () => (e.loraId === null ? w.nil() : w.int(e.loraId))],
        ['medium', () => w.optStr(e.medium)],
        ['lora_name', () => w.optStr(e.loraName)],
      ]);
    case 'BlockRemoved':
      return struct(w, map, e.type, [
        ['block_hashes', () => hashList(w, e.blockHashes)],
        ['medium', () => w.optStr(e.medium)],
      ]);
    case 'AllBlocksCleared':
      return struct(w, map, e.type, []);
  }
}

/** msgpack bytes of KVEventBatch(ts, events, data_parallel_rank) as vLLM sends them. */
export function encodeKvEventBatch(ts: number, events: readonly SimKvEvent[], dpRank: number, layout: KvEventLayout = 'map'): Buffer {
  const w = new Writer();
  const map = layout === 'map';
  struct(w, map, null, [
    ['ts', () => w.float64(ts)],
    ['events', () => {
      w.header(events.length, false);
      for (const e of events) event(w, map, e);
    }],
    ['data_parallel_rank', () => w.int(dpRank)],
  ]);
  return w.done();
}
