import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loginShellPath, mergePaths } from './login-shell-path.ts';

const home = mkdtempSync(join(tmpdir(), 'gcon-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('loginShellPath', () => {
  it("reads the PATH that the user's profile builds, which a GUI launch does not inherit", () => {
    // A login bash reads ~/.bash_profile; the profile prints noise, as real ones often do.
    writeFileSync(join(home, '.bash_profile'), 'echo "Welcome back"\nexport PATH="/opt/gcon-plugins/bin:$PATH"\n');
    const path = loginShellPath('/bin/bash', { HOME: home, PATH: '/usr/bin:/bin' });
    expect(path?.split(':')[0]).toBe('/opt/gcon-plugins/bin');
    expect(path).toContain('/usr/bin');
  });

  it('gives up quietly when there is no usable shell', () => {
    expect(loginShellPath('/nonexistent/shell', { HOME: home })).toBeUndefined();
  });
});

describe('mergePaths', () => {
  it("puts the login shell's entries first and drops duplicates", () => {
    expect(mergePaths('/a:/b', '/b:/c')).toBe('/a:/b:/c');
    expect(mergePaths(undefined, '/b:/c')).toBe('/b:/c');
  });
});
