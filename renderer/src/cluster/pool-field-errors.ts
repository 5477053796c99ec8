// The IP pool form's checks, field by field, from the model's own IPPool rules (the CRD's), so the
// form says what the API server would say, in the same words, before anything is sent.
import type { PoolFields } from '../../../shared/api/cluster-ops-contract.ts';
import { parseIPPool } from '../../../shared/model/ippool.ts';
import { ValidationError } from '../../../shared/model/validation.ts';

/** Field-level problems, by field name, from the same schema the CRD's validation comes from. */
export function poolFieldErrors(name: string, fields: PoolFields): Record<string, string> {
  const errors: Record<string, string> = {};
  try {
    parseIPPool({ apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec: fields });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    for (const issue of error.issues) errors[issue.path === 'metadata.name' ? 'name' : issue.path.replace(/^spec\./, '')] ??= issue.message;
  }
  return errors;
}

