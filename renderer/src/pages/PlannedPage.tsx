// A section that is not built yet says so, and says what it will show. It never shows made-up data.
export function PlannedPage({ title, what }: { title: string; what: string }) {
  return (
    <section aria-labelledby="section-heading">
      <h1 id="section-heading" tabIndex={-1}>
        {title}
      </h1>
      <p className="planned">
        <strong>Not built yet.</strong> {what}
      </p>
    </section>
  );
}
