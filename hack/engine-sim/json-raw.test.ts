import { topLevelRawValue } from './json-raw';

describe('topLevelRawValue', () => {
  it.each([
    ['a plain member', '{"a":1,"bootstrap_room":9223372036854775807}', '9223372036854775807'],
    ['whitespace around', '{ "bootstrap_room" :  12345678901234567890 , "b": 2 }', '12345678901234567890'],
    ['nested look-alikes skipped', '{"x":{"bootstrap_room":1},"y":["bootstrap_room",2],"bootstrap_room":3}', '3'],
    ['look-alike inside a string', '{"prompt":"say \\"bootstrap_room\\": 5","bootstrap_room":7}', '7'],
    ['escaped backslash before a quote', '{"prompt":"c:\\\\","bootstrap_room":8}', '8'],
    ['the last duplicate, as JSON.parse', '{"bootstrap_room":1,"bootstrap_room":2}', '2'],
    ['a string value', '{"bootstrap_room":"42"}', '"42"'],
    ['absent', '{"a":{"b":[1,2,{"c":"}"}]}}', undefined],
    ['an empty object', '{}', undefined],
  ])('%s', (_name, text, want) => {
    JSON.parse(text); // the helper only sees bodies JSON.parse accepted
    expect(topLevelRawValue(text, 'bootstrap_room')).toBe(want);
  });
});
