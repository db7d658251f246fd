import { estimateInputTokens } from './token-estimate';

describe('estimateInputTokens', () => {
  it.each([
    ['a prompt string', { prompt: 'San Francisco is a' }, 5],
    ['token ids', { prompt: [1, 2, 3, 4] }, 4],
    ['batches of token ids', { prompt: [[1, 2], [3]] }, 3],
    ['chat messages (role markers count)', { messages: [{ role: 'user', content: 'hello there' }] }, 6],
    ['nothing', { model: 'm' }, 1],
  ])('%s', (_name, body, expected) => expect(estimateInputTokens(body)).toBe(expected));
});
