// Where the console keeps its own files: the app's known_hosts, the nodes added by hand and the
// path measurements.
// Electron passes its userData folder; web mode and tests pass GINGHAM_CONFIG_DIR or use XDG.
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface AppPaths {
  configDir: string;
  knownHosts: string;
  nodes: string;
  /** Path measurements kept per cluster (a file per context). */
  measurements: string;
}

export function appPaths(configDir?: string): AppPaths {
  const dir =
    configDir ??
    process.env.GINGHAM_CONFIG_DIR ??
    join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'gingham');
  return { configDir: dir, knownHosts: join(dir, 'known_hosts'), nodes: join(dir, 'nodes.json'), measurements: join(dir, 'measurements') };
}
