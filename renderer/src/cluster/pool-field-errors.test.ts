import { describe, expect, it } from 'vitest';
import { poolFieldErrors } from './pool-field-errors.ts';

const fields = { cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false } as const;

describe('the IP pool form checks a name as the API server does', () => {
  it('accepts a Kubernetes name with dotted parts', () => {
    expect(poolFieldErrors('pool.a-1', fields)).toEqual({});
  });

  it.each(['', 'Pool', 'a..b', 'a.-b', '-a', 'a_b'])('refuses %j under the name field', (name) => {
    expect(poolFieldErrors(name, fields).name).toMatch(/lowercase letters, digits/);
  });

  it('names the spec field of a bad CIDR', () => {
    expect(Object.keys(poolFieldErrors('p', { ...fields, cidr: '10.0.0.0/33' }))).toEqual(['cidr']);
  });
});
