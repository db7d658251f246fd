import type { LoraState } from './engine-metrics';
import { mergeLora, parseModelList } from './models-adapter';

describe('parseModelList', () => {
  const vllm = JSON.stringify({
    object: 'list',
    data: [
      { id: 'meta-llama/Llama-3.1-8B-Instruct', object: 'model', owned_by: 'vllm', root: '/models/llama', parent: null, max_model_len: 8192 },
      { id: 'sql-lora', object: 'model', owned_by: 'vllm', root: '/adapters/sql', parent: 'meta-llama/Llama-3.1-8B-Instruct', max_model_len: null },
      { id: 'chat-lora', object: 'model', root: '/adapters/chat', parent: 'meta-llama/Llama-3.1-8B-Instruct' },
    ],
  });
  const cases: Array<[string, unknown, ReturnType<typeof parseModelList>]> = [
    ['vLLM with adapters', vllm, { models: ['meta-llama/Llama-3.1-8B-Instruct'], adapters: ['sql-lora', 'chat-lora'] }],
    ['already parsed', JSON.parse(vllm), { models: ['meta-llama/Llama-3.1-8B-Instruct'], adapters: ['sql-lora', 'chat-lora'] }],
    ['TGI: one model, no parent field', '{"object":"list","data":[{"id":"tgi","object":"model","created":0,"owned_by":"HuggingFaceH4/zephyr"}]}', { models: ['tgi'], adapters: [] }],
    ['parent equal to own id is not an adapter', '{"data":[{"id":"m","parent":"m"}]}', { models: ['m'], adapters: [] }],
    ['empty parent is not an adapter', '{"data":[{"id":"m","parent":""}]}', { models: ['m'], adapters: [] }],
    ['junk entries skipped, duplicates once', '{"data":[null,1,{"id":""},{"id":"a","parent":"m"},{"id":"a","parent":"m"}]}', { models: [], adapters: ['a'] }],
    ['not JSON', '<html>', null],
    ['no data array', '{"object":"list"}', null],
    ['null', null, null],
  ];
  it.each(cases)('%s', (_what, body, want) => {
    expect(parseModelList(body)).toEqual(want);
  });
});

describe('mergeLora', () => {
  const fromMetrics: LoraState = { active: ['a'], waiting: ['w'], maxLoras: 4 };
  const cases: Array<[string, LoraState | null, string[] | null, LoraState | null]> = [
    ['neither source', null, null, null],
    ['/v1/models never answered', fromMetrics, null, fromMetrics],
    ['no adapters registered', fromMetrics, [], { ...fromMetrics, registered: [] }],
    ['no adapters anywhere', null, [], null],
    ['metrics without LoRA: registered adapters are the best hint of active ones', null, ['x', 'y'], { active: ['x', 'y'], waiting: [], maxLoras: null, registered: ['x', 'y'] }],
    ['metrics say what runs, /v1/models what is registered', fromMetrics, ['b', 'a'], { active: ['a'], waiting: ['w'], maxLoras: 4, registered: ['b', 'a'] }],
  ];
  it.each(cases)('%s', (_what, m, loaded, want) => {
    expect(mergeLora(m, loaded)).toEqual(want);
  });

  it('never counts a registered adapter as resident when the metrics report LoRA state', () => {
    // Sixteen registered, four slots: only what runs is on a GPU slot.
    const all = Array.from({ length: 16 }, (_, i) => `a${i}`);
    expect(mergeLora({ active: ['a3'], waiting: [], maxLoras: 4 }, all)!.active).toEqual(['a3']);
  });
});
