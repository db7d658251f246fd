import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runGspClient } from './gsp-client';
import { generateWorkload, promptOf, type GspSpec } from './gsp-workload';

/** A stand-in data plane: answers every completion with one text chunk, a sim/usage chunk and [DONE]. */
function fakeDataPlane(name: string, outputTokens: number, prompts: string[]): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      const prompt = (JSON.parse(body) as { prompt: string }).prompt;
      prompts.push(prompt);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ text: 'x' }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ choices: [{ text: '' }], sim: { pod: name }, usage: { completion_tokens: outputTokens, prompt_tokens: prompt.length } })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe('gsp client with several data planes', () => {
  const spec: GspSpec = { groups: 3, perGroup: 4, systemTokens: 6, questionTokens: 3, outputTokens: 5, seed: 7 };
  const servers: Server[] = [];
  afterAll(async () => { await Promise.all(servers.map((s) => new Promise((r) => s.close(r)))); });

  it.each([1, 2, 3])('%p origins: request i goes to origin i mod N, all succeed, prompt lengths recorded', async (n) => {
    const received: string[][] = Array.from({ length: n }, () => []);
    const planes = await Promise.all(received.map((prompts, k) => fakeDataPlane(`dp-${k}`, spec.outputTokens, prompts)));
    servers.push(...planes.map((p) => p.server));
    const r = await runGspClient({
      origins: planes.map((p) => p.origin), model: 'm', spec, rate: 1e6, concurrency: 4, timeScale: 1, requestTimeoutMs: 5_000, deadlineMs: 10_000,
    });
    expect(r.ok).toBe(12);
    const w = generateWorkload(spec);
    for (let k = 0; k < n; k++) {
      const want = w.requests.filter((_, i) => i % n === k).map((q) => promptOf(w, q));
      expect(received[k]!.slice().sort()).toEqual(want.slice().sort());
    }
    expect(r.columns.promptTokens).toEqual(w.requests.map((q) => promptOf(w, q).length));
  });
});
