// The process a container runtime executes: read the environment and stdin, run the command,
// print the result (or the error object the spec defines) on stdout, exit 0 or 1.
import { cniAdd, cniCheck, cniDel, versionResult } from './plugin.ts';
import { CniError, cniErrorCodes, commandOf, parseRequest } from './request.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function versionOf(stdin: string): string {
  try {
    return (JSON.parse(stdin) as { cniVersion?: string }).cniVersion ?? '1.0.0';
  } catch {
    return '1.0.0';
  }
}

/** Runs one CNI invocation; resolves with the exit code. */
export async function runCni(env: NodeJS.ProcessEnv = process.env, stdin?: string): Promise<number> {
  const input = stdin ?? (await readStdin());
  try {
    const command = commandOf(env);
    if (command === 'VERSION') {
      process.stdout.write(JSON.stringify(versionResult(versionOf(input))) + '\n');
      return 0;
    }
    const request = parseRequest(env, input);
    if (command === 'ADD') process.stdout.write(JSON.stringify(await cniAdd(request)) + '\n');
    else if (command === 'DEL') await cniDel(request);
    else await cniCheck(request);
    return 0;
  } catch (error) {
    const failure = error instanceof CniError ? error : new CniError(cniErrorCodes.ioFailure, (error as Error).message ?? String(error));
    process.stdout.write(JSON.stringify({ cniVersion: versionOf(input), code: failure.code, msg: failure.message, details: failure.details }) + '\n');
    return 1;
  }
}
