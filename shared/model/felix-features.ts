// Felix's dataplane feature detection, where it decides what a node's tunnel devices should look
// like: ChecksumOffloadBroken (Felix turns vxlan.calico's transmit checksum offload off when it
// holds). Felix v3.31 detects it from the kernel (5.7.0 and older: the checksum of a SNATted
// VXLAN packet comes out wrong, calico#3145) and lets FelixConfiguration's
// `featureDetectOverride` ("ChecksumOffloadBroken=true,...") override the detection, the node's
// own `node.NAME` object before the cluster's `default`.

/** A FelixConfiguration as far as feature detection reads it. */
interface FelixConfigurationLike {
  metadata?: { name?: string };
  spec?: { featureDetectOverride?: unknown };
}

export interface FeatureVerdict {
  broken: boolean;
  /** Why, in words an admin can check: the kernel compared, or the object that overrides. */
  why: string;
}

/** `featureDetectOverride`'s key=value list; words that are not `key=value` are skipped, as Felix skips them. */
export function parseFeatureOverrides(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of text.split(',')) {
    const at = item.indexOf('=');
    if (at <= 0) continue;
    out.set(item.slice(0, at).trim(), item.slice(at + 1).trim());
  }
  return out;
}

/** The release's first three numbers (`6.18.44-fc-v1300` -> [6, 18, 44]); undefined when it has none. */
export function kernelVersion(release: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

// Go's strconv.ParseBool, which Felix parses each value with; a value it refuses is ignored.
const goBool: Record<string, boolean> = Object.fromEntries([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((w) => [w, true]),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((w) => [w, false]),
]);

function override(configurations: readonly unknown[], nodeName: string, feature: string): { value: boolean; from: string } | undefined {
  // Felix takes each parameter from the first object that sets it: the node's, then the cluster's.
  for (const name of [`node.${nodeName}`, 'default']) {
    const config = configurations.find((c) => (c as FelixConfigurationLike | null)?.metadata?.name === name) as FelixConfigurationLike | undefined;
    const text = config?.spec?.featureDetectOverride;
    if (typeof text !== 'string' || text.trim() === '') continue;
    const word = parseFeatureOverrides(text).get(feature);
    const value = word === undefined ? undefined : goBool[word];
    return value === undefined ? undefined : { value, from: `FelixConfiguration ${name} sets ${feature}=${word}` };
  }
  return undefined;
}

/** Whether Felix would turn vxlan.calico's transmit checksum offload off on this node. */
export function checksumOffloadBroken(kernelRelease: string | undefined, felixConfigurations: readonly unknown[], nodeName: string): FeatureVerdict {
  const set = override(felixConfigurations, nodeName, 'ChecksumOffloadBroken');
  if (set) return { broken: set.value, why: set.from };
  const version = kernelRelease ? kernelVersion(kernelRelease) : undefined;
  // Unknown kernel: Felix falls back to a safe default there, an old kernel, so it is broken.
  if (!version) return { broken: true, why: `the kernel's release${kernelRelease ? ` "${kernelRelease}"` : ''} is unknown` };
  const [major, minor, patch] = version;
  const atMost57 = major < 5 || (major === 5 && (minor < 7 || (minor === 7 && patch === 0)));
  return { broken: atMost57, why: `kernel ${version.join('.')} is ${atMost57 ? 'at most' : 'newer than'} 5.7.0` };
}
