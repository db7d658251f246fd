import type { ConfigMap } from '../api/core-types';
import type { ModelServer } from '../api/model-server';
import { validateObject } from '../api/validate';
import { compileSnapshot } from './compile';
import { validateSnapshot } from './validate-snapshot';

const server = (name: string, annotations: Record<string, string> = {}): ModelServer => {
  const r = validateObject({
    apiVersion: 'networking.serving.volcano.sh/v1alpha1', kind: 'ModelServer', metadata: { name, namespace: 'default', annotations },
    spec: { inferenceEngine: 'vLLM', model: 'm', workloadSelector: { matchLabels: { app: name } } },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.object as ModelServer;
};
/** Kthena's router ConfigMap with Least Request + KVCacheAware, as the seed's best row. */
const preciseConfig: ConfigMap = {
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kthena-router-config', namespace: 'default' },
  data: {
    schedulerConfiguration: [
      'pluginConfig:', '- name: kvcache-aware', '  args:', '    blockSizeToHash: 128', '    maxBlocksToMatch: 64',
      'plugins:', '  Score:', '    enabled:', '    - name: least-request', '      weight: 1', '    - name: kvcache-aware', '      weight: 1',
    ].join('\n'),
  },
};
const cfg = { version: 1, generatedAt: '2026-01-01T00:00:00Z', routerConfigNamespace: 'default' };
const compile = (servers: ModelServer[], configMaps: ConfigMap[] = [preciseConfig]) => compileSnapshot({ routes: [], pods: [], servers, configMaps }, cfg);
const condition = (r: ReturnType<typeof compile>, name: string) =>
  r.statuses.get(`ModelServer/default/${name}`)!.conditions.find((c) => c.type === 'KvEventsConfigured');

describe('KV-event and tokenizer annotations', () => {
  it('carries the events and the tokenizer when the scheduler has kvcache-aware, with its args normalised', () => {
    const r = compile([server('s', { 'sluice.dev/kv-events-port': '5557', 'sluice.dev/kv-events-replay-port': '5558', 'sluice.dev/kv-events-topic': 'kv@', 'sluice.dev/tokenizer': '/tok/qwen3' })]);
    const s = r.snapshot.servers[0]!;
    expect(s.kvEvents).toEqual({ port: 5557, replayPort: 5558, topic: 'kv@' });
    expect(s.tokenizer).toEqual({ kind: 'file', path: '/tok/qwen3' });
    const plugin = r.snapshot.schedulers[s.scheduler]!.plugins.find((p) => p.type === 'kvcache-aware' || p.type === 'precise-prefix-cache-scorer');
    expect(plugin?.parameters).toMatchObject({ maxPrefixBlocksToMatch: 64, fallback: 'approximate' });
    expect(condition(r, 's')).toMatchObject({ status: 'True', reason: 'Subscribed' });
    expect(condition(r, 's')!.message).toContain('tcp://<pod IP>:5557');
    expect(validateSnapshot(r.snapshot).ok).toBe(true);
  });

  it('defaults the tokenizer to the engine and says so', () => {
    const r = compile([server('s', { 'sluice.dev/kv-events-port': '5557' })]);
    expect(r.snapshot.servers[0]!.tokenizer).toEqual({ kind: 'engine' });
    expect(condition(r, 's')!.message).toContain('POST /tokenize');
  });

  it('tells a user whose precise scorer has no events what to set, and still tokenizes (fallback is approximate)', () => {
    const r = compile([server('s')]);
    expect(r.snapshot.servers[0]!.kvEvents).toBeUndefined();
    expect(condition(r, 's')).toMatchObject({ status: 'False', reason: 'NoEvents' });
    expect(condition(r, 's')!.message).toContain('sluice.dev/kv-events-port');
  });

  it('does not subscribe when no scorer reads the events', () => {
    const r = compile([server('s', { 'sluice.dev/kv-events-port': '5557' })], []);
    expect(r.snapshot.servers[0]!.kvEvents).toBeUndefined();
    expect(r.snapshot.servers[0]!.tokenizer).toBeUndefined();
    expect(condition(r, 's')).toMatchObject({ status: 'True', reason: 'NotUsed' });
  });

  it('reports no condition for a server that uses neither', () => {
    expect(condition(compile([server('s')], []), 's')).toBeUndefined();
  });

  it.each([
    ['a port out of range', { 'sluice.dev/kv-events-port': '70000' }, 'metadata.annotations["sluice.dev/kv-events-port"]'],
    ['a port that is not a number', { 'sluice.dev/kv-events-port': 'zmq' }, 'metadata.annotations["sluice.dev/kv-events-port"]'],
    ['a relative tokenizer path', { 'sluice.dev/kv-events-port': '5557', 'sluice.dev/tokenizer': 'tokenizers/qwen3' }, 'metadata.annotations["sluice.dev/tokenizer"]'],
    ['replay on the events port', { 'sluice.dev/kv-events-port': '5557', 'sluice.dev/kv-events-replay-port': '5557' }, 'metadata.annotations["sluice.dev/kv-events-replay-port"]'],
    ['a replay port without events', { 'sluice.dev/kv-events-replay-port': '5558' }, 'metadata.annotations["sluice.dev/kv-events-replay-port"]'],
  ])('refuses %s with the annotation named, and keeps scoring approximately', (_name, annotations, path) => {
    const r = compile([server('s', annotations)]);
    const c = condition(r, 's')!;
    expect(c).toMatchObject({ status: 'False', reason: 'InvalidAnnotations' });
    expect(c.message).toContain(path);
    expect(r.snapshot.servers[0]!.kvEvents).toBeUndefined();
  });

  it('changes the snapshot hash when only the events settings change', () => {
    const a = compile([server('s', { 'sluice.dev/kv-events-port': '5557' })]).snapshot.hash;
    const b = compile([server('s', { 'sluice.dev/kv-events-port': '5559' })]).snapshot.hash;
    expect(a).not.toBe(b);
  });
});
