// disk-full: the node's /var/lib/gingham and /run/gingham full. Each becomes a small tmpfs in the
// node's mount namespace (what was there copied in or bind-mounted, so the agent finds its files
// and sockets), then filled to the last byte; heal deletes the filler, so space returns while
// the agent runs. The tmpfs mounts stay until the node goes (lab down): they are the fault's own
// leftovers, and leftBehind names them apart from anything the agent left.
// The lab's agent log is the supervisor's stdout, opened on the node's /var/lib before the
// mount, so what the agent says about the full disk can still be read (as journald keeps a
// host's service output elsewhere).
import { nodeOf, type FaultKind } from './fault.ts';
import { labExec } from '../testing/probes.ts';

export const fullDirs = ['/var/lib/gingham', '/run/gingham'] as const;
const filler = '.lab-fault-fill';

async function sh(node: string, script: string): Promise<string> {
  const result = await labExec(node, ['/bin/sh', '-c', script], 120_000);
  if (result.code !== 0) throw new Error(`on ${node}: ${script}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

export const diskFull: FaultKind = {
  kind: 'disk-full',
  summary: "fill the node's /var/lib/gingham and /run/gingham (small tmpfs mounts, filled); heal frees the space",
  needs: ['node'],
  async inject(context, options) {
    const node = nodeOf(context, options.node, 'disk-full');
    for (const dir of fullDirs) {
      const under = `/tmp/lab-fault-under${dir.replaceAll('/', '-')}`;
      // Mounted once: a second injection fills the same tmpfs again. What was there is copied
      // in, except what must stay the same file: sockets (the agent's control socket, the
      // tunl0 helper's) and the log are bind-mounted from underneath, as a full disk leaves
      // them reachable.
      await sh(
        node.name,
        [
          'set -e',
          `if ! grep -q " ${dir} tmpfs " /proc/self/mounts; then`,
          `  mkdir -p ${under}; mount --bind ${dir} ${under}`,
          `  mount -t tmpfs -o size=1m,mode=$(stat -c %a ${dir}) lab-fault-full ${dir}`,
          `  (cd ${under} && find . -mindepth 1 -type d) | while read -r d; do mkdir -p "${dir}/$d"; done`,
          `  (cd ${under} && find . -type f ! -name agent.log -size -64k) | while read -r f; do cp -a "${under}/$f" "${dir}/$f"; done`,
          `  (cd ${under} && find . -type s -o -name agent.log) | while read -r f; do touch "${dir}/$f"; mount --bind "${under}/$f" "${dir}/$f"; done`,
          'fi',
          `dd if=/dev/zero of=${dir}/${filler} bs=4k 2>/dev/null || true`,
          `dd if=/dev/zero of=${dir}/${filler}2 bs=1 2>/dev/null || true`,
        ].join('\n'),
      );
    }
    const df = await sh(node.name, `df -k ${fullDirs.join(' ')} | tail -n +2`);
    context.say(`${node.name}: ${fullDirs.join(' and ')} are full:\n${df.trim()}`);
    return {
      what: `${fullDirs.join(' and ')} full on ${node.name}`,
      async heal() {
        await sh(node.name, fullDirs.map((d) => `rm -f ${d}/${filler} ${d}/${filler}2`).join('; '));
        context.say(`${node.name}: space is back under ${fullDirs.join(' and ')}`);
      },
      async leftBehind() {
        const mounts = await sh(node.name, 'grep lab-fault-full /proc/self/mounts || true');
        const left = await sh(node.name, `ls -a ${fullDirs.join(' ')} | grep -c ${filler} || true`);
        return [
          ...(Number(left.trim()) > 0 ? [`${node.name}: the filler files are still there`] : []),
          ...mounts.split('\n').filter(Boolean).map((l) => `${node.name}: the fault's own tmpfs on ${l.split(' ')[1]} (kept until lab down)`),
        ];
      },
    };
  },
};
