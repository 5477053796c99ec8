// Field types the BGP resources share: AS numbers, Go-style durations, secret references.
import { z } from 'zod';

/** A 4-octet AS number (RFC 6793): 1 to 4294967295. */
export const asNumberSchema = z
  .int({ error: (issue) => `must be a whole AS number from 1 to 4294967295 (got ${JSON.stringify(issue.input)})` })
  .min(1)
  .max(4294967295);

/** Calico's default AS for the node-to-node mesh. */
export const defaultAsNumber = 64512;

/** A Go duration as Calico takes them: `30s`, `2m`, `1h30m`, `500ms`. */
export const durationSchema = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, {
  error: (issue) => `must be a duration such as 30s, 2m or 1h30m (got ${JSON.stringify(issue.input)})`,
});

/** A reference to a key in a Secret, as Calico's BGP passwords are given. */
export const secretKeyRefSchema = z.object({
  secretKeyRef: z.object({ name: z.string().default(''), key: z.string(), optional: z.boolean().optional() }),
});
