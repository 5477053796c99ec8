// Reads a desired-state document from a JSON or YAML file (YAML is a superset of JSON).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseDataplaneState, type DataplaneState } from '../../shared/model/dataplane-state.ts';

export class StateFileError extends Error {
  override name = 'StateFileError';
}

/** Throws StateFileError (unreadable, not YAML) or ValidationError (naming each bad field). */
export function readStateFile(file: string): DataplaneState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new StateFileError(`cannot read the state file ${file}: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new StateFileError(`${file} is neither JSON nor YAML: ${(error as Error).message}`);
  }
  return parseDataplaneState(document, `the dataplane state in ${file}`);
}
