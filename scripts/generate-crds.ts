// `npm run -s generate:crds`: prints Gingham's CRDs for the crd.projectcalico.org group as YAML,
// for `kubectl apply -f -` on a cluster that has no Calico.
import { stringify } from 'yaml';
import { calicoCrds } from '../shared/model/crds.ts';

process.stdout.write(calicoCrds().map((crd) => stringify(crd)).join('---\n'));
