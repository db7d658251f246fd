import { pack } from 'msgpackr';
import { decodeKvEventBatch, MAX_KV_EVENT_PAYLOAD_BYTES } from './kv-event-decoder';
import { kvEventFixture as fixture, kvEventFixtures } from './kv-event-fixtures';

const FIXTURES = kvEventFixtures();

describe('decodeKvEventBatch on msgspec fixtures', () => {
  it('covers every layout', () => {
    expect(new Set(FIXTURES.map((f) => f.layout))).toEqual(new Set(['v0-array', 'v1-array', 'v2-array', 'mixed', 'current']));
  });

  it.each(FIXTURES.map((f) => [f.name, f] as const))('%s decodes to exactly the expected fields', (_name, f) => {
    expect(decodeKvEventBatch(fixture(f.name))).toEqual(f.expected);
  });

  it.each([
    ['negative i64 hash', 'v0-int-hashes', '-6917529027641081856'],
    ['int above 2^53 kept exact', 'v0-int-hashes', '9007199254740993'],
    ['u64 maximum', 'v1-u64-hashes', '18446744073709551615'],
    ['sha256 bytes as hex', 'v1-bytes-dp-rank', '0xca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'],
  ])('normalises a %s', (_what, name, key) => {
    const batch = decodeKvEventBatch(fixture(name));
    const keys = batch.events.flatMap((e) => (e.type === 'AllBlocksCleared' ? [] : e.blockHashes));
    expect(keys).toContain(key);
  });
});

describe('decodeKvEventBatch rejects malformed payloads', () => {
  const stored = (over: Record<string, unknown>): Record<string, unknown> => ({
    type: 'BlockStored', block_hashes: [1, 2], parent_block_hash: null, token_ids: [1, 2, 3, 4], block_size: 2,
    lora_id: null, medium: 'GPU', lora_name: null, ...over,
  });
  const batch = (events: unknown[]): Buffer => pack({ ts: 1.5, events });

  it.each([
    ['empty payload', Buffer.alloc(0), /empty/],
    ['not msgpack (str8 header with 5 bytes, 1 present)', Buffer.from([0xd9, 0x05, 0x61]), /not msgpack/],
    ['truncated', fixture('current-bytes').subarray(0, 100), /not msgpack/],
    ['batch a string', pack('hello'), /batch is a string/],
    ['ts missing', pack({ events: [] }), /ts is missing/],
    ['events not a list', pack({ ts: 1, events: 3 }), /events is a number/],
    ['event a number', batch([7]), /events\[0\] is a number/],
    ['event without tag', batch([{ block_hashes: [] }]), /no string tag/],
    ['token count mismatch', batch([stored({ token_ids: [1, 2, 3] })]), /3 token_ids for 2 blocks of 2/],
    ['block_size zero', batch([stored({ block_size: 0, token_ids: [] })]), /block_size is 0/],
    ['hash a string', batch([stored({ block_hashes: ['ab', 2] })]), /block_hashes\[0\] is a string/],
    ['hash a float', batch([stored({ block_hashes: [1.5, 2] })]), /non-integer/],
    ['negative token id', batch([stored({ token_ids: [1, -2, 3, 4] })]), /token_ids\[1\] is not a token id/],
    ['medium a number', batch([stored({ medium: 3 })]), /medium is a number/],
    ['required field missing', batch([{ type: 'BlockStored', block_hashes: [], token_ids: [], block_size: 2 }]), /parent_block_hash is missing/],
    ['removed without hashes', batch([{ type: 'BlockRemoved', medium: null }]), /block_hashes is missing/],
    ['array event too short', pack([1.0, [['BlockStored', [1], null]]]), /token_ids is missing/],
  ])('%s', (_what, payload, message) => {
    expect(() => decodeKvEventBatch(payload)).toThrow(message);
  });

  it('rejects a payload over the size limit before decoding it', () => {
    expect(() => decodeKvEventBatch(Buffer.alloc(MAX_KV_EVENT_PAYLOAD_BYTES + 1))).toThrow(/exceeds/);
  });
});
