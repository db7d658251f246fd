import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { RelayHandler, type AttemptResult } from './relay-handler';
import { UsageTap } from './usage-tap';

const event = (i: number) => `data: {"choices":[{"text":"t${i}"}]}\n\n`;

/** A relay on a response that swallows what it is given, with a clock the test moves. */
function relay(interToken: boolean) {
  const gaps: number[] = [];
  const written: string[] = [];
  const res = { writeHead: () => res, write: (c: Buffer) => written.push(c.toString()) > 0, end: () => undefined, once: () => res } as unknown as ServerResponse;
  const results: AttemptResult[] = [];
  const h = new RelayHandler(res, false, false, new UsageTap(), null, Date.now(), interToken ? { observe: (s) => gaps.push(s) } : null, (r) => results.push(r));
  const controller = { pause: () => undefined, resume: () => undefined, abort: () => undefined } as unknown as Dispatcher.DispatchController;
  h.onRequestStart(controller);
  h.onResponseStart(controller, 200, { 'content-type': 'text/event-stream' });
  let now = 1000;
  jest.spyOn(performance, 'now').mockImplementation(() => now);
  const chunk = (atMs: number, text: string) => {
    now = atMs;
    h.onResponseData(controller, Buffer.from(text));
  };
  return { h, gaps, written, results, chunk };
}

afterEach(() => jest.restoreAllMocks());

describe('RelayHandler timing', () => {
  it.each([
    ['one event per chunk: one gap per event after the first', [[1000, event(1)], [1020, event(2)], [1050, event(3)]], [0.02, 0.03]],
    ['several events in a chunk share its gap evenly', [[1000, event(1)], [1040, event(2) + event(3) + event(4) + event(5)]], [0.01, 0.01, 0.01, 0.01]],
    ['events of the first chunk only start the clock', [[1000, event(1) + event(2)], [1005, event(3)]], [0.005]],
    ['a chunk without an event (a split event, [DONE]) observes nothing', [[1000, event(1)], [1010, 'data: [DONE]\n\n'], [1030, event(2)]], [0.03]],
  ] as const)('%s', (_name, chunks, want) => {
    const r = relay(true);
    for (const [at, text] of chunks) r.chunk(at, text);
    r.h.onResponseEnd();
    expect(r.gaps.map((g) => Math.round(g * 1e6) / 1e6)).toEqual(want);
    expect(r.results).toEqual([{ kind: 'relayed', status: 200 }]);
  });

  it('records the first relayed byte once, and observes no gaps without an observer', () => {
    const r = relay(false);
    expect(r.h.firstByteAfterMs).toBeNull();
    r.chunk(1000, event(1));
    const first = r.h.firstByteAfterMs;
    expect(first).not.toBeNull();
    expect(first!).toBeGreaterThanOrEqual(0);
    r.chunk(2000, event(2));
    expect(r.h.firstByteAfterMs).toBe(first);
    expect(r.gaps).toEqual([]);
    expect(r.written).toEqual([event(1), event(2)]);
  });
});
