/**
 * Which credentials the operator uses in Kubernetes mode, decided without the client library (so
 * it can be tested without it and reported before anything connects).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Where the operator's API credentials come from (see kubeConfigSource). */
export type KubeConfigSource =
  | { kind: 'files'; files: string[]; from: string }
  | { kind: 'in-cluster' };

/**
 * Picks the credentials as kubectl does: `--kubeconfig`/SLUICE_KUBECONFIG, else $KUBECONFIG (a
 * list of files, merged, first wins), else the pod's service account when KUBERNETES_SERVICE_HOST
 * is set, else ~/.kube/config. Throws, naming all four, when there is none: the client library's
 * own fallback would be an in-cluster config with an undefined host (`https://undefined:undefined`).
 */
export function kubeConfigSource(path: string | null, env: NodeJS.ProcessEnv = process.env, home = homedir()): KubeConfigSource {
  if (path) return { kind: 'files', files: [path], from: '--kubeconfig' };
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (listed.length) return { kind: 'files', files: listed, from: 'KUBECONFIG' };
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return { kind: 'in-cluster' };
  const own = home ? join(home, '.kube', 'config') : '';
  if (own && existsSync(own)) return { kind: 'files', files: [own], from: '~/.kube/config' };
  throw new Error('no Kubernetes credentials: pass --kubeconfig (or SLUICE_KUBECONFIG), set KUBECONFIG, run in a pod (KUBERNETES_SERVICE_HOST), or create ~/.kube/config');
}
