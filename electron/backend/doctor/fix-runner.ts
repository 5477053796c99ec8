// Runs a scan finding's safe fix on its node: only the commands the scan itself wrote, and only
// those of the shapes it writes (ip ... del, bridge fdb del, ethtool -K with plain arguments), as
// root (sudo -n when the SSH user is not), one after another, stopping at the first that fails.
import type { Client } from 'ssh2';
import { ConsoleError } from '../../../shared/api/errors.ts';
import type { FixResult, ScanFinding } from '../../../shared/doctor/scan-result.ts';
import { runScript } from '../installer/remote.ts';

const fixCommand = /^(ip (route|addr|link|neigh) del|bridge fdb del|ethtool -K) [\w .:/@>-]+$/;
const asRoot = `S=''; [ "$(id -u)" = 0 ] || S='sudo -n'\n$S sh -c "$1" 2>&1\n`;

export async function runFix(client: Client, finding: ScanFinding): Promise<FixResult['ran']> {
  if (!finding.fix?.safe || finding.fix.commands.length === 0) throw new ConsoleError('invalid-field', `${finding.id} has no fix the console runs: ${finding.fix?.description ?? 'none is known'}`);
  const unsafe = finding.fix.commands.find((c) => !fixCommand.test(c));
  if (unsafe) throw new ConsoleError('internal', `the fix's command ${JSON.stringify(unsafe)} is not one the doctor runs: nothing was run.`);
  const ran: FixResult['ran'] = [];
  for (const command of finding.fix.commands) {
    const result = await runScript(client, `fixing ${finding.id}`, asRoot, [command], 20_000);
    ran.push({ command, code: result.code ?? -1, output: `${result.stdout}${result.stderr}`.trim() });
    if (result.code !== 0) break;
  }
  return ran;
}
