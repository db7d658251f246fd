/**
 * Test support: the msgspec-made payload fixtures in ./fixtures (see
 * hack/kv-events/make-fixtures.py) and the decoded form each must give.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One entry of fixtures/fixtures.json. */
export interface KvEventFixture {
  name: string;
  file: string;
  layout: string;
  description: string;
  /** What decodeKvEventBatch must return for it. */
  expected: unknown;
}

const DIR = join(__dirname, 'fixtures');
let index: KvEventFixture[] | null = null;

/** Every fixture, in the order the generator wrote them. */
export function kvEventFixtures(): KvEventFixture[] {
  index ??= (JSON.parse(readFileSync(join(DIR, 'fixtures.json'), 'utf8')) as { fixtures: KvEventFixture[] }).fixtures;
  return index;
}

/** Payload bytes of the named fixture. */
export function kvEventFixture(name: string): Buffer {
  const f = kvEventFixtures().find((x) => x.name === name);
  if (!f) throw new Error(`no kv-event fixture named ${name}`);
  return readFileSync(join(DIR, f.file));
}
