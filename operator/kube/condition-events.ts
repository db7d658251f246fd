/**
 * Which condition changes become Events (event-recorder.ts): an object refused (Accepted turns
 * False, or its refusal message changes: a new bad edit), accepted again after a refusal, and a
 * ModelRoute's Programmed state changing: programmed at a new generation, or not programmed for a
 * reason other than the transient Pending of a push in flight.
 *
 * The first time an object is seen, its stored conditions are the baseline, so a restarted
 * operator does not repeat events for what was already shown.
 */
import type { CompiledCondition } from '../../shared/snapshot/conditions';

/** One event to record, without its subject. */
export interface ConditionEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
}

interface Seen {
  accepted: string;
  programmed: string;
}

const acceptedState = (c: CompiledCondition | undefined) => (c ? (c.status === 'False' ? `False ${c.message}` : c.status) : '');
/** Pending is a push in flight: not a state of its own, the last one holds until it settles. */
const programmedState = (c: CompiledCondition | undefined, last: string) =>
  (!c || c.reason === 'Pending' ? last : `${c.status} ${c.reason} ${c.observedGeneration ?? ''}`);

/** Remembers each object's last evented state and says which changes need an Event. */
export class ConditionEvents {
  private readonly seen = new Map<string, Seen>();

  /**
   * `key` names the object; `stored` is what its status shows now (the baseline the first time),
   * `next` what is about to be written.
   */
  changes(key: string, stored: readonly CompiledCondition[], next: readonly CompiledCondition[]): ConditionEvent[] {
    const find = (list: readonly CompiledCondition[], type: string) => list.find((c) => c.type === type);
    const was = this.seen.get(key) ?? { accepted: acceptedState(find(stored, 'Accepted')), programmed: programmedState(find(stored, 'Programmed'), '') };
    const accepted = find(next, 'Accepted');
    const programmed = find(next, 'Programmed');
    const now: Seen = { accepted: acceptedState(accepted) || was.accepted, programmed: programmedState(programmed, was.programmed) };
    this.seen.set(key, now);
    const out: ConditionEvent[] = [];
    if (accepted && now.accepted !== was.accepted) {
      if (accepted.status === 'False') out.push({ type: 'Warning', reason: 'Refused', action: 'Validate', note: accepted.message });
      else if (was.accepted.startsWith('False')) out.push({ type: 'Normal', reason: 'Accepted', action: 'Validate', note: accepted.message || 'accepted again' });
    }
    if (programmed && programmed.reason !== 'Pending' && now.programmed !== was.programmed) {
      const gen = programmed.observedGeneration !== undefined ? `generation ${programmed.observedGeneration} ` : '';
      out.push(programmed.status === 'True'
        ? { type: 'Normal', reason: 'Programmed', action: 'Program', note: `${gen}${programmed.message}` }
        : { type: 'Warning', reason: programmed.reason || 'NotProgrammed', action: 'Program', note: programmed.message });
    }
    return out;
  }

  /** Forgets an object (deleted). */
  forget(key: string): void {
    this.seen.delete(key);
  }
}
