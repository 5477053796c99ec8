// The Debian packages the test tiers need, each with the reason, so that `npm test` can install
// them on a fresh machine and say why. Add a package here in the same change as the test that needs it.

export interface DebianPackage {
  /** Package name for apt-get. */
  name: string;
  /** A command that the package provides, checked to decide whether it is installed. */
  provides: string;
  /** Why the tests need it, shown to the user. */
  why: string;
  /** The tiers whose tests use it. */
  tiers: Array<'integration' | 'e2e'>;
}

export const debianPackages: DebianPackage[] = [
  { name: 'iproute2', provides: 'ip', why: 'network namespaces, veth, routes', tiers: ['integration', 'e2e'] },
  { name: 'nftables', provides: 'nft', why: 'NAT and source/destination checks', tiers: ['integration', 'e2e'] },
  { name: 'iputils-ping', provides: 'ping', why: 'reachability between namespaces', tiers: ['integration', 'e2e'] },
  { name: 'curl', provides: 'curl', why: 'HTTP between pods, as the seed does', tiers: ['integration', 'e2e'] },
  { name: 'tcpdump', provides: 'tcpdump', why: 'what is on the wire in each routing mode', tiers: ['integration', 'e2e'] },
  { name: 'tshark', provides: 'tshark', why: 'reference decoder for the packet decoders', tiers: ['integration'] },
  { name: 'bird2', provides: 'bird', why: 'BGP interoperability (BIRD is what calico-node runs)', tiers: ['integration'] },
  { name: 'gobgpd', provides: 'gobgpd', why: 'BGP interoperability with GoBGP', tiers: ['integration'] },
  // Debian ships GoBGP's CLI in the gobgpd package (there is no package named gobgp).
  { name: 'gobgpd', provides: 'gobgp', why: "GoBGP's CLI, to read its RIB", tiers: ['integration'] },
  { name: 'frr', provides: '/usr/lib/frr/bgpd', why: 'BGP interoperability with FRR', tiers: ['integration'] },
  { name: 'iperf3', provides: 'iperf3', why: 'throughput of the user-space IP-in-IP tunnel', tiers: ['integration'] },
  { name: 'openssh-server', provides: '/usr/sbin/sshd', why: 'real sshd on lab nodes and in SSH tests', tiers: ['integration', 'e2e'] },
  { name: 'openssh-client', provides: 'ssh-keygen', why: 'host and user keys for SSH tests', tiers: ['integration', 'e2e'] },
  { name: 'python3', provides: '/usr/bin/python3', why: "the lab pods' HTTP server (python3 -m http.server 80), which the seed curls", tiers: ['integration', 'e2e'] },
  { name: 'openssl', provides: 'openssl', why: "certificates of the test control plane and the lab's", tiers: ['integration', 'e2e'] },
  { name: 'chromium', provides: '/usr/bin/chromium', why: 'the browser the e2e tests drive with Playwright', tiers: ['e2e'] },
];
