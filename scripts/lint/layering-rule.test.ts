// Proves that the layering rule bites: each forbidden direction of docs/architecture.md is linted as
// an error, and the allowed ones pass. Runs ESLint itself on code placed at each layer's path.
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function layeringErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'gingham/layering' || m.ruleId === 'no-restricted-globals')
    .map((m) => m.message);
}

describe('the layering lint rule', () => {
  // ESLint's first run loads typescript-eslint: seconds on a busy machine, not a test's business.
  beforeAll(() => eslint.lintText('export {};', { filePath: 'shared/warm-up.ts' }), 60_000);

  it.each([
    ['shared/net/violation.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", 'may not import the Node module node:fs'],
    ['shared/net/violation.ts', "import fs from 'fs';\nexport const x = fs;", 'may not import the Node module fs'],
    ['shared/model/violation.ts', "import { app } from 'electron';\nexport const x = app;", 'only electron/main and electron/preload may import electron'],
    ['shared/model/violation.ts', "import { x } from '../../agent/bgp/codec.ts';\nexport const y = x;", 'shared may not import from agent'],
    ['shared/model/violation.ts', 'export const width = window.innerWidth;', 'shared/ is pure'],
    ['shared/model/violation.ts', 'export const pid = process.pid;', 'shared/ is pure'],
    ['renderer/violation.ts', "import { x } from '../electron/backend/ssh.ts';\nexport const y = x;", 'renderer may not import from electron/backend'],
    ['renderer/violation.ts', "import { x } from '../agent/cli/bin.ts';\nexport const y = x;", 'renderer may not import from agent'],
    ['renderer/violation.ts', "import { Client } from 'ssh2';\nexport const y = Client;", 'renderer may import only these packages'],
    ['shared/model/violation.ts', "import { Ajv } from 'ajv';\nexport const y = Ajv;", 'shared may import only these packages'],
    ['renderer/violation.ts', "export const load = () => import('node:path');", 'may not import the Node module node:path'],
    ['electron/backend/violation.ts', "import { ipcMain } from 'electron';\nexport const y = ipcMain;", 'only electron/main and electron/preload may import electron'],
    ['electron/backend/violation.ts', "import { x } from '../../agent/rpc/server.ts';\nexport const y = x;", 'electron/backend may not import from agent'],
    ['electron/web/violation.ts', "export { x } from '../../renderer/app.tsx';", 'electron/web may not import from renderer'],
    ['agent/bgp/violation.ts', "import type { X } from '../../electron/backend/ssh.ts';\nexport type Y = X;", 'agent may not import from electron/backend'],
    ['agent/bgp/violation.ts', "import { BrowserWindow } from 'electron';\nexport const y = BrowserWindow;", 'only electron/main and electron/preload may import electron'],
    ['agent/datastore/violation.ts', "import { controlPlaneUp } from '../../lab/controlplane/controlplane.ts';\nexport const y = controlPlaneUp;", 'agent may not import from lab'],
    ['agent/bgp/violation.ts', "import { describe } from 'vitest';\nexport const y = describe;", 'vitest is test tooling'],
    ['agent/dataplane/violation.ts', "import { run } from '../../lab/sh.ts';\nexport const y = run;", 'agent may not import from lab'],
    ['electron/backend/ssh/violation.ts', "import { startSshdNode } from '../../../lab/testing/sshd-node.ts';\nexport const y = startSshdNode;", 'electron/backend may not import from lab'],
    ['agent/bgp/violation.ts', "import { BirdDaemon } from './testing/daemons.ts';\nexport const y = BirdDaemon;", 'may not import the test helper agent/bgp/testing/daemons.ts'],
    ['electron/backend/ssh/violation.ts', "import { x } from '../installer/testing/install-fixture.ts';\nexport const y = x;", 'may not import the test helper electron/backend/installer/testing/install-fixture.ts'],
  ])('refuses %s importing what its layer may not (%#)', async (filePath, code, reason) => {
    const errors = await layeringErrors(filePath, code);
    expect(errors.join('\n')).toContain(reason);
  });

  it.each([
    ['shared/net/fine.ts', "import { z } from 'zod';\nimport { parseCidr } from './cidr.ts';\nexport const x = [z, parseCidr];"],
    ['renderer/fine.tsx', "import { useState } from 'react';\nimport { parseCidr } from '../shared/net/cidr.ts';\nexport const x = [useState, parseCidr];"],
    ['electron/main/fine.ts', "import { app } from 'electron';\nimport { x } from '../backend/ssh.ts';\nexport const y = [app, x];"],
    ['electron/preload/fine.ts', "import { contextBridge } from 'electron';\nexport const y = contextBridge;"],
    ['electron/web/fine.ts', "import http from 'node:http';\nimport { x } from '../backend/ssh.ts';\nexport const y = [http, x];"],
    ['agent/bgp/fine.ts', "import net from 'node:net';\nimport { parseCidr } from '../../shared/net/cidr.ts';\nexport const y = [net, parseCidr];"],
    ['agent/datastore/fine.int.test.ts', "import { controlPlaneUp } from '../../lab/controlplane/controlplane.ts';\nexport const y = controlPlaneUp;"],
    ['shared/net/fine.test.ts', "import { createHash } from 'node:crypto';\nimport { it } from 'vitest';\nexport const y = [createHash, it];"],
    // The lab is the one test bed: every tier's tests and test helpers (testing/) may use it.
    ['agent/dataplane/testing/fine.ts', "import { runSync } from '../../../lab/sh.ts';\nexport const y = runSync;"],
    ['electron/backend/installer/testing/fine.ts', "import type { SshdNode } from '../../../../lab/testing/sshd-node.ts';\nexport type Y = SshdNode;"],
    ['electron/backend/ssh/fine.int.test.ts', "import { startSshdNode } from '../../../lab/testing/sshd-node.ts';\nexport const y = startSshdNode;"],
    ['agent/bgp/fine.int.test.ts', "import { BirdDaemon } from './testing/daemons.ts';\nexport const y = BirdDaemon;"],
    ['bench/fine.ts', "import { BirdDaemon } from '../agent/bgp/testing/daemons.ts';\nexport const y = BirdDaemon;"],
    ['shared/model/testing/fine.ts', "import { Ajv } from 'ajv';\nexport const y = Ajv;"],
  ])('allows %s its own directions', async (filePath, code) => {
    expect(await layeringErrors(filePath, code)).toEqual([]);
  });
});
