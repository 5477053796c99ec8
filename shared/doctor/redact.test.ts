import { describe, expect, it } from 'vitest';
import { redact } from './redact.ts';

const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const key = ['-----BEGIN OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW', '-----END OPENSSH PRIVATE KEY-----'].join('\n');

describe('redact', () => {
  it('replaces keys, tokens, kubeconfig credentials and BGP passwords, and counts them', () => {
    const input = [
      'apiVersion: v1',
      'users:',
      '- name: gingham-agent',
      '  user:',
      `    token: ${jwt}`,
      '    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB',
      key,
      'Authorization: Bearer s3cr3t-bearer-value-123',
      'protocol bgp Node_10_240_9_1 { password "bgp-md5-secret"; }',
      '{"spec":{"peerIP":"10.0.0.1","password":"tcp-md5-in-json"}}',
      'mesh password=kv-secret-77',
      'routes: 192.168.0.0/26 via 10.240.1.12',
    ].join('\n');
    const { text, redactions } = redact(input);
    for (const secret of [jwt, 'LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW', 's3cr3t-bearer-value-123', 'bgp-md5-secret', 'tcp-md5-in-json', 'kv-secret-77']) {
      expect(text).not.toContain(secret);
    }
    // What is not secret stays, so the bundle still reads.
    expect(text).toContain('routes: 192.168.0.0/26 via 10.240.1.12');
    expect(text).toContain('"peerIP":"10.0.0.1"');
    expect(text).toContain('[REDACTED private key]');
    expect(redactions.map((r) => r.what)).toEqual(expect.arrayContaining(['private key', 'JWT (a ServiceAccount or bearer token)', 'bearer token', 'kubeconfig client key', "BIRD's BGP password", 'token, password or key field']));
    expect(redactions.reduce((sum, r) => sum + r.count, 0)).toBeGreaterThanOrEqual(7);
  });

  it('leaves text without secrets as it is', () => {
    const text = '[{"dst":"192.168.1.0/26","type":"blackhole","protocol":"71"}]\nBGP state: Established';
    expect(redact(text)).toEqual({ text, redactions: [] });
  });

  it('is idempotent: a redacted text is not redacted again', () => {
    const once = redact(`password: hunter2\ntoken: ${jwt}`).text;
    expect(redact(once)).toEqual({ text: once, redactions: [] });
  });
});
