// What went wrong talking to a cluster, in words that say what to do next. The raw errors come from
// node-fetch (network, TLS), from the generated client (HTTP status) and from exec plugins.
import { ConsoleError } from '../../../shared/api/errors.ts';

export function clusterError(error: unknown, context: string, server: string, execCommand?: string): ConsoleError {
  if (error instanceof ConsoleError) return error;
  const e = error as Error & { code?: string | number; errno?: string; body?: unknown; path?: string; spawnargs?: string[] };
  // client-node rejects with a bare Error carrying the plugin's stderr when the plugin exits non-zero.
  if (execCommand && e.code === undefined && e.errno === undefined && e.constructor === Error) {
    const said = e.message.trim().split('\n').slice(-3).join(' ').trim();
    return new ConsoleError(
      'exec-plugin-failed',
      `The credential plugin ${execCommand} of ${context} failed${said ? `: ${said}` : ''}. Run it in a terminal to see why; often you need to log in again.`,
    );
  }
  const status = typeof e.code === 'number' ? e.code : undefined;
  if (status === 401) {
    return new ConsoleError(
      'credentials-rejected',
      `The API server of ${context} rejected your credentials (HTTP 401): the token or certificate has probably expired. ` +
        'Log in again (for a cloud cluster, re-run its login command) and reconnect.',
    );
  }
  if (status === 403) {
    return new ConsoleError('credentials-rejected', `Your user in ${context} may not list nodes (HTTP 403). Ask the cluster admin for read access to nodes.`);
  }
  if (status !== undefined) {
    return new ConsoleError('cluster-unreachable', `The API server of ${context} answered HTTP ${status}. ${e.message.split('\n')[1] ?? ''}`.trim());
  }
  const code = typeof e.code === 'string' ? e.code : e.errno;
  switch (code) {
    case 'ECONNREFUSED':
      return new ConsoleError('cluster-unreachable', `Nothing answers at ${server} (connection refused). Is the cluster running, and is this the right address?`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConsoleError('cluster-unreachable', `There is no route to ${server}. Check your network or VPN.`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConsoleError('cluster-unreachable', `The server name in ${server} does not resolve. Check the kubeconfig or your DNS/VPN.`);
    case 'ECONNRESET':
      return new ConsoleError('cluster-unreachable', `${server} dropped the connection. Check that it is a Kubernetes API server.`);
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new ConsoleError(
        'cluster-tls',
        `The certificate of ${server} cannot be trusted (${code}). Check certificate-authority-data in the kubeconfig: it must be the cluster's CA.`,
      );
  }
  // An exec credential plugin that could not start or failed (client-node reports its stderr).
  if (e.spawnargs !== undefined || e.path !== undefined) {
    return new ConsoleError(
      'exec-plugin-failed',
      `The credential plugin ${e.path ?? ''} of ${context} could not run (${code ?? e.message}). Install it, or give its full path in the kubeconfig; ` +
        'the console looks for it on your login shell\'s PATH.',
    );
  }
  return new ConsoleError('cluster-unreachable', `Cannot talk to ${context} at ${server}: ${e.message}`);
}
