#!/usr/bin/env node
/**
 * sluice-dataplane: serves the OpenAI API in front of the engines, from routing snapshots pushed
 * by the operator. Never talks to the Kubernetes API. With --snapshot-file it starts serving the
 * last published snapshot at once, even when the operator is down.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readSnapshotFile } from '../shared/snapshot/snapshot-file';
import { createLogger } from '../shared/log/logger';
import { MetricsScraper } from './engines/metrics-scraper';
import { EndpointRegistry } from './proxy/endpoint-registry';
import { ProviderPools } from './proxy/provider-pools';
import { SnapshotStore } from './routing/snapshot-store';
import { SchedulerEnv } from './scheduler/scheduler-env';
import { createAdminApp } from './server/admin-server';
import { DataplaneMetrics } from './server/metrics';
import { Governance } from './server/governance';
import { LoraLoader } from './proxy/lora-loader';
import { createTrafficServer } from './server/traffic-server';
import { ConnectionDrainer } from './server/drain';
import { parseDataplaneSettings, type DataplaneSettings } from './settings';

/** Longest a shutdown waits for requests in flight (Kubernetes' default grace period is 30 s). */
const DRAIN_TIMEOUT_MS = 20_000;

/** A running data plane. */
export interface Dataplane {
  readonly store: SnapshotStore;
  readonly trafficPort: number;
  readonly adminPort: number;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Starts both listeners. */
export async function startDataplane(settings: DataplaneSettings): Promise<Dataplane> {
  const log = createLogger('dataplane', settings.logLevel, { buffered: true });
  const metrics = new DataplaneMetrics();
  const registry = new EndpointRegistry({ connections: settings.connectionsPerEndpoint, connectTimeoutMs: settings.connectTimeoutMs });
  const schedulerEnv = new SchedulerEnv(registry, { log, kvBlocksPerPod: settings.kvBlocksPerPod });
  const scraper = new MetricsScraper(registry, {
    ...settings.scrape,
    log,
    onScrape: (ep, ok, seconds) => {
      metrics.scrapes.labels(ep.pod, ok ? 'ok' : 'error').inc();
      metrics.scrapeDuration.observe(seconds);
      // Fresh saturation metrics may free capacity for queued requests.
      governance?.pumpAll();
    },
  });
  const providerPools = new ProviderPools({ connections: settings.connectionsPerEndpoint, connectTimeoutMs: settings.connectTimeoutMs });
  const store = new SnapshotStore(registry, schedulerEnv, providerPools);
  // Every applied snapshot (the startup file included) decides which pods' KV events to follow.
  store.onApply((table) => schedulerEnv.applyTable(table));
  // Created once the store exists; the scraper's callback above reads it late.
  let governance: Governance | null = null;
  if (settings.snapshotFile && existsSync(settings.snapshotFile)) {
    try {
      const result = store.apply(readSnapshotFile(settings.snapshotFile));
      if (result.status === 'applied') metrics.snapshotVersion.set(result.version);
      log.info({ file: settings.snapshotFile, result }, 'startup snapshot');
    } catch (err) {
      log.warn({ err, file: settings.snapshotFile }, 'startup snapshot unreadable; waiting for a push');
    }
  }
  governance = new Governance({ store, metrics, log });
  const traffic = createTrafficServer({ settings, store, metrics, log, governance, loraLoader: new LoraLoader((result) => metrics.loraLoads.labels(result).inc()) });
  const admin = createAdminApp({ pushToken: settings.pushToken, readToken: settings.readToken, store, registry, metrics, log, schedulerEnv, governance });
  const drainer = new ConnectionDrainer(traffic);
  const trafficPort = await listen(traffic, settings.listen.host, settings.listen.port);
  scraper.start();
  const adminHttp = createServer(admin);
  const adminPort = await listen(adminHttp, settings.admin.host, settings.admin.port);
  // Once, at start: fine on loopback for a local run, a hole anywhere the admin port is reachable.
  if (!settings.pushToken) {
    log.warn({ admin: `${settings.admin.host}:${adminPort}` }, `no push token (--push-token-file): anyone who reaches the admin listener may replace the routing${settings.readToken ? '' : ' and read the full snapshot and the debug dumps'}`);
  }
  log.info({ traffic: `${settings.listen.host}:${trafficPort}`, admin: `${settings.admin.host}:${adminPort}`, pushAuth: settings.pushToken ? 'bearer' : 'none', readAuth: settings.pushToken || settings.readToken ? 'bearer' : 'none' }, 'data plane listening');
  return {
    store,
    trafficPort,
    adminPort,
    async close() {
      // Stop taking work first: answers in flight finish (each closing its connection), idle
      // keep-alive connections close at once. Not for ever, though: a client that keeps a
      // stream open must not hold the pod past its termination grace period.
      const closed = Promise.all([
        drainer.drain(),
        new Promise((r) => adminHttp.close(r)),
      ]);
      adminHttp.closeIdleConnections();
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => { drainTimer = setTimeout(r, DRAIN_TIMEOUT_MS); })]);
      clearTimeout(drainTimer);
      traffic.closeAllConnections();
      adminHttp.closeAllConnections();
      await scraper.stop();
      await governance!.close();
      await registry.close();
      await providerPools.close();
      await schedulerEnv.close();
    },
  };
}

if (require.main === module) {
  let settings: DataplaneSettings;
  try {
    settings = parseDataplaneSettings(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  startDataplane(settings).then((dp) => {
    // The port line lets scripts and tests that pass port 0 learn the real ports.
    process.stdout.write(`${JSON.stringify({ msg: 'sluice-dataplane ready', trafficPort: dp.trafficPort, adminPort: dp.adminPort })}\n`);
    const stop = () => dp.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  }, (err: Error) => {
    process.stderr.write(`sluice-dataplane failed to start: ${err.message}\n`);
    process.exit(1);
  });
}
