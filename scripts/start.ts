// `npm start`: the console on the lab. Until the console (issue "console frame") and the lab
// (issue "the lab") land, it says plainly what exists and what does not, and fails.
const built: Array<[string, string]> = [
  ['shared/net, shared/model', 'IPv4/CIDR math, Calico names, Calico resources with validation'],
];
const notYet: Array<[string, string]> = [
  ['console (electron/, renderer/)', 'the desktop app and its web mode'],
  ['lab (lab/)', 'the seed cluster in network namespaces'],
  ['agent (agent/)', 'BGP speaker, dataplane, datastore, CNI plugin'],
];

console.log('Gingham is being built. What exists today:');
for (const [part, what] of built) console.log(`  ✓ ${part.padEnd(34)} ${what}`);
console.log('Not built yet, so `npm start` has nothing to open:');
for (const [part, what] of notYet) console.log(`  ✗ ${part.padEnd(34)} ${what}`);
console.log('\n`npm test` runs everything that exists.');
process.exit(1);
