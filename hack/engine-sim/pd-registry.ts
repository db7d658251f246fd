/**
 * Process-wide prefill/decode state. Every simulated pod lives in this process, so what real
 * engines exchange over NIXL side channels, SGLang bootstrap servers and LMCache is kept here:
 * the live pods, NIXL transfers, SGLang rooms and each group's LMCache store. Pods from separate
 * startEngineSim calls in one process see each other; a closing pod takes its entries with it.
 */
import { LmcacheStores } from './lmcache-store';
import { NixlRegistry } from './nixl-registry';
import type { PdPeer } from './pd-peer';
import { SglangRooms } from './sglang-rooms';

/** The shared PD state. */
export class PdRegistry {
  /** Listening pods. */
  readonly pods = new Set<PdPeer>();
  /** NIXL transfers by engine id and block ids. */
  readonly nixl = new NixlRegistry();
  /** SGLang bootstrap rooms. */
  readonly rooms = new SglangRooms();
  /** LMCache stores by group. */
  readonly lmcache = new LmcacheStores();

  /** A pod started listening. */
  add(pod: PdPeer): void {
    this.pods.add(pod);
    this.lmcache.join(pod);
  }

  /** A pod is closing: forget it and everything it prefilled. */
  remove(pod: PdPeer): void {
    this.pods.delete(pod);
    this.nixl.dropPod(pod);
    this.rooms.dropPod(pod);
    this.lmcache.leave(pod);
  }
}

/** The one registry of this process. */
export const PD_REGISTRY = new PdRegistry();
