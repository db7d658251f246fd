import { parseFloatToken, parsePrometheusText, type Sample } from './prometheus-text';

type Expected = Pick<Sample, 'name' | 'labels' | 'value'> & { timestampMs?: number | null };

function flat(text: string, only?: ReadonlySet<string>): { samples: Sample[]; skipped: number } {
  const r = parsePrometheusText(text, only ? { only } : {});
  return { samples: [...r.samples.values()].flat(), skipped: r.skipped };
}

describe('parsePrometheusText', () => {
  const cases: Array<[string, string, Expected[], number]> = [
    ['bare sample', 'up 1', [{ name: 'up', labels: {}, value: 1 }], 0],
    ['colon name, float', 'vllm:kv_cache_usage_perc{model_name="m"} 0.375', [{ name: 'vllm:kv_cache_usage_perc', labels: { model_name: 'm' }, value: 0.375 }], 0],
    ['exponent', 'x 1.2288e+06', [{ name: 'x', labels: {}, value: 1228800 }], 0],
    ['negative exponent', 'x -3.5E-3', [{ name: 'x', labels: {}, value: -0.0035 }], 0],
    ['+Inf bucket label and value', 'h_bucket{le="+Inf"} +Inf', [{ name: 'h_bucket', labels: { le: '+Inf' }, value: Infinity }], 0],
    ['-Inf', 'g -Inf', [{ name: 'g', labels: {}, value: -Infinity }], 0],
    ['NaN', 'g NaN', [{ name: 'g', labels: {}, value: NaN }], 0],
    ['timestamp', 'g{a="b"} 2 1712345678901', [{ name: 'g', labels: { a: 'b' }, value: 2, timestampMs: 1712345678901 }], 0],
    ['negative timestamp', 'g 2 -5', [{ name: 'g', labels: {}, value: 2, timestampMs: -5 }], 0],
    ['escaped quote', 'g{a="say \\"hi\\""} 1', [{ name: 'g', labels: { a: 'say "hi"' }, value: 1 }], 0],
    ['escaped backslash', 'g{path="C:\\\\dir"} 1', [{ name: 'g', labels: { path: 'C:\\dir' }, value: 1 }], 0],
    ['escaped newline', 'g{a="x\\ny"} 1', [{ name: 'g', labels: { a: 'x\ny' }, value: 1 }], 0],
    ['unknown escape kept', 'g{a="x\\ty"} 1', [{ name: 'g', labels: { a: 'x\\ty' }, value: 1 }], 0],
    ['comma and brace in value', 'g{a="x,y}z",b=""} 1', [{ name: 'g', labels: { a: 'x,y}z', b: '' }, value: 1 }], 0],
    ['trailing comma', 'g{a="1",} 1', [{ name: 'g', labels: { a: '1' }, value: 1 }], 0],
    ['blanks everywhere', '  g { a = "1" , b="2" }\t7  ', [{ name: 'g', labels: { a: '1', b: '2' }, value: 7 }], 0],
    ['empty braces', 'g{} 3', [{ name: 'g', labels: {}, value: 3 }], 0],
    ['no space after brace', 'g{a="1"}4', [{ name: 'g', labels: { a: '1' }, value: 4 }], 0],
    ['CRLF', 'a 1\r\nb 2\r\n', [{ name: 'a', labels: {}, value: 1 }, { name: 'b', labels: {}, value: 2 }], 0],
    ['HELP with odd text ignored', '# HELP g it\'s {"weird"} \\n\ng 1', [{ name: 'g', labels: {}, value: 1 }], 0],
    ['blank lines and comments', '\n\n# just a comment\n# EOF\n', [], 0],
    ['no value', 'g', [], 1],
    ['no value after labels', 'g{a="1"}', [], 1],
    ['bad value', 'g abc', [], 1],
    ['unterminated label value', 'g{a="1} 1', [], 1],
    ['backslash at end', 'g{a="1\\', [], 1],
    ['label without quotes', 'g{a=1} 1', [], 1],
    ['bad label name', 'g{1a="x"} 1', [], 1],
    ['missing comma', 'g{a="1" b="2"} 1', [], 1],
    ['name runs into junk', 'foo-bar 1', [], 1],
    ['bad timestamp', 'g 1 12.5', [], 1],
    ['junk after timestamp', 'g 1 12 x', [], 1],
    ['starts with digit', '9g 1', [], 1],
    ['bad lines do not stop the rest', 'ok 1\n{bad} 2\nalso_ok 3', [{ name: 'ok', labels: {}, value: 1 }, { name: 'also_ok', labels: {}, value: 3 }], 1],
  ];

  it.each(cases)('%s', (_what, text, expected, skipped) => {
    const r = flat(text);
    expect(r.skipped).toBe(skipped);
    expect(r.samples).toHaveLength(expected.length);
    r.samples.forEach((s, i) => {
      const e = expected[i]!;
      expect(s.name).toBe(e.name);
      expect({ ...s.labels }).toEqual(e.labels);
      if (Number.isNaN(e.value)) expect(s.value).toBeNaN();
      else expect(s.value).toBe(e.value);
      expect(s.timestampMs).toBe(e.timestampMs ?? null);
    });
  });

  it('groups samples by name in body order and reads TYPE lines', () => {
    const r = parsePrometheusText(
      ['# TYPE h histogram', 'h_sum{m="a"} 1', 'h_count{m="a"} 2', 'h_sum{m="b"} 3', '# TYPE bad', '# TYPE g gauge extra'].join('\n'),
    );
    expect(r.samples.get('h_sum')!.map((s) => s.labels.m)).toEqual(['a', 'b']);
    expect(r.samples.get('h_count')).toHaveLength(1);
    expect(r.types.get('h')).toBe('histogram');
    expect(r.types.has('bad')).toBe(false);
    expect(r.skipped).toBe(2);
  });

  it('with `only`, skips other names without parsing their labels', () => {
    const r = flat('keep{a="1"} 1\ndrop{broken 2\nkeep 3', new Set(['keep']));
    expect(r.samples.map((s) => s.value)).toEqual([1, 3]);
    expect(r.skipped).toBe(0);
  });

  it('keeps a __proto__ label as data', () => {
    const [s] = flat('g{__proto__="x",constructor="y"} 1').samples;
    expect(s!.labels.__proto__).toBe('x');
    expect(s!.labels.constructor).toBe('y');
  });

  it('survives a large body quickly', () => {
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) lines.push(`vllm:x_bucket{engine="0",le="${i}",model_name="m"} ${i}.0`);
    lines.push('vllm:x_sum{engine="0",model_name="m"} 5');
    const t0 = performance.now();
    const r = parsePrometheusText(lines.join('\n'), { only: new Set(['vllm:x_sum']) });
    expect(performance.now() - t0).toBeLessThan(2000); // ~20 ms unloaded; generous for a busy CI box
    expect(r.samples.get('vllm:x_sum')![0]!.value).toBe(5);
  });
});

describe('parseFloatToken', () => {
  it.each([
    ['1', 1],
    ['1.0', 1],
    ['.5', 0.5],
    ['Inf', Infinity],
    ['+inf', Infinity],
    ['-INF', -Infinity],
    ['Infinity', Infinity],
    ['nan', NaN],
    ['', undefined],
    ['1,5', undefined],
    ['one', undefined],
  ])('%s', (tok, want) => {
    const v = parseFloatToken(tok);
    if (typeof want === 'number' && Number.isNaN(want)) expect(v).toBeNaN();
    else expect(v).toBe(want);
  });
});
