/**
 * vLLM's NIXL (and Mooncake) connector protocol, as a router drives it:
 *
 * 1. prefill: the request body plus
 *    `"kv_transfer_params": {"do_remote_decode": true, ...}`, `"stream": false` and
 *    `"max_tokens": 1`, to a prefill pod (role prefill or both). The pod prefills, produces one
 *    token, keeps the prompt's KV blocks and answers the normal completion plus a top-level
 *    `"kv_transfer_params": {"do_remote_prefill": true, "do_remote_decode": false,
 *    "remote_engine_id", "remote_block_ids", "remote_host", "remote_port", "tp_size": 1}`;
 * 2. decode: the original body plus that kv_transfer_params object, to a decode pod (role decode
 *    or both) of the same PD group. The pod pulls the KV (kvTransferMsPerToken per prompt token
 *    it does not hold) and decodes without a prefill; streaming works as usual.
 *
 * Anything else is a router bug and gets a 400 naming the field: a streaming or max_tokens != 1
 * prefill, params no prefill produced, params used twice, a decode pod of another group, another
 * prompt or model, a remote_host/remote_port that is not the prefill pod's.
 */
import { checkSameRequest, PdRejection, type PdPlan, type PdRequest } from './pd-plan';
import { canDecode, canPrefill, groupMismatch, type PdPeer } from './pd-peer';
import type { PdRegistry } from './pd-registry';

function malformed(message: string): PdRejection {
  return new PdRejection('malformed', message, 'kv_transfer_params');
}

/**
 * The plan for a request carrying kv_transfer_params, or null when neither do_remote_decode nor
 * do_remote_prefill is true (vLLM then serves it as a plain request).
 */
export function nixlPlan(pod: PdPeer, req: PdRequest, reg: PdRegistry): PdPlan | null {
  const ktp = req.body.kv_transfer_params;
  if (typeof ktp !== 'object' || ktp === null || Array.isArray(ktp)) throw malformed('kv_transfer_params must be an object');
  const k = ktp as Record<string, unknown>;
  const prefillHere = k.do_remote_decode === true;
  const decodeHere = k.do_remote_prefill === true;
  if (!prefillHere && !decodeHere) return null;
  if (prefillHere && decodeHere) throw malformed('kv_transfer_params cannot set both do_remote_decode and do_remote_prefill');
  if (pod.flavour !== 'vllm') {
    const hint = pod.flavour === 'sglang' ? 'SGLang pods take bootstrap_host, bootstrap_port and bootstrap_room' : 'TGI has no prefill/decode disaggregation';
    throw new PdRejection('wrong_protocol', `kv_transfer_params is vLLM's NIXL protocol but pod ${pod.name} runs ${pod.flavour} (${hint})`, 'kv_transfer_params');
  }
  return prefillHere ? prefillPlan(pod, req, reg) : decodePlan(pod, k, req, reg);
}

function prefillPlan(pod: PdPeer, req: PdRequest, reg: PdRegistry): PdPlan {
  if (!canPrefill(pod)) {
    throw new PdRejection('wrong_role', `pod ${pod.name} has role decode: it cannot run the prefill kv_transfer_params.do_remote_decode asks for`, 'kv_transfer_params');
  }
  const b = req.body;
  const what = 'a NIXL prefill request (kv_transfer_params.do_remote_decode: true)';
  if (b.stream === true) {
    throw new PdRejection('prefill_stream', `${what} must be sent with "stream": false: the prefill pod answers one JSON body carrying kv_transfer_params`, 'stream');
  }
  if (b.stream_options !== undefined && b.stream_options !== null) {
    throw new PdRejection('prefill_stream', `${what} must not carry "stream_options" (vLLM only allows it with "stream": true)`, 'stream_options');
  }
  for (const field of ['max_tokens', 'max_completion_tokens']) {
    const v = b[field];
    if (v === 1 || (field === 'max_completion_tokens' && (v === undefined || v === null))) continue;
    throw new PdRejection(
      'prefill_max_tokens',
      `${what} must be sent with "${field}": 1 (got ${JSON.stringify(v) ?? 'none'}): the prefill pod computes the prompt and one token`,
      field,
    );
  }
  return {
    kind: 'prefill', protocol: 'nixl', request: { holdKv: true },
    end: (result) => {
      if (!result?.heldKv) return undefined;
      const t = {
        engineId: pod.kvEngineId, blockIds: result.heldKv.blockIds, prefill: pod, model: req.model,
        promptTokens: req.r.promptTokens.length, promptHash: req.promptHash, kv: result.heldKv,
      };
      reg.nixl.register(t);
      return {
        kv_transfer_params: {
          do_remote_prefill: true, do_remote_decode: false, remote_engine_id: t.engineId, remote_block_ids: t.blockIds,
          remote_host: pod.ip, remote_port: pod.port, tp_size: 1,
        },
      };
    },
  };
}

function decodePlan(pod: PdPeer, k: Record<string, unknown>, req: PdRequest, reg: PdRegistry): PdPlan {
  if (!canDecode(pod)) {
    throw new PdRejection('wrong_role', `pod ${pod.name} has role prefill: it cannot decode the KV kv_transfer_params.do_remote_prefill names`, 'kv_transfer_params');
  }
  const copy = "(pass on the prefill response's kv_transfer_params unchanged)";
  const engineId = k.remote_engine_id;
  const ids = k.remote_block_ids;
  if (typeof engineId !== 'string' || engineId === '') throw malformed(`kv_transfer_params.remote_engine_id must be a non-empty string ${copy}`);
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((x) => Number.isInteger(x) && x >= 0)) {
    throw malformed(`kv_transfer_params.remote_block_ids must be a non-empty array of block ids ${copy}`);
  }
  if (typeof k.remote_host !== 'string') throw malformed(`kv_transfer_params.remote_host must be a string ${copy}`);
  if (!Number.isInteger(k.remote_port)) throw malformed(`kv_transfer_params.remote_port must be an integer ${copy}`);
  const found = reg.nixl.find(engineId, ids as number[], reg.pods);
  if ('reason' in found) throw new PdRejection(found.reason, found.message, 'kv_transfer_params');
  const t = found;
  const cross = groupMismatch(t.prefill, pod);
  if (cross) throw new PdRejection('cross_group', cross, 'kv_transfer_params');
  checkSameRequest(t, req);
  if (k.remote_host !== t.prefill.ip) {
    throw new PdRejection('wrong_host', `kv_transfer_params.remote_host is ${k.remote_host} but the prefill pod ${t.prefill.name} is at ${t.prefill.ip}`, 'kv_transfer_params');
  }
  if (k.remote_port !== t.prefill.port) {
    throw new PdRejection('wrong_port', `kv_transfer_params.remote_port is ${k.remote_port} but the prefill pod ${t.prefill.name} listens on ${t.prefill.port}`, 'kv_transfer_params');
  }
  reg.nixl.consume(t, pod.name);
  return {
    kind: 'decode', protocol: 'nixl', request: { remotePrefill: true },
    onKvLoaded: () => {
      reg.nixl.release(t);
      t.prefill.engine.stats.pd.transfers.sent.nixl++;
      pod.engine.stats.pd.transfers.received.nixl++;
    },
  };
}
