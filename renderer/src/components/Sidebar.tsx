import { sections, type SectionId } from '../routes.ts';

export function Sidebar({ current }: { current: SectionId }) {
  return (
    <nav className="sidebar" aria-label="Console sections">
      <p className="brand" aria-hidden="true">
        Gingham
      </p>
      <ul>
        {sections.map((s) => (
          <li key={s.id}>
            <a href={`#/${s.id}`} aria-current={s.id === current ? 'page' : undefined}>
              {s.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
