/**
 * Operator process settings, parsed once into a frozen object. Flags have environment twins
 * (`--watch-dir` ↔ `SLUICE_WATCH_DIR`); flags win; every bad flag is reported at once.
 */
import { existsSync, readFileSync } from 'node:fs';

/** Where Kubernetes mounts the namespace of the pod's service account. */
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The operator's own namespace: SLUICE_NAMESPACE, else the mounted service account's, else
 * `sluice-system` (the base manifests' namespace).
 */
function ownNamespace(env: NodeJS.ProcessEnv): string {
  if (env.SLUICE_NAMESPACE) return env.SLUICE_NAMESPACE;
  try {
    if (existsSync(SERVICE_ACCOUNT_NAMESPACE)) return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || 'sluice-system';
  } catch {
    // Unreadable: fall through to the default, which the manifests use.
  }
  return 'sluice-system';
}

/** Operator settings. */
export interface OperatorSettings {
  /** Folder of YAML objects to watch (directory source); null in Kubernetes mode. */
  readonly watchDir: string | null;
  /** Kubernetes mode (`--kube`): watch an API server instead of a folder. */
  readonly kube: null | {
    /** Kubeconfig path; null means the in-cluster service account. */
    kubeconfig: string | null;
    namespace: string;
    dataplaneSelector: string;
    dataplaneAdminPort: number;
    snapshotConfigMap: string;
    /** Lease-based leader election (one active replica); off only for single-replica tests. */
    leaderElect: boolean;
    leaseDurationSeconds: number;
  };
  /**
   * The only namespace whose `sluice-router-config` / `kthena-router-config` applies router-wide
   * (scheduler, auth, identity, fairness). Kubernetes mode: the operator's namespace; directory
   * source: `default`, where objects without a namespace land.
   */
  readonly routerConfigNamespace: string;
  /** Where the compiled snapshot is written (the durable copy data planes read at start). */
  readonly snapshotOut: string | null;
  /** Where object status conditions are written as JSON, for a human or a test to read. */
  readonly statusOut: string | null;
  /** Data-plane admin base URLs to push to. */
  readonly pushUrls: readonly string[];
  /** Bearer token for pushes. */
  readonly pushToken: string | null;
  /** Quiet time after a file change before recompiling. */
  readonly debounceMs: number;
  /**
   * How often each data plane is asked which snapshot it serves (`GET /v1/snapshot`), jittered
   * ± 10 %: a data plane restarted in place loses its snapshot without anyone pushing again.
   */
  readonly verifyIntervalMs: number;
  /** Kubernetes mode: how often the Secrets ExternalModelProviders name are read again. */
  readonly secretPollMs: number;
  readonly logLevel: string;
}

/** Parses argv/env; throws one Error listing every problem. */
export function parseOperatorSettings(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): OperatorSettings {
  const single: Record<string, string | undefined> = {
    'watch-dir': env.SLUICE_WATCH_DIR,
    'snapshot-out': env.SLUICE_SNAPSHOT_OUT,
    'status-out': env.SLUICE_STATUS_OUT,
    'push-token': env.SLUICE_PUSH_TOKEN,
    'push-token-file': env.SLUICE_PUSH_TOKEN_FILE,
    'debounce-ms': env.SLUICE_DEBOUNCE_MS ?? '100',
    'verify-interval-ms': env.SLUICE_VERIFY_INTERVAL_MS ?? '10000',
    'secret-poll-ms': env.SLUICE_SECRET_POLL_MS ?? '15000',
    'log-level': env.SLUICE_LOG_LEVEL ?? 'info',
    kubeconfig: env.SLUICE_KUBECONFIG,
    namespace: ownNamespace(env),
    'router-config-namespace': env.SLUICE_ROUTER_CONFIG_NAMESPACE,
    'dataplane-selector': env.SLUICE_DATAPLANE_SELECTOR ?? 'app.kubernetes.io/name=sluice-dataplane',
    'dataplane-admin-port': env.SLUICE_DATAPLANE_ADMIN_PORT ?? '8081',
    'snapshot-configmap': env.SLUICE_SNAPSHOT_CONFIGMAP ?? 'sluice-snapshot',
    'leader-elect': env.SLUICE_LEADER_ELECT ?? 'true',
    'lease-duration-seconds': env.SLUICE_LEASE_DURATION_SECONDS ?? '15',
  };
  let kube = env.SLUICE_KUBE === 'true';
  const pushUrls = (env.SLUICE_PUSH_URLS ?? '').split(',').filter(Boolean);
  const errors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--kube') {
      kube = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]!);
    const name = m?.[1];
    if (!m || !name || !(name in single || name === 'push-url')) {
      errors.push(`unknown argument ${JSON.stringify(argv[i])}; known: --watch-dir, --snapshot-out, --status-out, --push-url (repeatable), --push-token, --push-token-file, --debounce-ms, --verify-interval-ms, --log-level, --router-config-namespace; Kubernetes mode: --kube, --kubeconfig, --namespace, --dataplane-selector, --dataplane-admin-port, --snapshot-configmap, --leader-elect, --lease-duration-seconds, --secret-poll-ms`);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) errors.push(`--${name} needs a value`);
    else if (name === 'push-url') pushUrls.push(value);
    else single[name] = value;
  }
  if (!kube && !single['watch-dir']) errors.push('--watch-dir is required (the folder of ModelRoute, ModelServer, Pod and ConfigMap YAML to serve), or --kube to watch a Kubernetes API server');
  if (kube && single['watch-dir']) errors.push('--watch-dir and --kube exclude each other: pick the folder or the API server');
  const adminPort = Number(single['dataplane-admin-port']);
  if (!Number.isInteger(adminPort) || adminPort < 1 || adminPort > 65535) errors.push(`--dataplane-admin-port: expected a port number, got ${JSON.stringify(single['dataplane-admin-port'])}`);
  for (const url of pushUrls) if (!/^https?:\/\/[^/]+/.test(url)) errors.push(`--push-url ${JSON.stringify(url)}: expected a data-plane admin URL such as http://127.0.0.1:8081`);
  const debounceMs = Number(single['debounce-ms']);
  if (!Number.isInteger(debounceMs) || debounceMs < 0) errors.push(`--debounce-ms: expected a whole number of milliseconds, got ${JSON.stringify(single['debounce-ms'])}`);
  const secretPollMs = Number(single['secret-poll-ms']);
  if (!Number.isInteger(secretPollMs) || secretPollMs < 100) errors.push(`--secret-poll-ms: expected a whole number of milliseconds, at least 100, got ${JSON.stringify(single['secret-poll-ms'])}`);
  const verifyIntervalMs = Number(single['verify-interval-ms']);
  if (!Number.isInteger(verifyIntervalMs) || verifyIntervalMs < 100) errors.push(`--verify-interval-ms: expected a whole number of milliseconds, at least 100, got ${JSON.stringify(single['verify-interval-ms'])}`);
  let pushToken = single['push-token'] ?? null;
  if (single['push-token-file']) {
    try {
      pushToken = readFileSync(single['push-token-file'], 'utf8').trim();
    } catch (err) {
      errors.push(`--push-token-file: ${(err as Error).message}`);
    }
  }
  if (errors.length) throw new Error(`invalid operator settings:\n  ${errors.join('\n  ')}`);
  return Object.freeze({
    watchDir: single['watch-dir'] ?? null,
    kube: kube ? {
      kubeconfig: single.kubeconfig ?? null,
      namespace: single.namespace!,
      dataplaneSelector: single['dataplane-selector']!,
      dataplaneAdminPort: adminPort,
      snapshotConfigMap: single['snapshot-configmap']!,
      leaderElect: single['leader-elect'] !== 'false',
      leaseDurationSeconds: Math.max(2, Number(single['lease-duration-seconds']) || 15),
    } : null,
    routerConfigNamespace: single['router-config-namespace'] ?? (kube ? single.namespace! : 'default'),
    snapshotOut: single['snapshot-out'] ?? null,
    statusOut: single['status-out'] ?? null,
    pushUrls: Object.freeze(pushUrls),
    pushToken,
    debounceMs,
    verifyIntervalMs,
    secretPollMs,
    logLevel: single['log-level']!,
  });
}
