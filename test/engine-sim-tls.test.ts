/**
 * The engine simulator as an external OpenAI-compatible provider: HTTPS (vLLM's --ssl-keyfile /
 * --ssl-certfile) and a bearer API key (--api-key), started through its CLI as tests start it.
 * Two pods in one process: `signed` serves a leaf from a throwaway CA (the simulator-wide flags),
 * `self` a self-signed certificate (its own pod keys), so a client that trusts the right CA
 * gets through and one that does not fails with the certificate error it should.
 */
import { X509Certificate } from 'node:crypto';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch, request } from 'undici';
import type { SimPodInfo } from '../hack/engine-sim/simulator';
import { startNode, stopAll } from './helpers/processes';
import { testsNeeding } from './helpers/requirements';
import { createTestCert, type TestCert } from './helpers/tls';

const { describe, it, beforeAll, afterAll } = testsNeeding('openssl');

const NET = 74;
const SIGNED_IP = `127.${NET}.0.2`;
const SELF_IP = `127.${NET}.0.3`;
const MODEL = 'provider-model';
const KEY = 'sk-provider-0123456789abcdef';
/** Bounds every request, so a hung connection fails the test instead of the jest timeout. */
const TIMEOUTS = { headersTimeout: 10_000, bodyTimeout: 10_000, connectTimeout: 5_000 };

describe('engine simulator with --api-key and TLS', () => {
  let signed: TestCert;
  let self: TestCert;
  let urls: Record<string, string>;
  const agents: Agent[] = [];
  const agent = (ca?: string): Agent => {
    const a = new Agent({ ...TIMEOUTS, connect: ca ? { ca } : {} });
    agents.push(a);
    return a;
  };
  const get = async (url: string, dispatcher: Agent, headers: Record<string, string> = {}) => {
    const r = await request(url, { dispatcher, headers });
    return { status: r.statusCode, text: await r.body.text() };
  };

  beforeAll(async () => {
    [signed, self] = await Promise.all([createTestCert({ ca: true, ips: [SIGNED_IP] }), createTestCert({ ips: [SELF_IP] })]);
    const { match } = await startNode('hack/engine-sim/main.js', [
      '--api-key', KEY, '--ssl-keyfile', signed.keyFile, '--ssl-certfile', signed.certFile, '--time-scale', '50',
      '--pod', `name=signed,ip=${SIGNED_IP},port=0,model=${MODEL}`,
      '--pod', `name=self,ip=${SELF_IP},port=0,model=${MODEL},ssl-keyfile=${self.keyFile},ssl-certfile=${self.certFile}`,
    ], /engine-sim ready (.*)\n/);
    urls = Object.fromEntries((JSON.parse(match[1]!) as SimPodInfo[]).map((p) => [p.name, p.url]));
  });
  afterAll(async () => {
    await stopAll();
    await Promise.all(agents.map((a) => a.close()));
    signed?.cleanup();
    self?.cleanup();
  });

  it('makes certificates for the asked addresses, self-signed or from a CA', () => {
    const selfCert = new X509Certificate(self.certPem);
    expect(selfCert.subjectAltName).toBe(`IP Address:127.0.0.1, IP Address:${SELF_IP}, DNS:localhost`);
    expect(selfCert.issuer).toBe(selfCert.subject);
    expect(selfCert.verify(selfCert.publicKey)).toBe(true);
    expect(self.caPem).toBe(self.certPem);
    const leaf = new X509Certificate(signed.certPem);
    const ca = new X509Certificate(signed.caPem);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
  });

  it('announces https URLs', () => {
    expect(urls.signed).toMatch(new RegExp(`^https://${SIGNED_IP.replace(/\./g, '\\.')}:\\d+$`));
    expect(urls.self).toMatch(/^https:\/\//);
  });

  it.each([
    ['self', 'self-signed, trusting that certificate'],
    ['signed', 'CA-signed, trusting the CA'],
  ] as const)('serves HTTPS: %s (%s)', async (pod, _how) => {
    const ca = pod === 'self' ? self.caPem : signed.caPem;
    const r = await get(`${urls[pod]}/health`, agent(ca));
    expect(r.status).toBe(200);
  });

  it.each([
    ['a self-signed certificate, trusting nothing extra', 'self', undefined, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
    ['a CA-signed certificate, the CA not trusted', 'signed', undefined, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a CA-signed certificate, another certificate trusted', 'signed', 'self', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  ] as const)('refuses %s', async (_name, pod, trust, code) => {
    const ca = trust === 'self' ? self.caPem : undefined;
    await expect(get(`${urls[pod]}/health`, agent(ca))).rejects.toMatchObject({ code });
  });

  it('serves /metrics over TLS without a key, /v1 only with it', async () => {
    const a = agent(signed.caPem);
    const m = await get(`${urls.signed}/metrics`, a);
    expect(m.status).toBe(200);
    expect(m.text).toContain(`vllm:num_requests_running{model_name="${MODEL}",engine="0"}`);
    const denied = await get(`${urls.signed}/v1/models`, a);
    expect(denied).toEqual({ status: 401, text: '{"error":"Unauthorized"}' });
    const models = await get(`${urls.signed}/v1/models`, a, { authorization: `Bearer ${KEY}` });
    expect(models.status).toBe(200);
    expect(JSON.parse(models.text).data[0].id).toBe(MODEL);
  });

  describe('through the openai client', () => {
    const client = (pod: string, ca: string, apiKey = KEY): OpenAI => {
      const dispatcher = agent(ca);
      return new OpenAI({
        baseURL: `${urls[pod]}/v1`, apiKey, maxRetries: 0, timeout: 10_000,
        // undici's own fetch, so the CA travels with its Agent.
        fetch: (input, init) => undiciFetch(input as string, { ...(init as object), dispatcher }) as unknown as Promise<Response>,
      });
    };

    it('completes', async () => {
      const r = await client('signed', signed.caPem).completions.create({ model: MODEL, prompt: 'hello provider', max_tokens: 9, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
      expect(r.choices[0]!.text.startsWith(`This is simulated message from ${MODEL}!`)).toBe(true);
      expect(r.usage?.completion_tokens).toBe(9);
    });

    it('streams a chat completion', async () => {
      const stream = await client('self', self.caPem).chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: 'stream to me' }], max_tokens: 9, stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      expect(text.startsWith(`This is simulated message from ${MODEL}!`)).toBe(true);
      expect(finish).toBe('length');
      expect(usage?.completion_tokens).toBe(9);
    });

    it('gets an AuthenticationError with a wrong key', async () => {
      const r = client('signed', signed.caPem, 'sk-wrong').completions.create({ model: MODEL, prompt: 'x', max_tokens: 1 });
      await expect(r).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      await expect(r).rejects.toMatchObject({ status: 401, error: 'Unauthorized' });
    });
  });
});
