// The console's frame: the sidebar, the section on screen, and the state the sections share (the
// connected cluster, the SSH nodes and their connection states).
import { useCallback, useEffect, useState } from 'react';
import type { SshNode } from '../../shared/api/console-contract.ts';
import type { ConnectedCluster } from './api/connected-cluster.ts';
import { ClientContext } from './api/client-context.ts';
import type { Backend } from './api/connect-backend.ts';
import { CapturesPage } from './captures/CapturesPage.tsx';
import { ConnectivityPage } from './cluster/ConnectivityPage.tsx';
import { IpPoolsPage } from './cluster/IpPoolsPage.tsx';
import { PeersPage } from './cluster/PeersPage.tsx';
import { RoutesPage } from './cluster/RoutesPage.tsx';
import { RoutingObjectsPage } from './routing-config/RoutingObjectsPage.tsx';
import { Sidebar } from './components/Sidebar.tsx';
import { DoctorPage } from './doctor/DoctorPage.tsx';
import { MeasurePage } from './measure/MeasurePage.tsx';
import { MigrationPage } from './migration/MigrationPage.tsx';
import { LabLanding } from './lab/LabLanding.tsx';
import { ClustersPage } from './pages/ClustersPage.tsx';
import { NodesPage } from './pages/NodesPage.tsx';
import { TerminalPage } from './pages/TerminalPage.tsx';
import { TopologyPage } from './topology/TopologyPage.tsx';
import { sectionFromHash, type SectionId } from './routes.ts';
import { SshProvider } from './ssh/ssh-state.tsx';
import { NodeStatusProvider } from './node-status/node-status-state.tsx';

export function App({ backend }: { backend: Backend }) {
  const [section, setSection] = useState<SectionId>(() => sectionFromHash(window.location.hash));
  const [cluster, setCluster] = useState<ConnectedCluster | undefined>();
  const [terminalNode, setTerminalNode] = useState<SshNode | undefined>();
  const [lost, setLost] = useState<string | undefined>();

  useEffect(() => {
    const onHash = () => setSection(sectionFromHash(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => ('client' in backend ? backend.client.onClose(setLost) : undefined), [backend]);

  // Moving focus to the new section's heading tells keyboard and screen reader users where they are.
  useEffect(() => {
    document.getElementById('section-heading')?.focus();
  }, [section]);

  const openTerminal = useCallback((node: SshNode) => {
    setTerminalNode(node);
    window.location.hash = '#/terminal';
  }, []);

  if ('error' in backend) {
    return (
      <main className="fatal">
        <h1>Gingham cannot reach its backend</h1>
        <p role="alert">{backend.error}</p>
      </main>
    );
  }

  return (
    <ClientContext.Provider value={backend.client}>
      <SshProvider>
        <NodeStatusProvider context={cluster?.context}>
          <div className="frame">
            <Sidebar current={section} />
            <main className="content" aria-labelledby="section-heading">
              {lost && (
                <p role="alert" className="banner error">
                  {lost}
                </p>
              )}
              <LabLanding cluster={cluster} onConnected={setCluster} />
              {section === 'clusters' && <ClustersPage cluster={cluster} onConnected={setCluster} />}
              {section === 'nodes' && <NodesPage cluster={cluster} onOpenTerminal={openTerminal} />}
              {section === 'ippools' && <IpPoolsPage cluster={cluster} />}
              {section === 'routing' && <RoutingObjectsPage cluster={cluster} />}
              {section === 'routes' && <RoutesPage active={section === 'routes'} />}
              {section === 'bgp' && <PeersPage active={section === 'bgp'} cluster={cluster} />}
              {section === 'topology' && <TopologyPage active={section === 'topology'} cluster={cluster} />}
              {section === 'connectivity' && <ConnectivityPage cluster={cluster} active={section === 'connectivity'} />}
              {section === 'migration' && <MigrationPage cluster={cluster} />}
              {section === 'doctor' && <DoctorPage cluster={cluster} active={section === 'doctor'} />}
              {section === 'measure' && <MeasurePage cluster={cluster} active={section === 'measure'} />}
              {/* Kept mounted while hidden, so that live captures keep streaming during a visit elsewhere. */}
              <div hidden={section !== 'captures'}>
                <CapturesPage active={section === 'captures'} cluster={cluster} />
              </div>
              {/* Kept mounted while hidden, so that a shell survives a visit to another section. */}
              <div hidden={section !== 'terminal'}>
                <TerminalPage initialNode={terminalNode} active={section === 'terminal'} />
              </div>
            </main>
          </div>
        </NodeStatusProvider>
      </SshProvider>
    </ClientContext.Provider>
  );
}
