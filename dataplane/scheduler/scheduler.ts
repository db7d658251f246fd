/**
 * Runs one normalised scheduler configuration: picks the profile, applies its filters, sums its
 * weighted scores, and lets its picker choose. Built once per ModelServer when a snapshot is
 * applied; `schedule` is synchronous, does no I/O and reuses its buffers across requests.
 *
 *   total_i = Σ_k w_k · score_k,i / Σ_k w_k       (so total_i is in [0,1] too)
 *
 * The result orders every endpoint: the picker's choice first, then the other candidates by total
 * score, then endpoints a filter removed (a last resort when everything better fails to connect).
 * A filter that would remove every candidate is bypassed for that request, and counted.
 */
import type { SchedulerConfig } from '../../shared/config/scheduler-config';
import type { Endpoint } from '../proxy/endpoint-registry';
import { PrecisePrefixCacheScorer } from './plugins/scorer/precise-prefix-cache-scorer';
import { PrefixCacheScorer } from './plugins/scorer/prefix-cache-scorer';
import { createPlugin } from './registry';
import type { AnyPlugin, FilterPlugin, PickerPlugin, PluginEnv, Profile, ProfileHandlerPlugin, SchedulingRequest, ScorerPlugin } from './types';

/** The outcome of one scheduling decision. */
export interface ScheduleResult {
  /** Endpoints in the order to try. */
  readonly order: Endpoint[];
  /** The profile that decided. */
  readonly profile: string;
  /** Filters bypassed because they would have removed every candidate. */
  readonly bypassed: number;
  /** Per-endpoint score breakdowns, only when asked for (decision header, debugging). */
  readonly explanations?: Map<Endpoint, ScoreBreakdown>;
}

/** Per-plugin scores of one endpoint, for the decision header and debugging. */
export interface ScoreBreakdown {
  total: number;
  /** A filter removed the endpoint; it is only a last resort. */
  filtered: boolean;
  scores: { plugin: string; weight: number; score: number }[];
}

/** A compiled scheduler for one configuration. */
export class Scheduler {
  readonly config: SchedulerConfig;
  private readonly handler: ProfileHandlerPlugin;
  private readonly profiles: Profile[];
  /** Scorers that learn from where requests go. */
  private readonly recorders: (PrefixCacheScorer | PrecisePrefixCacheScorer)[] = [];
  /** A scorer reads the request's token ids, so the traffic path must tokenize before scheduling. */
  readonly needsTokens: boolean;
  private keep = new Uint8Array(16);
  private saved = new Uint8Array(16);
  private total = new Float64Array(16);
  private order = new Int32Array(16);
  private perScorer: Float64Array[] = [];

  /** Throws when the configuration names something the registry cannot build. */
  constructor(config: SchedulerConfig, env: PluginEnv) {
    this.config = config;
    const params = new Map(config.plugins.map((p) => [p.name, p]));
    const built = new Map<string, AnyPlugin>();
    const make = <T extends AnyPlugin>(name: string, role: 'filter' | 'scorer' | 'picker' | 'profile-handler'): T => {
      const key = `${role}/${name}`;
      const hit = built.get(key);
      if (hit) return hit as T;
      const spec = params.get(name);
      if (!spec) throw new Error(`profile references plugin ${name}, which is not defined`);
      const plugin = createPlugin(spec.type, role, name, spec.parameters, env);
      built.set(key, plugin);
      if (plugin instanceof PrefixCacheScorer || plugin instanceof PrecisePrefixCacheScorer) this.recorders.push(plugin);
      return plugin as T;
    };
    this.handler = make<ProfileHandlerPlugin>(config.profileHandler, 'profile-handler');
    this.profiles = config.profiles.map((p) => ({
      name: p.name,
      filters: p.filters.map((f) => make<FilterPlugin>(f, 'filter')),
      scorers: p.scorers.map((s) => ({ plugin: make<ScorerPlugin>(s.plugin, 'scorer'), weight: s.weight })),
      picker: make<PickerPlugin>(p.picker, 'picker'),
    }));
    this.needsTokens = this.recorders.some((r) => r instanceof PrecisePrefixCacheScorer);
  }

  private ensure(n: number, scorers: number): void {
    if (this.keep.length < n) {
      const size = n * 2;
      this.keep = new Uint8Array(size);
      this.saved = new Uint8Array(size);
      this.total = new Float64Array(size);
      this.order = new Int32Array(size);
      this.perScorer = [];
    }
    while (this.perScorer.length < scorers) this.perScorer.push(new Float64Array(this.keep.length));
  }

  /** Orders `endpoints` for `req`; with `explain`, also returns every endpoint's score breakdown. */
  schedule(req: SchedulingRequest, endpoints: readonly Endpoint[], explain = false, role: 'prefill' | 'decode' | null = null): ScheduleResult {
    const n = endpoints.length;
    // A PD server asks for each role's ranking; handlers without roles run their primary profile for both.
    const profile = role !== null && this.handler.forRole ? this.handler.forRole(role, req, this.profiles) : this.handler.primary(req, this.profiles);
    this.ensure(n, profile.scorers.length);
    const { keep, saved, total } = this;
    keep.fill(1, 0, n);
    let bypassed = 0;
    for (const f of profile.filters) {
      saved.set(keep.subarray(0, n));
      f.filter(req, endpoints, keep);
      let left = 0;
      for (let i = 0; i < n; i++) left += keep[i]!;
      if (left === 0) {
        keep.set(saved.subarray(0, n));
        bypassed++;
      }
    }
    total.fill(0, 0, n);
    let weights = 0;
    for (let k = 0; k < profile.scorers.length; k++) {
      const { plugin, weight } = profile.scorers[k]!;
      const out = this.perScorer[k]!;
      out.fill(0, 0, n);
      plugin.score(req, endpoints, keep, out);
      for (let i = 0; i < n; i++) total[i] += weight * out[i]!;
      weights += weight;
    }
    if (weights > 0) for (let i = 0; i < n; i++) total[i] /= weights;
    const picked = profile.picker.pick(endpoints, keep, total, this.order);
    const order = this.assemble(endpoints, picked);
    if (!explain) return { order, profile: profile.name, bypassed };
    const explanations = new Map<Endpoint, ScoreBreakdown>();
    for (let i = 0; i < n; i++) {
      explanations.set(endpoints[i]!, {
        total: keep[i] ? total[i]! : 0,
        filtered: !keep[i],
        scores: profile.scorers.map((sc, k) => ({ plugin: sc.plugin.name, weight: sc.weight, score: this.perScorer[k]![i]! })),
      });
    }
    return { order, profile: profile.name, bypassed, explanations };
  }

  /** Picks first, then remaining candidates by total score, then filtered-out endpoints. */
  private assemble(endpoints: readonly Endpoint[], picked: number): Endpoint[] {
    const n = endpoints.length;
    const out: Endpoint[] = [];
    const used = this.saved;
    used.fill(0, 0, n);
    for (let k = 0; k < picked; k++) {
      const i = this.order[k]!;
      out.push(endpoints[i]!);
      used[i] = 1;
    }
    if (out.length < n) {
      const rest: number[] = [];
      for (let i = 0; i < n; i++) if (!used[i] && this.keep[i]) rest.push(i);
      rest.sort((a, b) => this.total[b]! - this.total[a]!);
      for (const i of rest) out.push(endpoints[i]!);
      for (let i = 0; i < n; i++) if (!used[i] && !this.keep[i]) out.push(endpoints[i]!);
    }
    return out;
  }

  /** Leading token ids the scorers can use (the traffic path tokenizes no further); 0 when none reads tokens. */
  tokensNeeded(): number {
    let n = 0;
    for (const r of this.recorders) if (r instanceof PrecisePrefixCacheScorer) n = Math.max(n, r.tokensNeeded());
    return n;
  }

  /** Tells the prefix index which endpoint served the request. */
  served(req: SchedulingRequest, endpoint: Endpoint): void {
    for (const r of this.recorders) r.record(req, endpoint);
  }
}
