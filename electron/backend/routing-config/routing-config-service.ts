// The console's requests for the routing objects' forms (routing-config-contract.ts): each a
// RoutingConfigStore on the context's kubeconfig.
import type { KubeConfig } from '@kubernetes/client-node';
import type { RequestHandlers } from '../../../shared/api/console-contract.ts';
import { RoutingConfigStore } from './routing-config-store.ts';

type Handlers = Pick<RequestHandlers, 'routingConfig.list' | 'routingConfig.validate' | 'routingConfig.dryRun' | 'routingConfig.apply'>;

export function routingConfigHandlers(kubeConfigFor: (context: string) => KubeConfig): Handlers {
  const store = (context: string, kind: Parameters<Handlers['routingConfig.list']>[0]['kind']) => new RoutingConfigStore(kubeConfigFor(context), kind);
  return {
    'routingConfig.list': async ({ context, kind }) => ({ items: await store(context, kind).list() }),
    'routingConfig.validate': async ({ context, kind, spec }) => store(context, kind).validate(spec),
    'routingConfig.dryRun': async ({ context, kind, name, spec, resourceVersion }) => store(context, kind).dryRun(name, spec, resourceVersion),
    'routingConfig.apply': async ({ context, kind, name, spec, resourceVersion }) => store(context, kind).apply(name, spec, resourceVersion),
  };
}
