import type { ServerEntry } from '../routing/routing-table';
import type { Endpoint } from './endpoint-registry';
import { MAX_PAIRS, pairOrder, prefillBody, protocolOf } from './pd-forwarder';

const ep = (pod: string) => ({ pod, origin: `http://10.0.0.${pod.length}:8000` }) as unknown as Endpoint;

describe('pairOrder', () => {
  const [p1, p2, p3, d1, d2, d3] = ['p1', 'p2', 'p3', 'd1', 'd2', 'd3'].map(ep) as [Endpoint, Endpoint, Endpoint, Endpoint, Endpoint, Endpoint];
  const groupOf = new Map<Endpoint, string>([[p1, 'a'], [p2, 'b'], [p3, 'a'], [d1, 'a'], [d2, 'b'], [d3, 'c']]);

  it('pairs each decode pod, in decode order, with the prefill pods of its group in prefill order', () => {
    const pairs = pairOrder([d2, d1, d3], [p3, p2, p1], groupOf).map((p) => `${p.prefill.pod}>${p.decode.pod}`);
    expect(pairs).toEqual(['p2>d2', 'p3>d1', 'p1>d1']);
  });

  it('never pairs across groups and skips a decode pod whose group has no prefill pod', () => {
    expect(pairOrder([d3], [p1, p2, p3], groupOf)).toEqual([]);
  });

  it(`keeps at most ${MAX_PAIRS} pairs`, () => {
    const ps = Array.from({ length: 8 }, (_, i) => ep(`p${i}x`));
    const g = new Map<Endpoint, string>([[d1, 'a'], ...ps.map((p) => [p, 'a'] as [Endpoint, string])]);
    expect(pairOrder([d1], ps, g)).toHaveLength(MAX_PAIRS);
  });
});

describe('connector bodies', () => {
  const body = { model: 'm', prompt: 'hi', max_tokens: 64, stream: true, stream_options: { include_usage: true } };

  it.each([
    ['http', 'vLLM', 'http'],
    ['lmcache', 'vLLM', 'http'],
    ['nixl', 'vLLM', 'nixl'],
    ['mooncake', 'vLLM', 'nixl'],
    [undefined, 'vLLM', 'http'],
    ['nixl', 'SGLang', 'sglang'],
  ])('kvConnector %s on %s speaks %s', (kvConnector, engine, protocol) => {
    expect(protocolOf({ spec: { kvConnector, engine } } as unknown as ServerEntry)).toBe(protocol);
  });

  it('http and lmcache send the original body', () => {
    expect(prefillBody('http', body, null)).toBe(body);
  });

  it('nixl and mooncake prefill with max_tokens 1, no stream and kv_transfer_params asking for a remote decode', () => {
    expect(prefillBody('nixl', body, null)).toEqual({
      model: 'm', prompt: 'hi', max_tokens: 1, stream: false,
      kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null },
    });
    expect(prefillBody('nixl', { ...body, max_completion_tokens: 9 }, null)).toMatchObject({ max_completion_tokens: 1 });
    expect(body.stream).toBe(true); // the client's body is not changed
  });

  it('SGLang adds the bootstrap fields to the original body', () => {
    const b = { bootstrap_host: '10.0.0.7', bootstrap_port: 8998, bootstrap_room: 42 };
    expect(prefillBody('sglang', body, b)).toEqual({ ...body, ...b });
  });
});
