import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EngineTokenizer, planTokenize } from './engine-tokenizer';

/** A loopback server that records /tokenize bodies and answers with `reply`. */
async function server(reply: (body: Record<string, unknown>, res: http.ServerResponse) => void): Promise<{ origin: string; bodies: Record<string, unknown>[]; close: () => Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const s = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const body = JSON.parse(data) as Record<string, unknown>;
      bodies.push({ path: req.url, ...body });
      reply(body, res);
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return {
    origin, bodies,
    close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }),
  };
}

const vllmLike = (body: Record<string, unknown>, res: http.ServerResponse): void => {
  const tokens = typeof body.prompt === 'string' ? [...body.prompt].map((c) => c.charCodeAt(0)) : [1, 2, 3];
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ count: tokens.length, max_model_len: 32768, tokens }));
};

describe('planTokenize', () => {
  it.each([
    ['completions', { model: 'm', prompt: 'hi', max_tokens: 5 }, { model: 'm', prompt: 'hi' }],
    ['one-element prompt list', { model: 'm', prompt: ['hi'] }, { model: 'm', prompt: 'hi' }],
    ['chat', { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true },
      { model: 'm', messages: [{ role: 'user', content: 'x' }], add_generation_prompt: true }],
    ['chat keeping request flags', { model: 'm', messages: [], add_generation_prompt: false, tools: [], add_special_tokens: true },
      { model: 'm', add_special_tokens: true, messages: [], add_generation_prompt: false, tools: [] }],
  ])('%s', (_name, body, request) => {
    const p = planTokenize(body);
    expect(p !== null && 'request' in p ? p.request : p).toEqual(request);
  });

  it.each([
    ['several prompts', { prompt: ['a', 'b'] }],
    ['embeddings', { input: 'a' }],
    ['no prompt', { model: 'm' }],
  ])('%s gives null', (_name, body) => {
    expect(planTokenize(body)).toBeNull();
  });

  it('token-id prompts need no call', () => {
    const p = planTokenize({ prompt: [5, 6] });
    expect(p !== null && 'ids' in p ? Array.from(p.ids) : p).toEqual([5, 6]);
  });
});

describe('EngineTokenizer', () => {
  it('sends vLLM bodies and caches answers by model and prompt', async () => {
    const srv = await server(vllmLike);
    const t = new EngineTokenizer();
    try {
      expect(Array.from((await t.tokens(srv.origin, { model: 'm', prompt: 'ab' }))!)).toEqual([97, 98]);
      expect(Array.from((await t.tokens(srv.origin, { model: 'm', prompt: 'ab' }))!)).toEqual([97, 98]);
      await t.tokens(srv.origin, { model: 'other', prompt: 'ab' });
      expect(Array.from((await t.tokens(srv.origin, { model: 'm', messages: [{ role: 'user', content: 'x' }] }))!)).toEqual([1, 2, 3]);
      expect(srv.bodies).toEqual([
        { path: '/tokenize', model: 'm', prompt: 'ab' },
        { path: '/tokenize', model: 'other', prompt: 'ab' },
        { path: '/tokenize', model: 'm', messages: [{ role: 'user', content: 'x' }], add_generation_prompt: true },
      ]);
      expect(t.stats()).toMatchObject({ requests: 3, failures: 0, cacheHits: 1 });
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('gives null within the deadline when the engine hangs', async () => {
    const srv = await server(() => undefined); // never answers
    const t = new EngineTokenizer({ timeoutMs: 100 });
    try {
      const t0 = Date.now();
      expect(await t.tokens(srv.origin, { prompt: 'x' })).toBeNull();
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(t.stats().failures).toBe(1);
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it.each([
    ['an error status', (_b: Record<string, unknown>, res: http.ServerResponse) => { res.writeHead(400); res.end('{"error":{}}'); }],
    ['a body over the cap', (_b: Record<string, unknown>, res: http.ServerResponse) => { res.end(JSON.stringify({ tokens: new Array(5000).fill(1) })); }],
    ['no tokens field', (_b: Record<string, unknown>, res: http.ServerResponse) => { res.end('{"count":1}'); }],
    ['bad JSON', (_b: Record<string, unknown>, res: http.ServerResponse) => { res.end('{'); }],
  ])('gives null (never throws) on %s', async (_name, reply) => {
    const srv = await server(reply);
    const t = new EngineTokenizer({ maxResponseBytes: 1000 });
    try {
      expect(await t.tokens(srv.origin, { prompt: 'x' })).toBeNull();
    } finally {
      await t.close();
      await srv.close();
    }
  });

  it('gives null when nothing listens', async () => {
    const t = new EngineTokenizer({ timeoutMs: 200 });
    try {
      expect(await t.tokens('http://127.0.0.1:1', { prompt: 'x' })).toBeNull();
    } finally {
      await t.close();
    }
  });
});
