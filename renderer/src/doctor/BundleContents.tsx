// What a diagnostics bundle holds: where it was taken from, what was redacted in which file, each
// folder's files (and every file with what made it), what could not be collected; and the
// archive itself to download, as the backend sent it through the contract.
import type { BundleResult } from '../../../shared/doctor/bundle-contents.ts';
import { ColumnHeaders } from '../components/ColumnHeaders.tsx';
import { downloadFile } from '../components/download-file.ts';

const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/** `nodes/worker-1/ip-route.json` -> `nodes/worker-1/`; top-level files under `./`. */
const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : './');

export function BundleContents({ bundle }: { bundle: BundleResult }) {
  const archiveBytes = Math.floor((bundle.base64.length * 3) / 4);
  const folders = [...new Set(bundle.files.map((f) => folderOf(f.path)))];
  const from = bundle.nodes.filter((n) => n !== bundle.healthyNode);
  return (
    <div className="bundle-result">
      <p role="status" className="bundle-summary">
        <strong>{bundle.fileName}</strong>: {bundle.files.length} files, {size(archiveBytes)} compressed, from {from.join(', ')}
        {bundle.healthyNode ? ` and ${bundle.healthyNode} (healthy, for comparison)` : ''}.
      </p>
      <p>
        <button type="button" className="primary" onClick={() => downloadFile(bundle.fileName, bundle.base64, 'application/gzip')}>
          Download {bundle.fileName}
        </button>
      </p>
      <p className="hint">Open index.html in it first: the scan, every file with what made it, and what was redacted.</p>
      <table className="redactions">
        <caption>Redacted</caption>
        <ColumnHeaders columns={['File', 'What', 'How many']} />
        <tbody>
          {bundle.redactions.map((r) => (
            <tr key={`${r.file} ${r.what}`}>
              <td className="path">
                <code>{r.file}</code>
              </td>
              <td>{r.what}</td>
              <td>{r.count}</td>
            </tr>
          ))}
          {bundle.redactions.length === 0 && (
            <tr>
              <td colSpan={3}>Nothing needed redacting.</td>
            </tr>
          )}
        </tbody>
      </table>
      <p className="hint">Private keys, tokens, kubeconfig credentials and BGP passwords are replaced by [REDACTED …] in the archive; Kubernetes Secrets are never read.</p>
      <table className="bundle-folders">
        <caption>Collected</caption>
        <ColumnHeaders columns={['Folder', 'Files', 'Size']} />
        <tbody>
          {folders.map((folder) => {
            const files = bundle.files.filter((f) => folderOf(f.path) === folder);
            return (
              <tr key={folder}>
                <th scope="row">
                  <code>{folder}</code>
                </th>
                <td>{files.map((f) => f.path.slice(folder === './' ? 0 : folder.length)).join(', ')}</td>
                <td>{size(files.reduce((sum, f) => sum + f.bytes, 0))}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <details>
        <summary>Every file ({bundle.files.length})</summary>
        <table className="bundle-files">
          <caption>Files in {bundle.fileName}</caption>
          <ColumnHeaders columns={['File', 'Holds', 'Size']} />
          <tbody>
            {bundle.files.map((f) => (
              <tr key={f.path}>
                <td className="path">
                  <code>{f.path}</code>
                </td>
                <td>{f.about}</td>
                <td>{size(f.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      {bundle.gaps.length > 0 && (
        <ul className="gaps" aria-label="Not collected">
          {bundle.gaps.map((g) => (
            <li key={g}>Not collected: {g}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
