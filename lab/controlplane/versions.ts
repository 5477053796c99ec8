// The versions of the control plane Gingham tests against and the lab runs. kube-apiserver and
// kubectl share Kubernetes' version; its staging modules (k8s.io/api, ...) carry v0.<minor>.<patch>.
export const kubernetesVersion = 'v1.36.3';
export const etcdVersion = 'v3.6.16';

export function stagingVersion(version = kubernetesVersion): string {
  const [, minor, patch] = /^v1\.(\d+)\.(\d+)$/.exec(version) ?? [];
  if (!minor || !patch) throw new Error(`not a Kubernetes release version: ${version}`);
  return `v0.${minor}.${patch}`;
}
