// The cluster the console is connected to, as the backend answers contexts.connect: the frame
// holds it and every cluster section reads it (kept apart from App.tsx so the sections do not
// import the frame that imports them).
import type { RequestResult } from '../../../shared/api/console-contract.ts';

export type ConnectedCluster = RequestResult<'contexts.connect'>;
