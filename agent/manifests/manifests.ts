// What an admin applies before the agent runs: the crd.projectcalico.org CRDs the cluster lacks,
// the namespace, the agent's ServiceAccount and a ClusterRole with exactly what the agent uses.
// Nothing here grants Secrets: a BGPPeer password kept in a Secret needs a grant of that one Secret (docs/datastore.md).
import { agentIdentity } from '../../shared/api/agent-contract.ts';
import { calicoKind } from '../../shared/model/calico-kinds.ts';
import { calicoCrds } from '../../shared/model/crds.ts';
import { ginghamGroup, nodeAgentStatusCrd, nodeAgentStatusKind } from '../../shared/model/node-agent-status.ts';

export const agentNamespace = agentIdentity.namespace;
export const agentServiceAccount = agentIdentity.serviceAccount;
export const agentUser = `system:serviceaccount:${agentNamespace}:${agentServiceAccount}`;
const managedBy = { 'app.kubernetes.io/managed-by': 'gingham', 'app.kubernetes.io/name': 'gingham-agent' };

/**
 * The agent's permissions, one rule per reason:
 * - reads the routing configuration (pools, BGP);
 * - owns IPAM objects, creating and updating them with resourceVersion checks, deleting handles
 *   and lost-race affinities;
 * - reads Nodes and patches its own Node's Calico annotations (RBAC cannot narrow a patch to one
 *   Node without naming it; the agent only ever patches its own);
 * - the CNI plugin annotates the Pod it plumbed with its address, as Calico's plugin does;
 * - reads Calico's IPAMConfig `default` (strictAffinity), when the cluster has one;
 * - keeps Calico's ClusterInformation `default` (calicoctl reads it), as calico-node does, and
 *   makes the KubeControllersConfiguration `default` that kube-controllers would, where missing;
 * - publishes its node's GinghamNodeStatus, and fills in the CalicoNodeStatus an admin made for
 *   its node: the admission policy below narrows both to the agent's own node.
 */
export const agentRules = [
  { apiGroups: ['crd.projectcalico.org'], resources: ['ippools', 'bgpconfigurations', 'bgppeers'], verbs: ['get', 'list', 'watch'] },
  // Calico's IPAMConfig `default` (strictAffinity: may a node borrow from other nodes' blocks).
  { apiGroups: ['crd.projectcalico.org'], resources: ['ipamconfigs'], verbs: ['get'] },
  { apiGroups: ['crd.projectcalico.org'], resources: ['clusterinformations'], verbs: ['get', 'create', 'update'] },
  // Only made where missing (Gingham runs no kube-controllers); calicoctl ipam check needs it.
  { apiGroups: ['crd.projectcalico.org'], resources: ['kubecontrollersconfigurations'], verbs: ['get', 'create'] },
  { apiGroups: ['crd.projectcalico.org'], resources: ['ipamblocks', 'blockaffinities', 'ipamhandles'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] },
  { apiGroups: [ginghamGroup], resources: [nodeAgentStatusKind.plural], verbs: ['get', 'create', 'update'] },
  { apiGroups: ['crd.projectcalico.org'], resources: [calicoKind('CalicoNodeStatus').plural], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['crd.projectcalico.org'], resources: [`${calicoKind('CalicoNodeStatus').plural}/status`], verbs: ['update'] },
];

/** The token's identity names its node when the token is bound to a Node (credential.ts). */
const tokenNode = "request.userInfo.extra['authentication.kubernetes.io/node-name'][0]";
const hasTokenNode = "'authentication.kubernetes.io/node-name' in request.userInfo.extra";

/**
 * RBAC cannot tell one node's agent from another's (they share the ServiceAccount), so a
 * ValidatingAdmissionPolicy does: an agent writes only the status objects of the node its token
 * is bound to. Without it, one compromised node could rewrite what the console shows of all.
 */
export function ownNodePolicy(): object[] {
  const name = 'gingham-agent-own-node';
  const statusPlural = calicoKind('CalicoNodeStatus').plural;
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels: managedBy },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [ginghamGroup], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: [nodeAgentStatusKind.plural] },
            { apiGroups: ['crd.projectcalico.org'], apiVersions: ['*'], operations: ['UPDATE'], resources: [`${statusPlural}/status`] },
          ],
        },
        matchConditions: [{ name: 'is-the-agent', expression: `request.userInfo.username == '${agentUser}'` }],
        validations: [
          {
            expression: `${hasTokenNode} && (request.resource.resource == '${nodeAgentStatusKind.plural}' ? (request.operation == 'DELETE' ? oldObject : object).metadata.name : object.spec.node) == ${tokenNode}`,
            messageExpression: `${hasTokenNode} ? "the agent of node " + ${tokenNode} + " may write only its own node's status" : "the agent's token is not bound to a node: give it one made with gingham-agent credential --node NAME"`,
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels: managedBy },
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}

/** The agent may renew its own token (TokenRequest for itself), and nobody else's. */
export const tokenRenewalRules = [{ apiGroups: [''], resources: ['serviceaccounts/token'], resourceNames: [agentServiceAccount], verbs: ['create'] }];

export interface ManifestOptions {
  /** CRD names already in the cluster; those are left out. */
  existingCrds?: ReadonlySet<string>;
  includeCrds?: boolean;
}

export function agentManifests(options: ManifestOptions = {}): object[] {
  const crds = options.includeCrds === false ? [] : calicoCrds().filter((crd) => !options.existingCrds?.has(crd.metadata.name));
  // Gingham's own CRD is never in a Calico cluster: it comes even with --no-crds.
  const own = nodeAgentStatusCrd();
  const ownCrds = options.existingCrds?.has(own.metadata.name) ? [] : [own];
  const name = agentServiceAccount;
  return [
    ...crds,
    ...ownCrds,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: agentNamespace, labels: managedBy } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: agentNamespace, labels: managedBy } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name, labels: managedBy }, rules: agentRules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels: managedBy },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: agentNamespace }],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${name}-token`, namespace: agentNamespace, labels: managedBy }, rules: tokenRenewalRules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${name}-token`, namespace: agentNamespace, labels: managedBy },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-token` },
      subjects: [{ kind: 'ServiceAccount', name, namespace: agentNamespace }],
    },
    ...ownNodePolicy(),
  ];
}
