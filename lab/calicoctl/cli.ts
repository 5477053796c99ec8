// `tsx lab/calicoctl/cli.ts build`: builds (or finds in the cache) calicoctl, the test client that
// reads what Gingham writes as Calico would. `npm test` runs it before the integration tier.
import { ensureCalicoctl } from './build.ts';

const [command] = process.argv.slice(2);
if (command !== 'build') {
  console.error('usage: tsx lab/calicoctl/cli.ts build');
  process.exit(2);
}
ensureCalicoctl()
  .then((file) => console.log(file))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
