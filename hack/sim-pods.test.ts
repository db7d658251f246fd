import type { Pod } from '../shared/api/core-types';
import type { ModelServer } from '../shared/api/model-server';
import { simPodsFor, unplayedPods } from './sim-pods';

const server = (pdGroup?: ModelServer['spec']['workloadSelector']['pdGroup']): ModelServer => ({
  apiVersion: 'networking.serving.volcano.sh/v1alpha1',
  kind: 'ModelServer',
  metadata: { name: 'ms', namespace: 'default' },
  spec: { model: 'm', inferenceEngine: 'vLLM', workloadSelector: { matchLabels: { app: 'a' }, ...(pdGroup ? { pdGroup } : {}) } },
}) as ModelServer;

const pod = (name: string, ip: string, labels: Record<string, string>): Pod => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'a', ...labels } }, status: { podIP: ip },
}) as Pod;

describe('simPodsFor', () => {
  const pd = { groupKey: 'example.com/group', prefillLabels: { role: 'P' }, decodeLabels: { role: 'D' } };

  it('derives role and group from the pdGroup labels', () => {
    const pods = simPodsFor({
      routes: [],
      servers: [server(pd)],
      pods: [
        pod('p0', '127.0.0.41', { 'example.com/group': 'group-0', role: 'P' }),
        pod('d0', '127.0.0.42', { 'example.com/group': 'group-0', role: 'D' }),
        pod('x', '127.0.0.43', { role: 'D' }),
        pod('y', '127.0.0.44', { 'example.com/group': 'group-1' }),
      ],
    });
    expect(pods.map((p) => [p.name, p.role, p.group])).toEqual([
      ['p0', 'prefill', 'group-0'],
      ['d0', 'decode', 'group-0'],
      ['x', 'decode', undefined],
      ['y', undefined, 'group-1'],
    ]);
    expect('group' in pods[2]).toBe(false);
  });

  it('gives no role or group without a pdGroup', () => {
    const [p] = simPodsFor({ routes: [], servers: [server()], pods: [pod('p', '127.0.0.2', { 'example.com/group': 'g', role: 'P' })] });
    expect(p).toEqual({ name: 'p', namespace: 'default', ip: '127.0.0.2', port: 8000, model: 'm', engine: 'vllm', loras: [] });
  });
});

describe('unplayedPods', () => {
  const annotated = (p: Pod, annotations: Record<string, string>): Pod => ({ ...p, metadata: { ...p.metadata, annotations } });
  const pool = { apiVersion: 'inference.networking.x-k8s.io/v1alpha2', kind: 'InferencePool', metadata: { name: 'pool', namespace: 'default' }, spec: { selector: { app: 'p' }, targetPortNumber: 8000 } };

  it('names every pod the simulator does not play, and why', () => {
    const objects = {
      routes: [],
      servers: [server()],
      inferencePools: [pool as never],
      pods: [
        pod('played', '127.0.0.2', {}),
        { ...pod('no-ip', '', {}), status: {} },
        annotated(pod('off', '127.0.0.3', {}), { 'sim.sluice.dev/serve': 'false' }),
        pod('orphan', '127.0.0.4', { app: 'other' }),
        pod('pooled', '127.0.0.5', { app: 'p' }),
      ],
    };
    expect(unplayedPods(objects)).toEqual([
      { pod: 'default/no-ip', why: 'it has no status.podIP' },
      { pod: 'default/off', why: 'its annotation sim.sluice.dev/serve is "false"' },
      { pod: 'default/orphan', why: 'no ModelServer selects it' },
      { pod: 'default/pooled', why: 'only InferencePool default/pool selects it, and the simulator plays ModelServer pods only' },
    ]);
    expect(simPodsFor(objects).map((p) => p.name)).toEqual(['played']);
  });
});
