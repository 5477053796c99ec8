// Hands bytes the backend sent (base64, through the contract: the sandboxed renderer has no file
// system) to the browser's download, which Chromium and Electron save where the user says.
export function downloadFile(fileName: string, base64: string, type: string): void {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
