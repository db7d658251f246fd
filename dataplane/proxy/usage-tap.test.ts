import { UsageTap, findUsage } from './usage-tap';

describe('usage tap', () => {
  it.each([
    ['a JSON answer', '{"id":"x","choices":[{"text":"a \\"usage\\": {} b"}],"usage":{"prompt_tokens":5,"completion_tokens":16,"total_tokens":21}}', { promptTokens: 5, completionTokens: 16 }],
    ['the last stream event', 'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\ndata: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}\n\ndata: [DONE]\n\n', { promptTokens: 7, completionTokens: 3 }],
    ['no usage', '{"choices":[]}', null],
    ['usage null only', 'data: {"usage":null}\n\n', null],
    ['a cut-off object', '{"usage":{"prompt_tokens":5,', null],
  ])('finds usage in %s', (_name, text, expected) => expect(findUsage(text)).toEqual(expected));

  it('keeps only the tail of a long answer and still finds the usage', () => {
    const tap = new UsageTap();
    tap.push(Buffer.from(`{"choices":[{"text":"${'x'.repeat(100_000)}"}],`));
    for (let i = 0; i < 50; i++) tap.push(Buffer.from(' '.repeat(1000)));
    tap.push(Buffer.from('"usage":{"prompt_tokens":1,"completion_tokens":2}}'));
    expect(tap.usage()).toEqual({ promptTokens: 1, completionTokens: 2 });
  });

  it('counts stream events for streams without usage', () => {
    const tap = new UsageTap();
    tap.push(Buffer.from('data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":'));
    tap.push(Buffer.from('{"content":"b"}}]}\n\ndata: [DONE]\n\n'));
    expect(tap.events).toBe(2);
    expect(tap.usage()).toBeNull();
  });
});
