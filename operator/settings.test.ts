import { parseOperatorSettings } from './settings';

describe('operator settings: router config namespace', () => {
  it.each([
    ['Kubernetes mode: the operator namespace', ['--kube', '--namespace', 'ops'], {}, 'ops'],
    ['Kubernetes mode: SLUICE_NAMESPACE', ['--kube'], { SLUICE_NAMESPACE: 'from-env' }, 'from-env'],
    ['directory source: default, where objects without a namespace land', ['--watch-dir', '/tmp/x'], {}, 'default'],
    ['the flag wins', ['--kube', '--namespace', 'ops', '--router-config-namespace', 'cfg'], {}, 'cfg'],
    ['the environment twin', ['--watch-dir', '/tmp/x'], { SLUICE_ROUTER_CONFIG_NAMESPACE: 'cfg' }, 'cfg'],
  ])('%s', (_name, argv, env, want) => {
    expect(parseOperatorSettings(argv, env).routerConfigNamespace).toBe(want);
  });
});
