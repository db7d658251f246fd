import type { CompiledCondition } from '../../shared/snapshot/conditions';
import { ConditionEvents } from './condition-events';

const acc = (status: 'True' | 'False', message = ''): CompiledCondition => ({ type: 'Accepted', status, reason: status === 'True' ? 'Accepted' : 'Invalid', message });
const prog = (reason: string, gen: number, message = 'applied on 1/1 data-plane replicas (snapshot 3)'): CompiledCondition =>
  ({ type: 'Programmed', status: reason === 'Programmed' ? 'True' : 'False', reason, message, observedGeneration: gen });

describe('ConditionEvents', () => {
  it.each([
    ['nothing for an object already showing the same state (operator restart)', [acc('True'), prog('Programmed', 1)], [acc('True'), prog('Programmed', 1)], []],
    ['Refused when Accepted turns False', [acc('True'), prog('Programmed', 1)], [acc('False', 'generation 2 refused: a'), prog('Programmed', 1)], ['Warning Refused generation 2 refused: a']],
    ['Programmed for a new object', [], [acc('True'), prog('Programmed', 1)], ['Normal Programmed generation 1 applied on 1/1 data-plane replicas (snapshot 3)']],
    ['Programmed at a new generation', [acc('True'), prog('Programmed', 1)], [acc('True'), prog('Programmed', 2)], ['Normal Programmed generation 2 applied on 1/1 data-plane replicas (snapshot 3)']],
    ['nothing for Pending, a push in flight', [acc('True'), prog('Programmed', 1)], [acc('True'), prog('Pending', 2)], []],
    ['a Warning when no data plane serves it', [acc('True'), prog('Programmed', 1)], [acc('True'), prog('NoDataPlane', 1, 'no data-plane pod matches x')], ['Warning NoDataPlane no data-plane pod matches x']],
  ] as const)('%s', (_, stored, next, want) => {
    const ev = new ConditionEvents();
    expect(ev.changes('k', stored, next).map((e) => `${e.type} ${e.reason} ${e.note}`)).toEqual(want);
  });

  it('follows its own memory after the first call: a second bad edit is a new refusal, a fix is Accepted', () => {
    const ev = new ConditionEvents();
    const p = prog('Programmed', 1);
    expect(ev.changes('k', [acc('True'), p], [acc('False', 'generation 2 refused: a'), p])).toHaveLength(1);
    // The stored status lags (informer cache): the writer's memory decides, so no repeat.
    expect(ev.changes('k', [acc('True'), p], [acc('False', 'generation 2 refused: a'), p])).toEqual([]);
    expect(ev.changes('k', [acc('True'), p], [acc('False', 'generation 3 refused: b'), p]).map((e) => e.reason)).toEqual(['Refused']);
    expect(ev.changes('k', [], [acc('True'), prog('Pending', 4)]).map((e) => e.reason)).toEqual(['Accepted']);
    expect(ev.changes('k', [], [acc('True'), prog('Programmed', 4)]).map((e) => e.reason)).toEqual(['Programmed']);
  });
});
