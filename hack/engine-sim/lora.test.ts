import { LoraManager } from './lora';

describe('LoraManager', () => {
  it('registers preloaded adapters and makes the first maxLoras resident', () => {
    const m = new LoraManager(2, ['a', 'b', 'c']);
    expect(m.list().map((l) => l.name)).toEqual(['a', 'b', 'c']);
    expect(m.residentNames()).toEqual(['a', 'b']);
    expect(m.isResident('c')).toBe(false);
  });

  it.each([
    // [name, acquire sequence (release after each), expected resident LRU->MRU, loads]
    ['resident hit costs nothing', ['a'], ['b', 'a'], 0],
    ['miss evicts least recently used', ['c'], ['b', 'c'], 1],
    ['touching a protects it', ['a', 'c'], ['a', 'c'], 1],
    ['alternating misses thrash', ['c', 'a', 'b'], ['a', 'b'], 3],
  ])('%s', (_name, order, resident, loads) => {
    const m = new LoraManager(2, ['a', 'b', 'c']);
    for (const name of order) {
      expect(m.acquire(name)).not.toBeNull();
      m.release(name);
    }
    expect(m.residentNames()).toEqual(resident);
    expect(m.loads).toBe(loads);
  });

  it('reports a load and the evicted adapter', () => {
    const m = new LoraManager(1, ['a', 'b']);
    expect(m.acquire('b')).toEqual({ loaded: true, evicted: 'a' });
    expect(m.acquire('b')).toEqual({ loaded: false, evicted: null });
  });

  it('does not evict adapters in use; the request must wait', () => {
    const m = new LoraManager(1, ['a', 'b']);
    expect(m.acquire('a')).not.toBeNull();
    expect(m.canAcquire('b')).toBe(false);
    expect(m.acquire('b')).toBeNull();
    m.release('a');
    expect(m.canAcquire('b')).toBe(true);
  });

  it('register / unregister like load_lora_adapter / unload_lora_adapter', () => {
    const m = new LoraManager(2);
    expect(m.register('x', '/p/x')).toBe(true);
    expect(m.register('x', '/p/x')).toBe(false);
    expect(m.warm('x')).toEqual({ loaded: true, evicted: null });
    expect(m.isResident('x')).toBe(true);
    expect(m.unregister('x')).toBe(true);
    expect(m.isResident('x')).toBe(false);
    expect(m.unregister('x')).toBe(false);
  });

  it('keeps an unregistered adapter resident until its last user finishes', () => {
    const m = new LoraManager(2, ['a']);
    m.acquire('a');
    m.unregister('a');
    expect(m.isResident('a')).toBe(true);
    m.release('a');
    expect(m.isResident('a')).toBe(false);
  });
});
