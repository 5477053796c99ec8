import { describe, expect, it } from 'vitest';
import { checksumOffloadBroken, kernelVersion, parseFeatureOverrides } from './felix-features.ts';

const felix = (name: string, featureDetectOverride: string) => ({ metadata: { name }, spec: { featureDetectOverride } });

describe("Felix's ChecksumOffloadBroken", () => {
  it('is detected from the kernel: 5.7.0 and older are broken, 5.7.1 and newer are not', () => {
    expect(checksumOffloadBroken('5.4.0-150-generic', [], 'n').broken).toBe(true);
    expect(checksumOffloadBroken('5.7', [], 'n').broken).toBe(true);
    expect(checksumOffloadBroken('5.7.1', [], 'n').broken).toBe(false);
    expect(checksumOffloadBroken('6.18.44-fc-v1300', [], 'n')).toEqual({ broken: false, why: 'kernel 6.18.44 is newer than 5.7.0' });
    expect(checksumOffloadBroken('4.19.0', [], 'n').broken).toBe(true);
  });

  it('takes an unknown kernel as an old one, as Felix does', () => {
    expect(checksumOffloadBroken(undefined, [], 'n').broken).toBe(true);
    expect(checksumOffloadBroken('weird', [], 'n').broken).toBe(true);
  });

  it("is overridden by featureDetectOverride, the node's object first; values Go's ParseBool refuses are ignored", () => {
    expect(checksumOffloadBroken('6.18.0', [felix('default', 'IPIPDeviceIsL3=true, ChecksumOffloadBroken=true')], 'w1')).toEqual({ broken: true, why: 'FelixConfiguration default sets ChecksumOffloadBroken=true' });
    expect(checksumOffloadBroken('5.4.0', [felix('default', 'ChecksumOffloadBroken=false')], 'w1').broken).toBe(false);
    expect(checksumOffloadBroken('6.18.0', [felix('default', 'ChecksumOffloadBroken=true'), felix('node.w1', 'ChecksumOffloadBroken=False')], 'w1').broken).toBe(false);
    expect(checksumOffloadBroken('6.18.0', [felix('default', 'ChecksumOffloadBroken=yes')], 'w1').broken).toBe(false);
    // The node's object sets the parameter, so the cluster's is not read, even for a flag the node's leaves out.
    expect(checksumOffloadBroken('6.18.0', [felix('default', 'ChecksumOffloadBroken=true'), felix('node.w1', 'IPIPDeviceIsL3=true')], 'w1').broken).toBe(false);
  });

  it('parses the key=value list and the kernel release', () => {
    expect([...parseFeatureOverrides('A=true,,junk, B = false')]).toEqual([['A', 'true'], ['B', 'false']]);
    expect(kernelVersion('6.1.0-28-amd64')).toEqual([6, 1, 0]);
    expect(kernelVersion('x')).toBeUndefined();
  });
});
