/**
 * Prefill/decode disaggregation on the wire: decides how a pod runs one inference request.
 * - `kv_transfer_params` with do_remote_decode / do_remote_prefill: vLLM's NIXL protocol (pd-nixl.ts);
 * - `bootstrap_host` / `bootstrap_port` / `bootstrap_room`: SGLang's protocol (pd-sglang.ts);
 * - anything else is a plain request. For pods with a PD group it is also the `http`/`lmcache`
 *   protocol (the router sends the original body to a prefill pod, then to a decode pod): a
 *   prefill-capable pod publishes the prompt's blocks to its group's LMCache store
 *   (lmcache-store.ts) once prefilled, and a decode-capable pod loads what it finds there.
 *   A `decode` pod that prefills a plain request without LMCache's help counts it in
 *   sim_local_prefills_total.
 * Protocol mistakes are PdRejection (400) errors; the caller counts them by reason.
 */
import { nixlPlan } from './pd-nixl';
import { PdRejection, type PdPlan, type PdRequest } from './pd-plan';
import { canDecode, canPrefill, type PdPeer } from './pd-peer';
import { PD_REGISTRY, type PdRegistry } from './pd-registry';
import { sglangPlan } from './pd-sglang';

export { PdRejection, type PdPlan, type PdRequest } from './pd-plan';

const BOOTSTRAP_FIELDS = ['bootstrap_host', 'bootstrap_port', 'bootstrap_room'];

/**
 * The plan for `req` on `pod`; null when the client left while the request waited (an SGLang
 * decode waiting for its room). Throws PdRejection when the request breaks a protocol.
 */
export async function planPd(pod: PdPeer, req: PdRequest, closed: AbortSignal, reg: PdRegistry = PD_REGISTRY): Promise<PdPlan | null> {
  const b = req.body;
  const nixl = b.kv_transfer_params !== undefined && b.kv_transfer_params !== null;
  const sglang = BOOTSTRAP_FIELDS.some((f) => b[f] !== undefined && b[f] !== null);
  if (nixl && sglang) {
    throw new PdRejection('malformed', 'a request carries kv_transfer_params (vLLM) or bootstrap_* fields (SGLang), not both', 'kv_transfer_params');
  }
  if (sglang) return sglangPlan(pod, req, reg, closed);
  return (nixl ? nixlPlan(pod, req, reg) : null) ?? plainPlan(pod, reg);
}

/** A plain request: LMCache publishing / loading for grouped pods, local-prefill accounting. */
function plainPlan(pod: PdPeer, reg: PdRegistry): PdPlan {
  const store = reg.lmcache.storeOf(pod);
  const pd = pod.engine.stats.pd;
  const plan: PdPlan = { kind: 'plain', protocol: null, request: {} };
  if (store && canDecode(pod)) {
    plan.request.externalCache = (hashes) => store.lookup(hashes);
    plan.onKvLoaded = () => {
      // Once per request, even if a preempted request loads again.
      if (plan.protocol === 'lmcache') return;
      plan.protocol = 'lmcache';
      pd.transfers.received.lmcache++;
    };
  }
  plan.onPrefilled = (hashes) => {
    if (store && canPrefill(pod) && store.publish(hashes) > 0) pd.transfers.sent.lmcache++;
    if (pod.role === 'decode' && plan.protocol === null) pd.localPrefills++;
  };
  return plan;
}
