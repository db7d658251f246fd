/**
 * Simulator-only counters of prefill/decode disaggregation, rendered next to every flavour's
 * own metrics (which keep their real names, since routers scrape them):
 * - `sim_kv_transfers_total{direction="sent"|"received",protocol="nixl"|"lmcache"|"sglang"}`:
 *   KV hand-overs that completed. NIXL and SGLang count both sides when the decode pod has the
 *   KV (the prefill pod's `sent`, the decode pod's `received`); LMCache counts `sent` when a
 *   prefill pod publishes a prompt to its group's store and `received` when a decode pod loads
 *   blocks from it;
 * - `sim_kv_transfer_rejections_total{reason}`: PD requests answered 400 (see KV_REJECTION_REASONS);
 * - `sim_local_prefills_total`: plain requests a `decode` pod prefilled itself, with no KV from
 *   another pod or from the LMCache store.
 * Every label value is always present (0 until it happens), so a test can read any series.
 */
import type { Exposition } from './prom';

/** How KV moves between pods. */
export const KV_PROTOCOLS = ['nixl', 'lmcache', 'sglang'] as const;
/** See KV_PROTOCOLS. */
export type KvProtocol = (typeof KV_PROTOCOLS)[number];

/**
 * Why a PD request was refused (the `reason` label):
 * - malformed: kv_transfer_params / bootstrap_* fields of the wrong type or contradictory;
 * - wrong_protocol: NIXL fields sent to a non-vLLM pod, or SGLang fields to a non-SGLang pod;
 * - wrong_role: a prefill request to a decode pod or the other way round;
 * - prefill_stream, prefill_max_tokens: a NIXL prefill request not sent with stream false and max_tokens 1;
 * - unknown_transfer: kv_transfer_params no prefill produced;
 * - reused: a transfer or bootstrap room used a second time;
 * - expired: a transfer whose prefill KV was already released after the hold timeout;
 * - cross_group: prefill and decode pods of different PD groups;
 * - prompt_mismatch, model_mismatch: the decode request is not the one that was prefilled;
 * - wrong_host, wrong_port: remote_host/remote_port or bootstrap_host/bootstrap_port do not name the prefill pod;
 * - room_timeout: an SGLang bootstrap room that no prefill published within the wait.
 */
export const KV_REJECTION_REASONS = [
  'malformed', 'wrong_protocol', 'wrong_role', 'prefill_stream', 'prefill_max_tokens', 'unknown_transfer', 'reused',
  'expired', 'cross_group', 'prompt_mismatch', 'model_mismatch', 'wrong_host', 'wrong_port', 'room_timeout',
] as const;
/** See KV_REJECTION_REASONS. */
export type KvRejectionReason = (typeof KV_REJECTION_REASONS)[number];

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** PD counters of one pod. */
export class PdStats {
  /** Completed KV hand-overs by direction and protocol. */
  readonly transfers = { sent: zeros(KV_PROTOCOLS), received: zeros(KV_PROTOCOLS) };
  /** Refused PD requests by reason. */
  readonly rejections = zeros(KV_REJECTION_REASONS);
  /** Plain requests a decode pod prefilled locally. */
  localPrefills = 0;

  /** Counters as plain JSON, for /sim/state. */
  toJSON(): object {
    return { transfers: this.transfers, rejections: this.rejections, localPrefills: this.localPrefills };
  }
}

/** Write the sim_kv_* and sim_local_prefills_total families. */
export function renderPdMetrics(x: Exposition, pd: PdStats): void {
  const transfers: Array<[Record<string, string>, number]> = [];
  for (const direction of ['sent', 'received'] as const) {
    for (const protocol of KV_PROTOCOLS) transfers.push([{ direction, protocol }, pd.transfers[direction][protocol]]);
  }
  x.counter('sim_kv_transfers_total', 'Engine simulator: prompt KV hand-overs between pods that completed.', transfers);
  x.counter(
    'sim_kv_transfer_rejections_total',
    'Engine simulator: prefill/decode requests refused with 400, by reason.',
    KV_REJECTION_REASONS.map((reason) => [{ reason }, pd.rejections[reason]]),
  );
  x.counter('sim_local_prefills_total', 'Engine simulator: plain requests a decode pod prefilled itself.', [
    [{}, pd.localPrefills],
  ]);
}
