// The command line that runs this same agent again (for a command that must run inside another
// network namespace: Node has no setns, so the agent starts itself there through nsenter).
import { isSea } from 'node:sea';

export function selfCommand(): string[] {
  // The built executable is its own script; from a checkout, Node runs bin.ts with tsx's loader.
  return isSea() ? [process.execPath] : [process.execPath, ...process.execArgv, process.argv[1]!];
}
