// `npm run -s bench -- NAME [args]`: runs bench/NAME.ts with the rest of the arguments (the
// benchmarks are scripts of their own; this only finds them). Without a name, lists them.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();
const [name, ...rest] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h') {
  console.log(`usage: npm run -s bench -- NAME [args]\nbenchmarks: ${names.join(', ')} (bench/README.md says what each measures)`);
  process.exit(name ? 0 : 1);
}
const file = path.join(here, `${name}.ts`);
if (!existsSync(file)) {
  console.error(`bench: there is no benchmark ${name} (benchmarks: ${names.join(', ')})`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...rest], { stdio: 'inherit' });
process.exit(result.status ?? 1);
