// V8's young generation in the agent's processes stays at its first size (1 MiB a semi-space)
// instead of doubling up to 16 MiB when many objects survive a scavenge: taking in a full table
// (decoded UPDATEs, the kernel's echoes as text) grew it to the maximum, a V8 heap of 63 MiB for
// 27 in use. At 1M routes the built agent's peak RSS went from 213 to 199 MiB and its heap to
// 31 MiB, with no more CPU (4.4 -> 3.9 s); the standalone speaker took in 1M as fast
// (bench/README.md, #14). Node 20's single executable takes no V8 options of its own, and
// --max-semi-space-size counts only when the heap is made; the growth factor is read at each
// growth, so 1 means no growth. Imported first by the executable's entry (sea-main.ts) and by
// bin.ts (a checkout).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
