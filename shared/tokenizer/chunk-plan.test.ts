import { chunkEnds, planChunking, type ChunkPlan } from './chunk-plan';

const QWEN_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };

function qwenLike(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: { type: 'BPE', dropout: null },
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN_SPLIT }, behavior: 'Isolated', invert: false }, byteLevel] },
    post_processor: byteLevel,
    added_tokens: [{ content: '<|im_start|>', lstrip: false, rstrip: false, single_word: false, normalized: false }],
    ...over,
  };
}

function chunked(p: ChunkPlan): Extract<ChunkPlan, { chunked: true }> {
  if (!p.chunked) throw new Error(p.reason);
  return p;
}

describe('planChunking', () => {
  it('accepts a Qwen-style tokenizer with newline cuts and no affixes', () => {
    const p = chunked(planChunking(qwenLike()));
    expect(p).toMatchObject({ family: 'llama3', newlineCuts: true, prefixIds: [], suffixIds: [] });
  });

  it('accepts GPT-2 style ByteLevel with its built-in regex, without newline cuts', () => {
    const p = chunked(planChunking(qwenLike({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true } })));
    expect(p.newlineCuts).toBe(false);
  });

  it("reads a TemplateProcessing post-processor's affixes (Llama 3's BOS)", () => {
    const pp = {
      type: 'Sequence',
      processors: [byteLevel, {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<eos>', type_id: 0 } }],
        special_tokens: { '<bos>': { id: '<bos>', ids: [7] }, '<eos>': { id: '<eos>', ids: [9] } },
      }],
    };
    expect(chunked(planChunking(qwenLike({ post_processor: pp })))).toMatchObject({ prefixIds: [7], suffixIds: [9] });
  });

  it.each([
    ['a non-BPE model', { model: { type: 'Unigram' } }, /not BPE/],
    ['BPE dropout', { model: { type: 'BPE', dropout: 0.1 } }, /dropout/],
    ['an NFKC normalizer', { normalizer: { type: 'NFKC' } }, /normalizer NFKC/],
    ['a Metaspace pre-tokenizer', { pre_tokenizer: { type: 'Metaspace' } }, /Metaspace/],
    ['a prefix space', { pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } }, /prefix space/],
    ['an unknown split regex', { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Isolated' }, byteLevel] } }, /not one of/],
    ['a BERT post-processor', { post_processor: { type: 'BertProcessing' } }, /BertProcessing/],
    ['an lstrip added token', { added_tokens: [{ content: '<m>', lstrip: true }] }, /strips/],
    ['an added token with a space', { added_tokens: [{ content: 'a b' }] }, /whitespace/],
  ])('refuses %s', (_name, over, reason) => {
    const p = planChunking(qwenLike(over as Record<string, unknown>));
    expect(p.chunked).toBe(false);
    if (!p.chunked) expect(p.reason).toMatch(reason);
  });
});

describe('chunkEnds', () => {
  const plan = chunked(planChunking(qwenLike()));
  const gpt2 = chunked(planChunking(qwenLike({ pre_tokenizer: { type: 'ByteLevel', use_regex: true } })));

  it.each([
    ['cut A before " word" once minChars is reached', 'aaaa bbbb cccc', 4, plan, [4, 9, 14]],
    ['no cut before a space followed by a digit or symbol', 'aaaa 1111 ++++', 4, plan, [14]],
    ['cut B after a newline before a letter', 'ab\n世界\nxy', 2, plan, [3, 6, 8]],
    ['no cut B for the GPT-2 family', 'ab\n世界\nxy', 2, gpt2, [8]],
    ['cut C right after an added token', 'ab<|im_start|>cd', 2, plan, [14, 16]],
    ['text shorter than minChars is one chunk', 'ab cd', 100, plan, [5]],
    ['empty text', '', 4, plan, [0]],
  ])('%s', (_name, text, min, p, ends) => {
    expect(chunkEnds(text as string, p as typeof plan, min as number)).toEqual(ends);
  });

  it('cuts depend only on the text before them: a shared prefix gives shared cuts', () => {
    const base = 'lorem ipsum dolor sit amet '.repeat(200);
    const a = chunkEnds(base + 'first ending', plan, 100);
    const b = chunkEnds(base + 'a different and longer ending', plan, 100);
    const sharedA = a.filter((e) => e < base.length - 1);
    expect(sharedA.length).toBeGreaterThan(10);
    expect(b.slice(0, sharedA.length)).toEqual(sharedA);
  });
});
