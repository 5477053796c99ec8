// What the installer leaves on a node, and the shell scripts it runs there. Releases live side by
// side under /opt/gingham/releases/<sha256>; `current` is a symlink switched with one rename.
// The switch and the restart run in activate.sh, detached from the SSH session (setsid), so a
// connection that drops while the agent starts cannot stop it halfway: it ends with the new agent
// healthy, or rolled back to the old one (or to none), and records which in install-state.json.
// The CNI plugin and the pod network's configuration go in only once the agent answers: a runtime
// that finds the conflist starts pods on the node, and they need a working agent.
import { agentNodeLayout } from '../../../shared/api/agent-contract.ts';
import { cniPaths } from '../../../shared/model/cni-network.ts';

/** The agent's layout (shared with the agent and the lab), plus what only the installer keeps. */
export const nodePaths = {
  ...agentNodeLayout,
  releases: `${agentNodeLayout.opt}/releases`,
  current: `${agentNodeLayout.opt}/current`,
  staged: `${agentNodeLayout.etc}/.staged`,
  state: `${agentNodeLayout.lib}/install-state.json`,
  activateLog: `${agentNodeLayout.lib}/activate.log`,
  unit: '/etc/systemd/system/gingham-agent.service',
  cniPlugin: cniPaths.plugin,
  cniConfig: cniPaths.config,
  /**
   * Root-only (0700): the upload of a release as it arrived (compressed), in releases/<sha>-<codec>,
   * and `id`, which names the filesystem: nodes that find the same id share the folder (nodes on one
   * host, as the lab's; a shared disk), and one upload serves them all.
   */
  cache: '/var/cache/gingham',
} as const;

/** Staged files (in nodePaths.staged) that activate.sh puts in place once the agent is healthy. */
export const stagedCni = { plugin: 'cni-plugin', config: 'cni.conflist' } as const;

/** Everything uninstall removes (with the systemd unit). */
export const installedDirs = [nodePaths.opt, nodePaths.etc, nodePaths.lib, nodePaths.run, nodePaths.cache];

/**
 * Facts about the node, one `key=value` per line, then the install state file after a marker.
 * Read-only: probing never changes the node. Leaves $exe (the running agent's executable) and
 * $healthy (yes: it answers) set for a script that follows it in the same shell.
 */
export const probeScript = `
P=${nodePaths.opt}; RUN=${nodePaths.run}
echo "uid=$(id -u)"
echo "arch=$(uname -m)"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo "init=systemd"; else echo "init=daemon"; fi
for tool in sha256sum setsid flock; do command -v $tool >/dev/null 2>&1 || echo "missing=$tool"; done
command -v gzip >/dev/null 2>&1 && echo "gzip=yes"
command -v zstd >/dev/null 2>&1 && echo "zstd=yes"
cur=$(readlink "$P/current" 2>/dev/null || true); echo "current=\${cur#releases/}"
if [ -n "$cur" ] && [ -f "$P/$cur/.manifest" ]; then echo "version=$(sed -n 's/^version=//p' "$P/$cur/.manifest")"; fi
pid=$(cat "$RUN/agent.pid" 2>/dev/null || true)
exe=
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then exe=$(readlink /proc/$pid/exe 2>/dev/null); echo "agentPid=$pid"; echo "agentExe=$exe"; fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  mp=$(systemctl show -p MainPID --value gingham-agent 2>/dev/null || true)
  if [ -n "$mp" ] && [ "$mp" != 0 ]; then exe=$(readlink /proc/$mp/exe 2>/dev/null); echo "agentPid=$mp"; echo "agentExe=$exe"; fi
fi
healthy=no
# ASK=no: the caller asks the agent itself (over the SSH connection), without starting the 96 MB executable here.
if [ "\${ASK:-yes}" = yes ] && [ -S "${nodePaths.control}" ] && [ -n "$cur" ] && "$P/current/gingham-agent" node-status --control "${nodePaths.control}" >/dev/null 2>&1; then healthy=yes; fi
echo "healthy=$healthy"
for f in ${nodePaths.config} ${nodePaths.kubeconfig} ${nodePaths.cniPlugin} ${nodePaths.cniConfig}; do [ -f "$f" ] && echo "sha:$f=$(sha256sum < "$f" | cut -d' ' -f1)"; done
for d in "$P"/releases/.incoming-*; do [ -e "$d" ] && echo "incoming=\${d##*/}"; done
echo "--- state"
cat ${nodePaths.state} 2>/dev/null || true
`;

/** Reads the node's kubeconfig token expiry (the JWT's exp); the token itself never leaves the node. */
/** Prints the agent token's expiry (seconds since 1970) and, on a second line, the Node it is bound to (none: unbound). */
export const tokenExpiryScript = `
t=$(sed -n 's/^ *token: *//p' ${nodePaths.kubeconfig} 2>/dev/null | head -1)
[ -n "$t" ] || exit 0
p=$(printf '%s' "$t" | cut -d. -f2 | tr '_-' '/+')
while [ $(( \${#p} % 4 )) -ne 0 ]; do p="$p="; done
c=$(printf '%s' "$p" | base64 -d 2>/dev/null)
printf '%s\\n' "$c" | sed -n 's/.*"exp":\\([0-9]*\\).*/\\1/p'
printf '%s\\n' "$c" | sed -n 's/.*"node":{"name":"\\([^"]*\\)".*/\\1/p'
`;

/**
 * The supervisor where there is no systemd: restarts the agent when it exits (backing off up to
 * 30 s), forwards TERM (stop, routes stay) and USR2 (stop and remove routes and devices).
 */
export const superviseScript = `#!/bin/sh
# Written by the Gingham console's installer. Keeps the agent running where systemd does not run.
RUN=${nodePaths.run}; LIB=${nodePaths.lib}
echo $$ > "$RUN/supervisor.pid"
child=
finish() {
  trap '' TERM INT USR2
  if [ -n "$child" ]; then kill -s "$1" "$child" 2>/dev/null; wait "$child"; fi
  rm -f "$RUN/supervisor.pid" "$RUN/agent.pid"
  exit 0
}
trap 'finish TERM' TERM INT
trap 'finish USR2' USR2
delay=1
while :; do
  if [ -f "$LIB/agent.log" ] && [ "$(wc -c < "$LIB/agent.log")" -gt 10485760 ]; then mv -f "$LIB/agent.log" "$LIB/agent.log.1"; fi
  started=$(date +%s)
  ${nodePaths.current}/gingham-agent run --config ${nodePaths.config} >>"$LIB/agent.log" 2>&1 &
  child=$!
  echo "$child" > "$RUN/agent.pid"
  wait "$child"
  code=$?
  child=
  rm -f "$RUN/agent.pid"
  [ $(( $(date +%s) - started )) -gt 60 ] && delay=1
  echo "$(date -u +%FT%TZ) supervisor: the agent exited ($code); starting it again in \${delay}s" >>"$LIB/agent.log"
  sleep "$delay" &
  child=$!
  wait "$child"
  child=
  delay=$((delay * 2)); [ "$delay" -gt 30 ] && delay=30
done
`;

export function systemdUnit(): string {
  return `# Written by the Gingham console's installer.
[Unit]
Description=Gingham node agent (BGP, dataplane, IPAM)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=${nodePaths.current}/gingham-agent run --config ${nodePaths.config}
# SIGTERM stops it and leaves the routes (a restart); uninstall sends SIGUSR2 first, which removes them.
KillSignal=SIGTERM
Restart=on-failure
RestartSec=2
RuntimeDirectory=gingham
RuntimeDirectoryMode=0700
RuntimeDirectoryPreserve=yes

[Install]
WantedBy=multi-user.target
`;
}

/**
 * activate.sh RELEASE ATTEMPT INIT [WAIT]: puts the staged configuration in place, points `current` at
 * RELEASE, restarts the agent and waits until it answers on its control socket. If it does not,
 * it puts back the previous configuration and release and starts that agent again (or none, if
 * there was none). Every step is recorded in install-state.json for the console to read later.
 */
export const activateScript = `#!/bin/sh
# Written by the Gingham console's installer.
set -u
umask 022
P=${nodePaths.opt}; ETC=${nodePaths.etc}; LIB=${nodePaths.lib}; RUN=${nodePaths.run}
REL="$1"; ATTEMPT="$2"; INIT="$3"; WAIT="\${4:-45}"
mkdir -p "$LIB" "$RUN"
chmod 0700 "$RUN"
PREV=$(readlink "$P/current" 2>/dev/null || true); PREV=\${PREV#releases/}
record() {
  printf '{"attempt":"%s","phase":"%s","release":"%s","previous":"%s","message":"%s","at":"%s"}\\n' \\
    "$ATTEMPT" "$1" "$REL" "$PREV" "$2" "$(date -u +%FT%TZ)" > "$LIB/install-state.json.tmp"
  mv -f "$LIB/install-state.json.tmp" "$LIB/install-state.json"
}
exec 9>"$LIB/install.lock"
if ! flock -n 9; then record failed "another install is running on this node"; exit 1; fi
record starting ""

stop_agent() {
  if [ "$INIT" = systemd ]; then systemctl stop gingham-agent 2>/dev/null; return; fi
  pid=$(cat "$RUN/supervisor.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  apid=$(cat "$RUN/agent.pid" 2>/dev/null || true)
  if [ -n "$apid" ] && kill -0 "$apid" 2>/dev/null; then kill -KILL "$apid"; fi
  rm -f "$RUN/supervisor.pid" "$RUN/agent.pid"
}
start_agent() {
  if [ "$INIT" = systemd ]; then
    systemctl daemon-reload && systemctl enable gingham-agent >/dev/null 2>&1; systemctl restart gingham-agent 9>&-; return
  fi
  # 9>&-: the supervisor must not inherit (and so hold forever) the install lock.
  setsid "$P/bin/supervise.sh" </dev/null >>"$LIB/agent.log" 2>&1 9>&- &
}
agent_pid() {
  if [ "$INIT" = systemd ]; then systemctl show -p MainPID --value gingham-agent 2>/dev/null; else cat "$RUN/agent.pid" 2>/dev/null; fi
}
healthy() {
  # The agent answers on its socket, and it is the agent of this release (not one left over).
  # Looking is cheap (every 0.1 s); asking costs a start of the executable: only once the agent
  # has made its socket, and again only after a pause.
  i=0
  while [ $i -lt $((WAIT * 10)) ]; do
    pid=$(agent_pid || true)
    if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$(readlink /proc/$pid/exe 2>/dev/null)" = "$P/releases/$1/gingham-agent" ] && [ -S "${nodePaths.control}" ]; then
      echo "at agent-socket $(date +%s.%N)"
      if "$P/releases/$1/gingham-agent" node-status --control "${nodePaths.control}" >/dev/null 2>&1; then return 0; fi
      sleep 0.4; i=$((i+4))
    fi
    sleep 0.1; i=$((i+1))
  done
  return 1
}
install_cni() {
  # Each file whole or not at all: a runtime may read them at any moment.
  for pair in "${stagedCni.plugin}:${nodePaths.cniPlugin}" "${stagedCni.config}:${nodePaths.cniConfig}"; do
    src="$ETC/.staged/\${pair%%:*}"; dst="\${pair#*:}"
    [ -f "$src" ] || continue
    mkdir -p "\${dst%/*}" && cp -p "$src" "$dst.tmp" && mv -f "$dst.tmp" "$dst" && rm -f "$src"
  done
}
switch_to() {
  if [ -n "$1" ]; then ln -sfn "releases/$1" "$P/current.new" && mv -Tf "$P/current.new" "$P/current"; else rm -f "$P/current"; fi
}

# Configuration: the staged files go in; what they replace is kept for a rollback.
moved=""
for f in agent.yaml kubeconfig; do
  if [ -f "$ETC/.staged/$f" ]; then
    if [ -f "$ETC/$f" ]; then cp -p "$ETC/$f" "$ETC/.previous-$f"; else rm -f "$ETC/.previous-$f"; touch "$ETC/.absent-$f"; fi
    mv -f "$ETC/.staged/$f" "$ETC/$f"
    moved="$moved $f"
  fi
done

record stopping ""
stop_agent
switch_to "$REL"
record started ""
echo "at agent-started $(date +%s.%N)"
start_agent
if healthy "$REL"; then
  echo "at agent-answers $(date +%s.%N)"
  install_cni
  for f in $moved; do rm -f "$ETC/.previous-$f" "$ETC/.absent-$f"; done
  # Keep this release and the one before it (a manual rollback); remove older ones.
  for d in "$P"/releases/*; do
    n=\${d##*/}
    [ "$n" = "$REL" ] || [ "$n" = "$PREV" ] || rm -rf "$d"
  done
  record done "agent running"
  exit 0
fi

# The new agent did not come up: put back what was there.
stop_agent
for f in $moved; do
  if [ -f "$ETC/.absent-$f" ]; then rm -f "$ETC/$f" "$ETC/.absent-$f"; elif [ -f "$ETC/.previous-$f" ]; then mv -f "$ETC/.previous-$f" "$ETC/$f"; fi
done
if [ -n "$PREV" ] && [ -d "$P/releases/$PREV" ]; then
  switch_to "$PREV"
  start_agent
  if healthy "$PREV"; then record rolled-back "the new agent did not answer on its control socket within $WAIT s; the previous agent runs again"; exit 1; fi
  record failed "the new agent did not answer within $WAIT s, and the previous one did not come back either"
  exit 1
fi
switch_to ""
record failed "the new agent did not answer on its control socket within $WAIT s; no agent runs (as before the install)"
exit 1
`;

/**
 * wait-state ATTEMPT SECONDS: prints install-state.json as soon as attempt ATTEMPT has ended (done,
 * rolled back or failed), or as it is after SECONDS. The file is looked at every 0.1 s on the node,
 * in one SSH command: the console learns the outcome within 0.1 s, with no round trip per look.
 */
export const waitStateScript = `
A="$1"; end=$(( $(date +%s) + $2 ))
while [ "$(date +%s)" -lt $end ]; do
  s=$(cat ${nodePaths.state} 2>/dev/null || true)
  case "$s" in *"\\"attempt\\":\\"$A\\""*) case "$s" in *'"phase":"done"'*|*'"phase":"rolled-back"'*|*'"phase":"failed"'*) break ;; esac ;; esac
  sleep 0.1
done
cat ${nodePaths.state} 2>/dev/null || true
`;

/**
 * A release uploaded into `incoming`, or to be copied there from the cache entry `from`: its files,
 * the big ones compressed (unpacked by `packed`'s tool).
 */
export interface UploadedRelease {
  sha: string;
  incoming: string;
  from?: string;
  files: { path: string; mode: number; packed?: 'zstd' | 'gzip' }[];
}

/** activate.sh's arguments: the release to switch to, this attempt, the node's init, the seconds the agent has. */
export interface Activation {
  sha: string;
  attempt: string;
  init: 'systemd' | 'daemon';
  waitSeconds: number;
  /** Where this attempt's configuration and credential were staged (they go to nodePaths.staged). */
  staged: string;
}

const unpackers = { zstd: 'zstd -dqf --rm', gzip: 'gzip -df' } as const;
const packedSuffix = { zstd: '.zst', gzip: '.gz' } as const;

export function packedName(path: string, packed: 'zstd' | 'gzip'): string {
  return `${path}${packedSuffix[packed]}`;
}

/**
 * The rest of an install in one SSH command (every command starts the login shell, which costs a
 * loaded node a fraction of a second): unpacks the uploaded release and checks every file's
 * SHA-256 before it is renamed into place (prints \`verified\`), removes what cut uploads and
 * attempts left, puts this attempt's staged files where activate.sh takes them, starts activate.sh
 * detached (prints \`activating\`) and waits on the node for its outcome (wait-state: $1 is the
 * attempt, $2 the seconds to wait). A file that does not match: \`damaged: ...\`, exit 3, the upload
 * removed. Without an activation it stops after the check.
 */
export function finishScript(release: UploadedRelease | undefined, activation: Activation | undefined): string {
  const R = nodePaths.releases;
  // \`at STEP TIME\` lines on stderr: where the node's time goes (the installer's trace shows them).
  const lines = ['fail() { echo "$1" >&2; exit 1; }', 'step() { echo "at $1 $(date +%s.%N)" >&2; }', `R=${R}`, 'step begin'];
  if (release) {
    const { sha, incoming, from } = release;
    // A bad copy from the cache is removed with the cache's entry: it is uploaded again.
    const damaged = (what: string) => `{ cd /; rm -rf ${incoming}${from ? ` ${from}` : ''}; echo "damaged: ${what}"; exit 3; }`;
    if (from) lines.push(`mkdir -p $R && cp -R ${from} ${incoming} 2>/dev/null || { rm -rf ${incoming}; echo "the cache has no ${from}"; exit 4; }`);
    if (from) lines.push('step copied');
    lines.push(
      `cd ${incoming} || fail "the upload is not on the node"`,
      // gzip and zstd check their own checksums as they unpack; sha256sum then checks every file.
      ...release.files.filter((f) => f.packed).map((f) => `${unpackers[f.packed!]} ${shellWord(packedName(f.path, f.packed!))} 2>/dev/null || ${damaged(`${f.path} does not unpack`)}`),
      'step unpacked',
      `if ! ${sumsMatchScript}; then out=$(sha256sum --quiet -c .sha256sums 2>&1); ${damaged('${out:-a file does not match its SHA-256}')}; fi`,
      'step checked',
      ...release.files.map((f) => `chmod ${f.mode.toString(8)} ${shellWord(f.path)}`),
      // A damaged copy of the same release already there (it failed the install's check) is moved
      // aside for the whole one: a running agent keeps its open executable, and \`current\` points
      // at the release's name, which is whole again a rename later.
      `cd / && rm -rf $R/.damaged-${sha} && { [ ! -e $R/${sha} ] || mv -T $R/${sha} $R/.damaged-${sha}; } && mv -T ${incoming} $R/${sha} && rm -rf $R/.damaged-${sha} || fail "could not put release ${sha} in place"`,
    );
  }
  // Uploads cut short (the running release is never among them), and cache entries an hour old
  // that are not this release's (another node on the same filesystem may be copying a newer one).
  lines.push(
    'for d in "$R"/.incoming-*; do if [ -e "$d" ]; then rm -rf "$d"; fi; done',
    `find ${nodePaths.cache}/releases -mindepth 1 -maxdepth 1 -mmin +60 ${release ? `! -name ${release.sha}-'*' ` : ''}-exec rm -rf {} + 2>/dev/null`,
    'echo verified',
  );
  if (!activation) return `${lines.join('\n')}\n`;
  const S = nodePaths.staged;
  const { sha, attempt, init, waitSeconds, staged } = activation;
  lines.push(
    `rm -rf ${S} && mv -T ${staged} ${S} || fail "could not stage the configuration"`,
    // Staged by attempts that did not get this far.
    `for d in ${S}.*; do if [ -e "$d" ]; then rm -rf "$d"; fi; done`,
    `mkdir -p ${nodePaths.lib}`,
    `setsid -f sh ${nodePaths.bin}/activate.sh ${sha} ${attempt} ${init} ${waitSeconds} </dev/null >${nodePaths.activateLog} 2>&1 || fail "could not start activate.sh"`,
    'echo activating',
    waitStateScript,
    // activate.sh's own steps.
    `grep '^at ' ${nodePaths.activateLog} >&2`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Whether the files in the current folder match .sha256sums: with OpenSSL where the node has it
 * (it uses the CPU's SHA instructions: 0.15 s for the 96 MB, sha256sum 0.5 s on a loaded lab machine),
 * else with sha256sum.
 */
export const sumsMatchScript = `{ if command -v openssl >/dev/null 2>&1; then [ "$(sed 's/^[0-9a-f]*  //' .sha256sums | tr '\\n' '\\0' | xargs -0 openssl dgst -sha256 -r 2>/dev/null | sed 's/ \\*/  /')" = "$(cat .sha256sums)" ]; else sha256sum --quiet -c .sha256sums >/dev/null 2>&1; fi; }`;

/** Artifact paths are plain names (shared/api/agent-artifact.ts refuses anything else): safe as shell words. */
function shellWord(path: string): string {
  if (!/^[\w.+/-]+$/.test(path)) throw new Error(`not a plain path: ${path}`);
  return path;
}

/**
 * For an install: names the node's cache filesystem (\`cacheId=\`, made on first use: a random id
 * written whole, or not at all, by a hard link) and says which uploads of release SHA it holds
 * (\`cached=zstd|gzip|raw\`).
 */
export function cacheFactsScript(sha: string): string {
  const C = nodePaths.cache;
  return `if mkdir -p -m 0700 ${C} ${C}/releases 2>/dev/null && chmod 0700 ${C}; then
  if [ ! -s ${C}/id ]; then t=${C}/.id.$$; od -An -N16 -tx1 /dev/urandom | tr -d ' \\n' > $t && ln $t ${C}/id 2>/dev/null; rm -f $t; fi
  echo "cacheId=$(cat ${C}/id 2>/dev/null)"
  for c in zstd gzip raw; do if [ -f ${C}/releases/${sha}-$c/.manifest ]; then echo "cached=$c"; fi; done
fi
`;
}

/** uninstall.sh INIT: stops the agent so that it removes its routes and devices, then removes every file the installer made. */
export const uninstallScript = `
set -u
INIT="$1"; RUN=${nodePaths.run}
# The CNI plugin and configuration go first: no runtime may start a pod here while the agent goes.
rm -f ${nodePaths.cniConfig} ${nodePaths.cniPlugin}
if [ "$INIT" = systemd ] && [ -f ${nodePaths.unit} ]; then
  systemctl kill -s SIGUSR2 gingham-agent 2>/dev/null
  i=0; while systemctl is-active --quiet gingham-agent && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  systemctl disable --now gingham-agent >/dev/null 2>&1
  rm -f ${nodePaths.unit}
  systemctl daemon-reload
fi
pid=$(cat "$RUN/supervisor.pid" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill -USR2 "$pid"
  i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
fi
apid=$(cat "$RUN/agent.pid" 2>/dev/null || true)
[ -n "$apid" ] && kill -0 "$apid" 2>/dev/null && kill -KILL "$apid"
# The folders may be mount points (each lab node has its own): empty them, then remove them where possible.
for d in ${installedDirs.join(' ')}; do
  [ -d "$d" ] || continue
  find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  rmdir "$d" 2>/dev/null || true
done
echo removed
`;
