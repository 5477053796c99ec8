import { describe, expect, it } from 'vitest';
import { compileSelector, selects } from './selector.ts';

describe('Calico selectors', () => {
  const worker = { 'kubernetes.io/hostname': 'worker-1', zone: 'a', 'route-reflector': 'true' };
  it.each([
    ['all()', true],
    ['', true],
    ["zone == 'a'", true],
    ['zone == "b"', false],
    ["zone != 'b'", true],
    ['has(zone)', true],
    ['!has(rack)', true],
    ["zone in {'a', 'c'}", true],
    ["zone not in {'a'}", false],
    ["has(zone) && kubernetes.io/hostname == 'worker-1'", true],
    ["zone == 'b' || route-reflector == 'true'", true],
    ["!(zone == 'a' && has(rack))", true],
    ["instance == 'x'", false],
  ])('%s -> %s', (selector, expected) => {
    expect(selects(selector, worker)).toBe(expected);
  });

  it('names the place a broken selector goes wrong, and selects nothing', () => {
    expect(() => compileSelector("zone = 'a'")).toThrow(/zone = 'a'/);
    expect(selects("zone == 'a' &&", worker)).toBe(false);
  });
});
