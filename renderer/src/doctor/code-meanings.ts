// What each of the doctor's codes means, read at build time from docs/doctor.md (its "Reason codes"
// and "Scan codes" sections), so that the page says what the guide says and cannot drift from it.
import doctorGuide from '../../../docs/doctor.md?raw';
import { codeMeanings } from '../../../shared/doctor/code-docs.ts';

export const scanCodeMeanings = codeMeanings(doctorGuide, 'Scan codes');
export const reasonCodeMeanings = codeMeanings(doctorGuide, 'Reason codes');
