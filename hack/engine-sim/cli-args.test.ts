import { buildOptions, parseCliArgs, parsePodSpec, usageText } from './cli-args';
import { resolveProfile } from './profile';

describe('parsePodSpec', () => {
  it('parses every key, loras colon-separated', () => {
    expect(
      parsePodSpec('name=p1,ip=127.0.0.2,port=8000,model=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B,engine=sglang,loras=lora-A:lora-B,role=prefill,group=g1,namespace=ns'),
    ).toEqual({
      name: 'p1', ip: '127.0.0.2', port: 8000, model: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B', engine: 'sglang',
      loras: ['lora-A', 'lora-B'], role: 'prefill', group: 'g1', namespace: 'ns',
    });
  });

  it.each([
    ['unknown key', 'name=p,colour=red'],
    ['missing =', 'name=p,model'],
    ['bad port', 'name=p,port=eighty'],
  ])('rejects %s', (_name, text) => {
    expect(() => parsePodSpec(text)).toThrow();
  });
});

describe('parseCliArgs', () => {
  it('collects pods, time scale and profile flags in both --f v and --f=v forms', () => {
    const a = parseCliArgs([
      '--pod', 'name=a,ip=127.0.0.2,port=8000,model=m',
      '--pod=name=b,ip=127.0.0.3,port=8000,model=m',
      '--time-scale', '10', '--max-num-seqs=32', '--block-size', '32', '--lora-load-ms', '50',
    ]);
    expect(a.pods.map((p) => p.name)).toEqual(['a', 'b']);
    expect(a.timeScale).toBe(10);
    expect(a.profile).toEqual({ maxNumSeqs: 32, blockSize: 32, loraLoadMs: 50 });
  });

  it.each([
    ['unknown flag', ['--nope', '1']],
    ['missing value', ['--time-scale']],
    ['non-number', ['--max-num-seqs', 'lots']],
    ['positional', ['stray']],
  ])('rejects %s', (_name, argv) => {
    expect(() => parseCliArgs(argv)).toThrow();
  });

  it('recognises --help', () => {
    expect(parseCliArgs(['--help']).help).toBe(true);
    expect(usageText()).toContain('--max-num-seqs');
  });
});

describe('buildOptions', () => {
  it('appends CLI pods to config pods and lets the CLI override', () => {
    const args = parseCliArgs(['--pod', 'name=b,ip=127.0.0.3,port=8000,model=m', '--decode-base-ms', '5']);
    const o = buildOptions(args, {
      pods: [{ name: 'a', ip: '127.0.0.2', port: 8000, model: 'm' }],
      timeScale: 4,
      profile: { decodeBaseMs: 20, maxLoras: 2 },
    });
    expect(o.pods.map((p) => p.name)).toEqual(['a', 'b']);
    expect(o.timeScale).toBe(4);
    expect(o.profile).toEqual({ decodeBaseMs: 5, maxLoras: 2 });
  });

  it.each([
    ['--api-key wins over the config and VLLM_API_KEY', ['--api-key', 'k1', '--api-key=k2'], { apiKey: 'c' }, { VLLM_API_KEY: 'e' }, ['k1', 'k2']],
    ['the config wins over VLLM_API_KEY', [], { apiKey: 'c' }, { VLLM_API_KEY: 'e' }, 'c'],
    ['VLLM_API_KEY is the fallback', [], {}, { VLLM_API_KEY: 'e' }, 'e'],
    ['an empty VLLM_API_KEY is no key', [], {}, { VLLM_API_KEY: '' }, undefined],
    ['no key anywhere', [], {}, {}, undefined],
  ] as const)('api key: %s', (_name, argv, config, env, want) => {
    expect(buildOptions(parseCliArgs(argv), config, env).apiKey).toEqual(want);
  });

  it('takes vLLM\'s --ssl-keyfile/--ssl-certfile and per-pod api-key/ssl-* keys', () => {
    const args = parseCliArgs([
      '--ssl-keyfile', '/k.pem', '--ssl-certfile=/c.pem',
      '--pod', 'name=a,ip=127.0.0.2,port=0,model=m,api-key=pk,ssl-keyfile=/a.key,ssl-certfile=/a.crt',
    ]);
    const o = buildOptions(args, { sslKeyfile: '/other.pem' });
    expect(o).toMatchObject({ sslKeyfile: '/k.pem', sslCertfile: '/c.pem' });
    expect(o.pods[0]).toMatchObject({ apiKey: 'pk', sslKeyfile: '/a.key', sslCertfile: '/a.crt' });
    expect(usageText()).toMatch(/--api-key KEY[\s\S]*--ssl-keyfile PATH[\s\S]*--ssl-certfile PATH/);
  });

  it('rejects unknown profile fields in the config', () => {
    expect(() => buildOptions(parseCliArgs([]), { profile: { typo: 1 } as never })).toThrow(/typo/);
  });
});

describe('resolveProfile', () => {
  it.each([
    [{ maxNumSeqs: 0 }],
    [{ blockSize: 1.5 }],
    [{ decodeBaseMs: -1 }],
    [{ prefillMsPerToken: Number.NaN }],
  ])('rejects %j', (p) => {
    expect(() => resolveProfile(p)).toThrow();
  });

  it('keeps defaults for fields not given', () => {
    expect(resolveProfile({ maxLoras: 8 })).toMatchObject({ maxLoras: 8, blockSize: 16, maxNumSeqs: 256 });
  });
});
