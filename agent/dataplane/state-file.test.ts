import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/model/validation.ts';
import { StateFileError, readStateFile } from './state-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gdp-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const full = path.join(dir, name);
  writeFileSync(full, text);
  return full;
}

describe('readStateFile', () => {
  it('reads YAML and JSON alike', () => {
    const yaml = readStateFile(file('a.yaml', 'node: { name: w, interface: ens5, address: 10.240.1.11/24 }\n'));
    const json = readStateFile(file('a.json', '{"node": {"name": "w", "interface": "ens5", "address": "10.240.1.11/24"}}'));
    expect(yaml).toEqual(json);
    expect(yaml.pools).toEqual([]);
  });

  it('says which file is unreadable or not YAML, and names the file and field of an invalid document', () => {
    expect(() => readStateFile(path.join(dir, 'missing.yaml'))).toThrow(StateFileError);
    expect(() => readStateFile(path.join(dir, 'missing.yaml'))).toThrow('cannot read the state file');
    expect(() => readStateFile(file('b.yaml', 'node: ['))).toThrow('is neither JSON nor YAML');
    const bad = file('c.yaml', 'node: { name: w, interface: ens5 }\n');
    expect(() => readStateFile(bad)).toThrow(ValidationError);
    expect(() => readStateFile(bad)).toThrow(`the dataplane state in ${bad} is invalid:\n  node.address: is required`);
  });
});
