/**
 * Data-plane Prometheus metrics, on the admin listener's /metrics. Label values are route and
 * server keys and status codes, so cardinality is bounded by configuration, not by traffic.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotHistogram, type HotHistogramChild } from './hot-histogram';

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/** Prefix of prom-client's default process metrics (theirs start with `process_` or `nodejs_`). */
export const DEFAULT_METRICS_PREFIX = 'sluice_';

/** Latency buckets in seconds: from sub-millisecond proxy work up to long generations. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Time to first token, in seconds: 10 ms (a warm prefix cache) to 60 s (a long prompt in a full queue). */
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 30, 60];

/** Gaps between streamed events, in seconds: 1 ms (small model, speculative decoding) to 2 s (a stalled batch). */
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2];

/** The data plane's metric set. */
export class DataplaneMetrics {
  readonly registry = new Registry();
  /** Requests answered, by route, server and HTTP status. */
  readonly requests = new Counter({ name: 'sluice_requests_total', help: 'Requests answered, by route, target ModelServer and HTTP status code.', labelNames: ['route', 'server', 'code'] as const, registers: [this.registry] });
  /** Errors Sluice itself produced, by error code. */
  readonly errors = new Counter({ name: 'sluice_errors_total', help: 'Errors returned by Sluice itself, by error code.', labelNames: ['code'] as const, registers: [this.registry] });
  /** End-to-end request duration. */
  readonly duration = new Histogram({ name: 'sluice_request_duration_seconds', help: 'Time from request received to response finished.', labelNames: ['route', 'server'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  /** Time to the upstream response headers (for streams, close to time to first token). */
  readonly upstreamHeaders = new Histogram({ name: 'sluice_upstream_response_headers_seconds', help: 'Time from request received until the engine sent response headers.', labelNames: ['server'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry] });
  /** Request received → first body byte relayed, for 2xx answers from an engine. */
  readonly timeToFirstToken = new Histogram({ name: 'sluice_time_to_first_token_seconds', help: 'Time from request received until the first body byte of an engine\'s 2xx answer was relayed to the client (for a stream, its first event), by route and server.', labelNames: ['route', 'server'] as const, buckets: TTFT_BUCKETS, registers: [this.registry] });
  /** Gaps between successive events of streamed answers; observed per chunk, so allocation-free. */
  readonly interTokenLatency = new HotHistogram('sluice_inter_token_latency_seconds', 'Time between successive server-sent events relayed to the client in streamed answers, by server (events that arrived in one chunk share its gap).', ['server'], ITL_BUCKETS, this.registry);
  /** Attempts that failed over to another endpoint. */
  readonly failovers = new Counter({ name: 'sluice_upstream_failovers_total', help: 'Upstream attempts abandoned for another endpoint, by server and reason.', labelNames: ['server', 'reason'] as const, registers: [this.registry] });
  /** Filters skipped because they would have left no candidate. */
  readonly filterBypasses = new Counter({ name: 'sluice_scheduler_filter_bypasses_total', help: 'Scheduler filters skipped because they would have removed every endpoint, by server.', labelNames: ['server'] as const, registers: [this.registry] });
  /** Engine metric scrapes by pod and result. */
  readonly scrapes = new Counter({ name: 'sluice_engine_scrapes_total', help: 'Engine /metrics scrapes, by pod and result (ok, error).', labelNames: ['pod', 'result'] as const, registers: [this.registry] });
  /** Engine metric scrape duration. */
  readonly scrapeDuration = new Histogram({ name: 'sluice_engine_scrape_duration_seconds', help: 'Duration of engine /metrics scrapes.', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry] });
  /** Endpoints whose metrics are stale. */
  readonly staleEndpoints = new Gauge({ name: 'sluice_engine_stale_endpoints', help: 'Endpoints whose engine metrics are older than --stale-after-ms (scored as unknown).', registers: [this.registry] });
  /** In-flight requests per endpoint. */
  readonly inFlight = new Gauge({ name: 'sluice_endpoint_in_flight_requests', help: 'Requests in flight per engine endpoint.', labelNames: ['pod'] as const, registers: [this.registry] });
  /** The serving snapshot version. */
  readonly snapshotVersion = new Gauge({ name: 'sluice_snapshot_version', help: 'Version of the routing snapshot being served (0 before the first).', registers: [this.registry] });
  /** Snapshot offers by outcome. */
  readonly snapshotApplies = new Counter({ name: 'sluice_snapshot_applies_total', help: 'Snapshots offered to this data plane, by result (applied, unchanged, invalid, stale).', labelNames: ['result'] as const, registers: [this.registry] });

  /** Rate-limit checks by route and result. */
  readonly rateLimitDecisions = new Counter({ name: 'sluice_ratelimit_decisions_total', help: 'Token rate-limit checks, by route and result (allowed, allowed_degraded: decided locally while Redis was down, limited).', labelNames: ['route', 'result'] as const, registers: [this.registry] });
  /** Whether each Redis of a global limit is reachable. */
  readonly redisUp = new Gauge({ name: 'sluice_ratelimit_redis_up', help: '1 while the Redis of a global rate limit is reachable, 0 while it is not, by address.', labelNames: ['address'] as const, registers: [this.registry] });
  /** Charges lost while Redis was down (fail-closed budgets). */
  readonly rateLimitChargesDropped = new Counter({ name: 'sluice_ratelimit_charges_dropped_total', help: 'Token charges not recorded because the Redis of a fail-closed global limit was down, by address.', labelNames: ['address'] as const, registers: [this.registry] });
  /** Tokens served, by route and kind. */
  readonly tokensTotal = new Counter({ name: 'sluice_tokens_total', help: 'Tokens served, by route and kind (input: prompt tokens, output: generated tokens); from the engines\' usage, else estimated.', labelNames: ['route', 'kind'] as const, registers: [this.registry] });
  /** Queue wait of released requests. */
  readonly queueWait = new Histogram({ name: 'sluice_queue_wait_seconds', help: 'Time requests released from a ModelServer queue spent waiting, by server.', labelNames: ['server'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  /** Queue outcomes. */
  readonly queueOutcomes = new Counter({ name: 'sluice_queue_outcomes_total', help: 'Requests seen by a ModelServer queue, by server and outcome (immediate, released, timed_out, dropped, rejected, cancelled, closed).', labelNames: ['server', 'outcome'] as const, registers: [this.registry] });
  /** Queued requests now. */
  readonly queueRequests = new Gauge({ name: 'sluice_queue_requests', help: 'Requests waiting in a ModelServer queue, by server.', labelNames: ['server'] as const, registers: [this.registry] });
  /** Queued bytes now. */
  readonly queueBytes = new Gauge({ name: 'sluice_queue_bytes', help: 'Request body bytes waiting in a ModelServer queue, by server.', labelNames: ['server'] as const, registers: [this.registry] });

  /** Tokenizing requests for precise prefix scoring, by source and result. */
  readonly tokenize = new Histogram({ name: 'sluice_tokenize_duration_seconds', help: 'Time to get a request\'s token ids for precise prefix scoring, by source (file: in the data plane; engine: POST /tokenize) and result (ok; unavailable: scored without tokens).', labelNames: ['source', 'result'] as const, buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5], registers: [this.registry] });
  /** tokenize's children, bound once: source (file, engine) × result (ok, unavailable). */
  readonly tokenizeBy = {
    file: { ok: this.tokenize.labels('file', 'ok'), unavailable: this.tokenize.labels('file', 'unavailable') },
    engine: { ok: this.tokenize.labels('engine', 'ok'), unavailable: this.tokenize.labels('engine', 'unavailable') },
  } as const;

  /** LoRA adapters Sluice loaded on engines (sluice.dev/lora-load). */
  readonly loraLoads = new Counter({ name: 'sluice_lora_loads_total', help: 'LoRA adapters the data plane asked an engine to load (sluice.dev/lora-load), by result (loaded, failed).', labelNames: ['result'] as const, registers: [this.registry] });

  private readonly decisionChildren = new Map<string, CounterChild>();
  private readonly tokenChildren = new Map<string, [CounterChild, CounterChild]>();

  /** Counts one rate-limit check. */
  rateLimitDecision(route: string, result: 'allowed' | 'allowed_degraded' | 'limited'): void {
    const k = `${route}\u0000${result}`;
    let c = this.decisionChildren.get(k);
    if (!c) this.decisionChildren.set(k, (c = this.rateLimitDecisions.labels(route, result)));
    c.inc();
  }

  /** Counts the tokens of one request. */
  tokens(route: string, input: number, output: number): void {
    let c = this.tokenChildren.get(route);
    if (!c) this.tokenChildren.set(route, (c = [this.tokensTotal.labels(route, 'input'), this.tokensTotal.labels(route, 'output')]));
    if (input > 0) c[0].inc(input);
    if (output > 0) c[1].inc(output);
  }

  // Bound children by label values: prom-client hashes a label object on every labels() call,
  // which the request path should not pay. Bounded by routes × servers × status codes seen.
  private readonly requestChildren = new Map<string, CounterChild>();
  private readonly durationChildren = new Map<string, HistogramChild>();
  private readonly headerChildren = new Map<string, HistogramChild>();
  private readonly ttftChildren = new Map<string, HistogramChild>();
  private readonly itlChildren = new Map<string, HotHistogramChild>();

  /** The inter-token child of a server, bound once per server; observe() on it allocates nothing. */
  interTokenOf(server: string): HotHistogramChild {
    let c = this.itlChildren.get(server);
    if (!c) this.itlChildren.set(server, (c = this.interTokenLatency.labels(server)));
    return c;
  }

  /**
   * Counts one answered request, its duration and, for an engine's answer, the time to its
   * response headers and (2xx only: an error body is not a token) to its first body byte.
   */
  observeRequest(route: string, server: string, status: number, seconds: number, upstreamHeadersSeconds: number | null, firstByteSeconds: number | null = null): void {
    const rs = `${route}\u0000${server}`;
    const rsc = `${rs}\u0000${status}`;
    let c = this.requestChildren.get(rsc);
    if (!c) {
      c = this.requests.labels(route, server, String(status));
      this.requestChildren.set(rsc, c);
    }
    c.inc();
    let d = this.durationChildren.get(rs);
    if (!d) {
      d = this.duration.labels(route, server);
      this.durationChildren.set(rs, d);
    }
    d.observe(seconds);
    if (upstreamHeadersSeconds !== null) {
      let h = this.headerChildren.get(server);
      if (!h) {
        h = this.upstreamHeaders.labels(server);
        this.headerChildren.set(server, h);
      }
      h.observe(upstreamHeadersSeconds);
    }
    if (firstByteSeconds !== null && status >= 200 && status < 300) {
      let t = this.ttftChildren.get(rs);
      if (!t) this.ttftChildren.set(rs, (t = this.timeToFirstToken.labels(route, server)));
      t.observe(firstByteSeconds);
    }
  }

  constructor() {
    // prom-client's default names already start with process_ or nodejs_, so the prefix is only
    // `sluice_`: sluice_process_cpu_seconds_total, sluice_nodejs_eventloop_lag_seconds, ...
    collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_METRICS_PREFIX });
    // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool
    // flags them). Their information is in the non-_total gauges next to them.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`${DEFAULT_METRICS_PREFIX}${name}`);
    }
    this.snapshotVersion.set(0);
  }
}
