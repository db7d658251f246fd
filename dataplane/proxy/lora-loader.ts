/**
 * Loads a LoRA adapter on an endpoint on demand (ModelServer annotation `sluice.dev/lora-load:
 * enabled`, shared/config/lora-annotations.ts): a request naming an adapter goes to an endpoint
 * that has it; when none has, the scheduler's choice is asked to load it with vLLM's
 * `POST /v1/load_lora_adapter {lora_name, lora_path}` before the request is forwarded.
 *
 * Concurrent requests for the same adapter and endpoint share one load. A successful load is
 * written into the endpoint's LoRA state at once, so the next request finds it there before the
 * next metrics scrape says so. "Already loaded" (vLLM answers 400) counts as success.
 */
import { SluiceError } from '../../shared/errors/codes';
import type { Endpoint } from './endpoint-registry';

/** Shares loads in progress and records results. */
export class LoraLoader {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly pendingEndpoint = new Map<string, Endpoint>();

  /**
   * The endpoint order for an adapter request on a server that loads adapters: endpoints that
   * have the adapter first (in the scheduler's order); if none has it, the one a load is already
   * under way on, else the scheduler's first choice, after loading the adapter there.
   */
  async orderFor(order: readonly Endpoint[], adapter: string, path: string, timeoutMs: number): Promise<readonly Endpoint[]> {
    const has = (ep: Endpoint) => {
      const l = ep.metrics.lora;
      return !ep.metrics.stale && l !== null && (l.active.includes(adapter) || l.registered?.includes(adapter) === true);
    };
    if (order.some(has)) return [...order.filter(has), ...order.filter((ep) => !has(ep))];
    const target = order.find((ep) => this.pendingEndpoint.get(`${ep.origin} ${adapter}`) === ep) ?? order[0]!;
    await this.ensure(target, adapter, path, timeoutMs);
    return [target, ...order.filter((ep) => ep !== target)];
  }
  /** `onLoad` hears every finished load (the data plane counts them in sluice_lora_loads_total). */
  constructor(private readonly onLoad: (result: 'loaded' | 'failed') => void = () => undefined) {}

  /** Loads `adapter` on `ep` from `path`; resolves when the engine has it, throws SLUICE_UPSTREAM_ERROR if not. */
  ensure(ep: Endpoint, adapter: string, path: string, timeoutMs: number): Promise<void> {
    const key = `${ep.origin} ${adapter}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.load(ep, adapter, path, timeoutMs).finally(() => {
        this.pending.delete(key);
        this.pendingEndpoint.delete(key);
      });
      this.pending.set(key, p);
      this.pendingEndpoint.set(key, ep);
    }
    return p;
  }

  private async load(ep: Endpoint, adapter: string, path: string, timeoutMs: number): Promise<void> {
    let status = 0;
    let text = '';
    try {
      const res = await ep.pool.request({
        method: 'POST', path: '/v1/load_lora_adapter', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ lora_name: adapter, lora_path: path }), headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      this.onLoad('failed');
      throw new SluiceError('SLUICE_UPSTREAM_ERROR', `could not load LoRA adapter ${adapter} on ${ep.pod}: ${(err as Error).message}`);
    }
    if (status !== 200 && !(status === 400 && /already/i.test(text))) {
      this.onLoad('failed');
      throw new SluiceError('SLUICE_UPSTREAM_ERROR', `could not load LoRA adapter ${adapter} on ${ep.pod} (load_lora_adapter answered ${status}: ${text.slice(0, 300)}); check sluice.dev/lora-path-template and that vLLM runs with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`);
    }
    this.onLoad('loaded');
    const lora = ep.metrics.lora ?? { active: [], waiting: [], maxLoras: null };
    const registered = lora.registered ?? [];
    if (!registered.includes(adapter)) ep.metrics = { ...ep.metrics, lora: { ...lora, registered: [...registered, adapter] } };
  }
}
