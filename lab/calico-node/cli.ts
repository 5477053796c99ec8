// `tsx lab/calico-node/cli.ts build`: builds (or finds in the cache) calico-node, Calico's CNI
// plugin, confd's templates and BIRD 1.6 for the lab's Calico nodes. Run it before taking the
// lab's lock: the first build takes minutes, and `lab up` of a topology with Calico nodes does it too.
import { ensureCalicoNode } from './build.ts';

const [command] = process.argv.slice(2);
if (command !== 'build') {
  console.error('usage: tsx lab/calico-node/cli.ts build');
  process.exit(2);
}
ensureCalicoNode()
  .then((build) => console.log(build.dir))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
