// A sentence from docs/doctor.md as the guide renders it: `backticked` spans as code, the rest text.
export function InlineCode({ text }: { text: string }) {
  return (
    <>
      {text.split('`').map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}
    </>
  );
}
