// Where the lab and the test fixtures keep what outlives one run: built binaries (cache) and
// running clusters' files (state). Both follow the XDG base directories, overridable for tests.
import os from 'node:os';
import path from 'node:path';

export function cacheDir(...parts: string[]): string {
  const base = process.env.GINGHAM_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'gingham');
  return path.join(base, ...parts);
}

export function stateDir(...parts: string[]): string {
  const base = process.env.GINGHAM_STATE_DIR ?? path.join(process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state'), 'gingham');
  return path.join(base, ...parts);
}
