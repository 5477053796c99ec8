// Where the native parts (native/build/Release) are: beside this module in a checkout, or in
// GINGHAM_BGP_NATIVE_DIR when the agent runs as a single bundled file that moved away from them.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function nativeFile(name: string): string {
  const dir = process.env.GINGHAM_BGP_NATIVE_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'native', 'build', 'Release');
  return path.join(dir, name);
}
