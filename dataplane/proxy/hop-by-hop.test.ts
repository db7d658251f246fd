import { endToEndHeaders } from './hop-by-hop';

describe('endToEndHeaders', () => {
  it.each([
    ['expect (undici refuses it)', { expect: '100-continue' }, true, []],
    ['the connection-level set', { connection: 'keep-alive', 'keep-alive': 'timeout=5', te: 'trailers', trailer: 'x', 'transfer-encoding': 'chunked', upgrade: 'h2c' }, true, []],
    ['any proxy- header', { 'proxy-authorization': 'Basic x', 'proxy-foo': '1' }, true, []],
    ['headers named in Connection, case-insensitively', { connection: 'close, X-Secret-Hop', 'x-secret-hop': '1', 'x-kept': '2' }, true, ['x-kept']],
    ['host and content-length (set again for the bytes sent)', { host: 'a', 'content-length': '3', 'content-type': 'application/json' }, true, ['content-type']],
    ['expect on a response is left alone', { expect: 'x' }, false, ['expect']],
  ])('drops %s', (_name, headers, request, kept) => {
    expect(Object.keys(endToEndHeaders(headers, request)).sort()).toEqual(kept);
  });

  it('keeps the one header asked for even though it is hop-by-hop', () => {
    expect(endToEndHeaders({ 'content-length': '5', connection: 'close' }, false, 'content-length')).toEqual({ 'content-length': '5' });
  });

  it('does not mutate its input', () => {
    const h = { expect: '100-continue', a: '1' };
    endToEndHeaders(h, true);
    expect(h).toEqual({ expect: '100-continue', a: '1' });
  });
});
