// The meaning of each of the doctor's codes as docs/doctor.md states it: under a `## ` heading
// ("Reason codes", "Scan codes"), each `### code` and the paragraph below it. The doc is the one
// place the codes are explained; the console shows these sentences beside a finding's code.

/** `code -> meaning` from the `## heading` section of `markdown`; paragraphs joined, lines unwrapped. */
export function codeMeanings(markdown: string, heading: string): ReadonlyMap<string, string> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === `## ${heading}`);
  const meanings = new Map<string, string>();
  if (start < 0) return meanings;
  let code: string | undefined;
  let text: string[] = [];
  const flush = () => {
    if (code) meanings.set(code, text.join(' ').replace(/\s+/g, ' ').trim());
  };
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    const named = /^### (\S+)\s*$/.exec(line);
    if (named) {
      flush();
      code = named[1];
      text = [];
    } else if (code) text.push(line);
  }
  flush();
  return meanings;
}
