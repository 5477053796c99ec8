// Every Debian package whose programs the lab, the agent on the lab's nodes, the console on the
// lab, or the tests run, each with the reason, so that `npm start`, `npm run lab -- up` and
// `npm test` can install what is missing on a fresh machine and say why (lab/host/packages.ts
// does it), and so that each lab step can check its programs before it starts
// (lab/host/preflight.ts). Add a line here in the same change as the code that runs the program.
//
// Pure data: it lives in shared/ so that every layer may read it.

/** Who needs the package: the lab (`npm start`, `npm run lab -- up`) or a test tier. */
export type PackageUse = 'lab' | 'integration' | 'e2e';

export interface DebianPackage {
  /** Package name for apt-get. */
  name: string;
  /**
   * A program the package provides: a name looked up in the system's program folders, or an
   * absolute path for a program outside them. Installed means this program is there.
   */
  provides: string;
  /** Why it is needed, shown to the user. */
  why: string;
  /** Who needs it. */
  uses: PackageUse[];
}

const all: PackageUse[] = ['lab', 'integration', 'e2e'];

export const debianPackages: DebianPackage[] = [
  { name: 'iproute2', provides: 'ip', why: 'network namespaces, veth, bridges, routes (the lab, the agent)', uses: all },
  { name: 'iproute2', provides: 'bridge', why: "vxlan.calico's FDB entries (the agent's VXLAN mode) and their monitor", uses: all },
  { name: 'procps', provides: 'pgrep', why: "the reconcile-loop test finds its own monitor process to kill it", uses: ['integration'] },
  { name: 'iproute2', provides: 'ss', why: "the doctor's check that a destination pod listens on the port; the measure test's wait for iperf3's server", uses: all },
  { name: 'ethtool', provides: 'ethtool', why: "the doctor's scan of vxlan.calico's checksum offload (calico#3145, #11435) and its safe fix", uses: all },
  { name: 'tar', provides: 'tar', why: "the doctor's test that its diagnostics bundle is an archive GNU tar reads", uses: ['integration'] },
  { name: 'procps', provides: 'sysctl', why: "the lab namespaces' forwarding and rp_filter settings", uses: all },
  { name: 'util-linux', provides: 'nsenter', why: "entering a lab node's namespaces (lab exec, CNI calls, probes)", uses: all },
  { name: 'util-linux', provides: 'unshare', why: "each lab node's private mount namespace", uses: all },
  { name: 'util-linux', provides: 'flock', why: "the agent's IPAM host lock", uses: all },
  { name: 'mount', provides: 'mount', why: "each lab node's private /etc, /opt, /var/lib and /run", uses: all },
  { name: 'nftables', provides: 'nft', why: "the agent's NAT and the lab's source/destination checks", uses: all },
  { name: 'openssh-server', provides: 'sshd', why: 'real sshd on the lab nodes and in SSH tests', uses: all },
  { name: 'openssh-sftp-server', provides: '/usr/lib/openssh/sftp-server', why: "the console's agent installer uploads to a node over SFTP", uses: all },
  { name: 'openssh-client', provides: 'ssh', why: 'the lab installs the agent on its nodes over SSH', uses: all },
  { name: 'openssh-client', provides: 'ssh-keygen', why: "the lab's host and admin keys, and SSH tests' keys", uses: all },
  { name: 'openssh-client', provides: 'ssh-keyscan', why: "the console's lab defaults test reads a node's host key as a user would", uses: ['integration'] },
  { name: 'openssh-client', provides: 'ssh-agent', why: 'the SSH jump-host test signs with a key held by an agent', uses: ['integration'] },
  { name: 'openssh-client', provides: 'ssh-add', why: 'the SSH jump-host test loads its key into that agent', uses: ['integration'] },
  { name: 'dash', provides: 'dash', why: "the installer's node scripts are checked as POSIX sh by Debian's /bin/sh", uses: ['integration'] },
  { name: 'openssl', provides: 'openssl', why: "certificates of the lab's control plane and the tests'", uses: all },
  { name: 'python3', provides: 'python3', why: "the lab pods' HTTP server (python3 -m http.server 80), which the seed curls", uses: all },
  { name: 'iputils-ping', provides: 'ping', why: "the console's connectivity matrix pings between pods; the agent's path-MTU probe (measure)", uses: all },
  { name: 'curl', provides: 'curl', why: "the console's connectivity matrix fetches HTTP between pods, as the seed does", uses: all },
  { name: 'tcpdump', provides: 'tcpdump', why: "the console's captures: what is on the wire in each routing mode", uses: all },
  { name: 'tshark', provides: 'tshark', why: 'reference decoder for the packet decoders', uses: ['integration'] },
  { name: 'bird2', provides: 'bird', why: 'BGP interoperability (BIRD is what calico-node runs)', uses: ['integration'] },
  { name: 'gobgpd', provides: 'gobgpd', why: 'BGP interoperability with GoBGP', uses: ['integration'] },
  // Debian ships GoBGP's CLI in the gobgpd package (there is no package named gobgp).
  { name: 'gobgpd', provides: 'gobgp', why: "GoBGP's CLI, to read its RIB", uses: ['integration'] },
  { name: 'frr', provides: '/usr/lib/frr/bgpd', why: 'BGP interoperability with FRR', uses: ['integration'] },
  { name: 'gcc', provides: 'gcc', why: "builds the native helpers, and the user-space tunnel's fuzz harness with AddressSanitizer (libasan, libubsan come with it)", uses: ['integration'] },
  { name: 'iperf3', provides: 'iperf3', why: 'throughput of the user-space IP-in-IP tunnel', uses: ['integration'] },
  { name: 'iptables', provides: 'iptables-nft-save', why: "calico-node's Felix on the lab's Calico nodes (calico: true) reads iptables and ip6tables at start, even in nftables mode", uses: ['lab', 'integration'] },
  { name: 'ipset', provides: 'ipset', why: "calico-node's Felix on the lab's Calico nodes runs ipset at start (an error there stops it)", uses: ['lab', 'integration'] },
  { name: 'dpkg', provides: 'dpkg-deb', why: "unpacks BIRD 1.6 for the lab's Calico nodes (Debian's bird package conflicts with bird2, so it is not installed)", uses: ['lab', 'integration'] },
  { name: 'apt', provides: 'apt-get', why: "fetches BIRD 1.6 (apt-get download bird) for the lab's Calico nodes, once, into the cache", uses: ['lab', 'integration'] },
  { name: 'chromium', provides: 'chromium', why: 'the browser the e2e tests drive with Playwright', uses: ['e2e'] },
];

/** The packages `uses` need (each once, in list order). */
export function packagesFor(uses: readonly PackageUse[]): DebianPackage[] {
  return debianPackages.filter((pkg) => pkg.uses.some((use) => uses.includes(use)));
}

/** The package that provides `program` (a name or an absolute path), if the list has it. */
export function packageProviding(program: string): DebianPackage | undefined {
  return debianPackages.find((pkg) => pkg.provides === program);
}
