import type { ProviderEntry } from '../routing/routing-table';
import { parseCredentials } from './credentials';
import { providerRequest } from './provider-request';

const entry = (baseURL: string, extra: Partial<ProviderEntry['spec']> = {}): ProviderEntry => {
  const url = new URL(baseURL);
  return {
    key: 'default/p',
    spec: { key: 'default/p', type: 'OpenAI', baseURL, insecureSkipVerify: false, headers: { 'openai-organization': 'org-1' }, ...extra },
    endpoint: null as never,
    basePath: url.pathname.replace(/\/+$/, ''),
    target: { key: 'default/p', kind: 'ExternalModelProvider', spec: { retry: { attempts: 0, intervalMs: 0 } } },
  };
};
const client = {
  'content-type': 'application/json', accept: 'text/event-stream', authorization: 'Bearer client-key', cookie: 'session=1', 'x-api-key': 'k',
  'x-request-id': 'req-1', traceparent: '00-abc-def-01', 'accept-encoding': 'gzip', 'user-type': 'premium', host: 'sluice', 'openai-organization': 'evil',
};

describe('providerRequest', () => {
  it('joins the base URL\'s path with the client\'s path without /v1', () => {
    const json = { model: 'm' };
    const raw = Buffer.from(JSON.stringify(json));
    expect(providerRequest(entry('https://api.example.com/v1'), '/v1/chat/completions', {}, json, raw, null).path).toBe('/v1/chat/completions');
    expect(providerRequest(entry('https://api.deepseek.com'), '/v1/chat/completions', {}, json, raw, null).path).toBe('/chat/completions');
    expect(providerRequest(entry('https://generativelanguage.googleapis.com/v1beta/openai'), '/v1/completions', {}, json, raw, null).path).toBe('/v1beta/openai/completions');
  });

  it('passes only content and correlation headers, adds static ones, and sends the credential last', () => {
    const json = { model: 'deepseek', prompt: 'hi' };
    const raw = Buffer.from(JSON.stringify(json));
    const out = providerRequest(entry('https://api.example.com/v1'), '/v1/completions', client, json, raw, 'sk-provider');
    expect(out.headers).toEqual({
      'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': 'req-1', traceparent: '00-abc-def-01',
      'openai-organization': 'org-1', authorization: 'Bearer sk-provider', 'content-length': String(raw.length),
    });
    // The raw bytes go unchanged when the model is not renamed (numbers and unknown fields intact).
    expect(out.body).toBe(raw);
    expect(providerRequest(entry('https://api.example.com/v1'), '/v1/completions', client, json, raw, null).headers.authorization).toBeUndefined();
  });

  it('renames the model when the provider sets one, and nothing else', () => {
    const json = { model: 'deepseek', prompt: 'hi', max_tokens: 8, extra_body: { top_k: 5 } };
    const out = providerRequest(entry('https://api.example.com', { model: 'deepseek-chat' }), '/v1/completions', {}, json, Buffer.from(JSON.stringify(json)), null);
    expect(JSON.parse(out.body.toString())).toEqual({ ...json, model: 'deepseek-chat' });
    expect(out.headers['content-length']).toBe(String(out.body.length));
    expect(json.model).toBe('deepseek');
  });
});

describe('parseCredentials', () => {
  it('takes versions and values, and refuses bad ones without repeating the value', () => {
    expect(parseCredentials(undefined)).toEqual({ ok: true, values: new Map() });
    expect(parseCredentials([{ version: '0123456789abcdef', value: 'sk-1' }])).toEqual({ ok: true, values: new Map([['0123456789abcdef', 'sk-1']]) });
    const bad = parseCredentials([{ version: 'xyz', value: 'a' }, { version: '0123456789abcdef', value: 'sk-secret\nInjected: 1' }]);
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).not.toContain('sk-secret');
    expect((bad as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(['credentials[0].version', 'credentials[1].value']);
    expect(parseCredentials({})).toMatchObject({ ok: false });
  });
});
