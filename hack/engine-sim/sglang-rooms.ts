/**
 * SGLang bootstrap rooms: SGLang's router sends the prefill and the decode request at the same
 * time, both naming `bootstrap_room`; the decode server waits until the prefill server has the
 * room's KV, then pulls it. All pods live in one process, so this registry stands in for the
 * bootstrap server: room -> the prefill that produced it.
 *
 * A room is reserved when its prefill request arrives (a second prefill for it is refused),
 * published with its KV when the prefill finishes, and claimed once by a decode pod. The prefill
 * pod keeps the KV until the decode pod has pulled it or SGLANG_KV_HOLD_MS have passed.
 */
import type { HeldKv } from './engine';
import type { PdPeer } from './pd-peer';

/** SGLang's default --disaggregation-bootstrap-port. */
export const SGLANG_BOOTSTRAP_PORT = 8998;
/** How long a decode request waits for its room to be prefilled, simulated ms. */
export const SGLANG_ROOM_WAIT_MS = 30_000;
/** How long a prefill pod keeps an unclaimed room's KV, simulated ms (as NIXL's 480 s). */
export const SGLANG_KV_HOLD_MS = 480_000;

/** Claimed rooms remembered for error messages. */
const TOMBSTONES = 4096;

/** A prefilled room. */
export interface SglangRoom {
  /** Canonical decimal room number. */
  room: string;
  prefill: PdPeer;
  /** The request's model name (base or adapter). */
  model: string;
  promptTokens: number;
  /** hashTokens of the prompt. */
  promptHash: number;
  kv: HeldKv;
}

/** What a decode request's wait ended with. */
export type RoomWait = SglangRoom | 'timeout' | 'aborted';

/** Rooms by number. */
export class SglangRooms {
  private readonly reserved = new Map<string, PdPeer>();
  private readonly ready = new Map<string, SglangRoom>();
  /** Rooms whose KV is still held (ready, or claimed and in flight), with their release timers. */
  private readonly held = new Map<SglangRoom, NodeJS.Timeout>();
  private readonly waiters = new Map<string, Set<(r: SglangRoom) => void>>();
  private readonly claimed = new Map<string, string>();

  /** Reserve `room` for a prefill on `pod`; returns why it cannot be, or null. */
  reserve(room: string, pod: PdPeer): string | null {
    const used = this.claimed.get(room);
    if (used) return used;
    const owner = this.reserved.get(room) ?? this.ready.get(room)?.prefill;
    if (owner) return `bootstrap room ${room} is already in use by a prefill on pod ${owner.name}; every request pair needs its own room`;
    this.reserved.set(room, pod);
    return null;
  }

  /** Give up a reservation (the prefill failed or its client left). */
  unreserve(room: string, pod: PdPeer): void {
    if (this.reserved.get(room) === pod) this.reserved.delete(room);
  }

  /** The prefill finished: the room's KV is ready; wake decode requests waiting for it. */
  publish(r: SglangRoom): void {
    this.reserved.delete(r.room);
    this.ready.set(r.room, r);
    const timer = setTimeout(() => {
      this.release(r);
      if (this.ready.get(r.room) === r) this.ready.delete(r.room);
    }, r.prefill.engine.clock.toWallMs(SGLANG_KV_HOLD_MS));
    timer.unref();
    this.held.set(r, timer);
    for (const wake of [...(this.waiters.get(r.room) ?? [])]) wake(r);
  }

  /** Why `room` cannot be claimed any more (it was), or undefined. */
  claimedMessage(room: string): string | undefined {
    return this.claimed.get(room);
  }

  /** Wait (wall ms) until `room` is published, the wait times out or `signal` aborts. */
  wait(room: string, wallMs: number, signal: AbortSignal): Promise<RoomWait> {
    const now = this.ready.get(room);
    if (now) return Promise.resolve(now);
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      const set = this.waiters.get(room) ?? new Set<(r: SglangRoom) => void>();
      this.waiters.set(room, set);
      const done = (v: RoomWait): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(room) === set) this.waiters.delete(room);
        resolve(v);
      };
      const wake = (r: SglangRoom): void => done(r);
      const onAbort = (): void => done('aborted');
      const timer = setTimeout(() => done('timeout'), wallMs);
      set.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Take `r` for `decodePod`; returns why not when another decode took it first. */
  claim(r: SglangRoom, decodePod: string): string | null {
    if (this.ready.get(r.room) !== r) return this.claimed.get(r.room) ?? `bootstrap room ${r.room} is no longer available`;
    this.ready.delete(r.room);
    this.claimed.set(r.room, `bootstrap room ${r.room} was already used by decode pod ${decodePod}: every request pair needs its own room`);
    // Map order is insertion order: drop the oldest.
    if (this.claimed.size > TOMBSTONES) this.claimed.delete(this.claimed.keys().next().value as string);
    return null;
  }

  /** Free a room's KV on its prefill pod (pulled, or expired). */
  release(r: SglangRoom): void {
    const timer = this.held.get(r);
    if (timer === undefined) return;
    clearTimeout(timer);
    r.kv.release();
    this.held.delete(r);
  }

  /** Forget everything a closing pod prefilled. */
  dropPod(pod: PdPeer): void {
    for (const [room, p] of this.reserved) if (p === pod) this.reserved.delete(room);
    for (const [room, r] of this.ready) if (r.prefill === pod) this.ready.delete(room);
    for (const r of [...this.held.keys()]) if (r.prefill === pod) this.release(r);
  }
}
