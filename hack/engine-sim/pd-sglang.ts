/**
 * SGLang's prefill/decode protocol, as its router drives it: the same request body goes to a
 * prefill pod and a decode pod of one PD group *at the same time*, both with
 * `"bootstrap_host"` (the prefill pod's IP), `"bootstrap_port": 8998` (SGLang's default
 * --disaggregation-bootstrap-port) and `"bootstrap_room"` (a random integer in [0, 2^63), as a
 * JSON number or a string of digits).
 *
 * The prefill pod reserves the room, prefills (one token, the answer the router discards) and
 * publishes the room with its KV. The decode pod checks host and port at once, waits up to
 * SGLANG_ROOM_WAIT_MS (simulated) for the room, checks it is the same prompt from a prefill pod
 * of its group, pulls the KV (kvTransferMsPerToken per token) and decodes without a prefill; its
 * TTFT counts from its own arrival, so it includes the wait for the prefill.
 */
import { topLevelRawValue } from './json-raw';
import { checkSameRequest, PdRejection, type PdPlan, type PdRequest } from './pd-plan';
import { canPrefill, groupId, groupMismatch, type PdPeer } from './pd-peer';
import type { PdRegistry } from './pd-registry';
import { SGLANG_BOOTSTRAP_PORT, SGLANG_ROOM_WAIT_MS } from './sglang-rooms';

/** The SGLang PD fields of a request. */
interface Bootstrap {
  host: string;
  port: number;
  /** Canonical decimal room number. */
  room: string;
}

const ROOM_LIMIT = 2n ** 63n;

/** The room as a canonical decimal string, or null when it is not an integer in [0, 2^63). */
function parseRoom(v: unknown, raw: Buffer): string | null {
  let n: bigint;
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) n = BigInt(v);
  else if (typeof v === 'number' && Number.isInteger(v) && v >= 0) {
    // Above 2^53 JSON.parse rounds; read the digits the router sent instead.
    const text = Number.isSafeInteger(v) ? undefined : topLevelRawValue(raw.toString('utf8'), 'bootstrap_room');
    n = text !== undefined && /^\d{1,20}$/.test(text) ? BigInt(text) : BigInt(v);
  } else return null;
  return n < ROOM_LIMIT ? n.toString() : null;
}

function parseBootstrap(req: PdRequest): Bootstrap {
  const b = req.body;
  const fail = (field: string, want: string): PdRejection =>
    new PdRejection('malformed', `"${field}" must be ${want} (got ${JSON.stringify(b[field]) ?? 'none'})`, field);
  if (typeof b.bootstrap_host !== 'string' || b.bootstrap_host === '') throw fail('bootstrap_host', "the prefill pod's IP");
  if (!Number.isInteger(b.bootstrap_port)) throw fail('bootstrap_port', `an integer (${SGLANG_BOOTSTRAP_PORT})`);
  const room = parseRoom(b.bootstrap_room, req.raw);
  if (room === null) throw fail('bootstrap_room', 'an integer in [0, 2^63), as a JSON number or a string of digits');
  return { host: b.bootstrap_host, port: b.bootstrap_port as number, room };
}

/** The plan for a request carrying bootstrap_* fields; null when the client left while waiting. */
export async function sglangPlan(pod: PdPeer, req: PdRequest, reg: PdRegistry, closed: AbortSignal): Promise<PdPlan | null> {
  if (pod.flavour !== 'sglang') {
    const hint = pod.flavour === 'vllm' ? 'vLLM pods take kv_transfer_params' : 'TGI has no prefill/decode disaggregation';
    throw new PdRejection('wrong_protocol', `bootstrap_host/bootstrap_port/bootstrap_room are SGLang's PD fields but pod ${pod.name} runs ${pod.flavour} (${hint})`, 'bootstrap_room');
  }
  if (pod.role === 'both') {
    throw new PdRejection('wrong_role', `pod ${pod.name} has role both: SGLang disaggregation needs a prefill or a decode server`, 'bootstrap_room');
  }
  const bs = parseBootstrap(req);
  if (bs.port !== SGLANG_BOOTSTRAP_PORT) {
    throw new PdRejection('wrong_port', `bootstrap_port must be ${SGLANG_BOOTSTRAP_PORT} (SGLang's default --disaggregation-bootstrap-port), got ${bs.port}`, 'bootstrap_port');
  }
  return pod.role === 'prefill' ? prefillPlan(pod, bs, req, reg) : decodePlan(pod, bs, req, reg, closed);
}

function prefillPlan(pod: PdPeer, bs: Bootstrap, req: PdRequest, reg: PdRegistry): PdPlan {
  if (bs.host !== pod.ip) {
    throw new PdRejection('wrong_host', `bootstrap_host is ${bs.host} but this prefill pod ${pod.name} is at ${pod.ip}: the decode pod would look for the room there`, 'bootstrap_host');
  }
  const taken = reg.rooms.reserve(bs.room, pod);
  if (taken) throw new PdRejection('reused', taken, 'bootstrap_room');
  return {
    kind: 'prefill', protocol: 'sglang', request: { holdKv: true },
    end: (result) => {
      if (!result?.heldKv) reg.rooms.unreserve(bs.room, pod);
      else {
        reg.rooms.publish({
          room: bs.room, prefill: pod, model: req.model, promptTokens: req.r.promptTokens.length, promptHash: req.promptHash,
          kv: result.heldKv,
        });
      }
      return undefined;
    },
  };
}

async function decodePlan(pod: PdPeer, bs: Bootstrap, req: PdRequest, reg: PdRegistry, closed: AbortSignal): Promise<PdPlan | null> {
  const isPrefill = (p: PdPeer): boolean => p.flavour === 'sglang' && canPrefill(p);
  const atHost = [...reg.pods].filter((p) => isPrefill(p) && p.ip === bs.host);
  if (atHost.length === 0) {
    const mine = [...reg.pods].filter((p) => isPrefill(p) && groupId(p) === groupId(pod)).map((p) => p.ip);
    throw new PdRejection(
      'wrong_host',
      `bootstrap_host ${bs.host} is not an SGLang prefill pod (prefill pods of this pod's group: ${mine.join(', ') || 'none'})`,
      'bootstrap_host',
    );
  }
  if (!atHost.some((p) => groupMismatch(p, pod) === null)) {
    throw new PdRejection('cross_group', groupMismatch(atHost[0], pod) as string, 'bootstrap_host');
  }
  const used = reg.rooms.claimedMessage(bs.room);
  if (used) throw new PdRejection('reused', used, 'bootstrap_room');
  const got = await reg.rooms.wait(bs.room, pod.engine.clock.toWallMs(SGLANG_ROOM_WAIT_MS), closed);
  if (got === 'aborted') return null;
  if (got === 'timeout') {
    throw new PdRejection(
      'room_timeout',
      `bootstrap room ${bs.room} was never prefilled: no prefill published it within ${SGLANG_ROOM_WAIT_MS / 1000} s ` +
        `(send the prefill request to ${bs.host} with the same bootstrap_room, at the same time as this one)`,
      'bootstrap_room',
    );
  }
  if (got.prefill.ip !== bs.host) {
    throw new PdRejection('wrong_host', `bootstrap room ${bs.room} was prefilled by pod ${got.prefill.name} at ${got.prefill.ip}, but bootstrap_host says ${bs.host}`, 'bootstrap_host');
  }
  const cross = groupMismatch(got.prefill, pod);
  if (cross) throw new PdRejection('cross_group', cross, 'bootstrap_host');
  checkSameRequest(got, req);
  const lost = reg.rooms.claim(got, pod.name);
  if (lost) throw new PdRejection('reused', lost, 'bootstrap_room');
  return {
    kind: 'decode', protocol: 'sglang', request: { remotePrefill: true, arrivalSim: req.arrivalSim },
    onKvLoaded: () => {
      reg.rooms.release(got);
      got.prefill.engine.stats.pd.transfers.sent.sglang++;
      pod.engine.stats.pd.transfers.received.sglang++;
    },
  };
}
