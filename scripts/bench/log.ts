/** Progress lines on stderr (stdout carries only the table). */
export function progress(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${message}\n`);
}

export function fmtCount(n: number): string {
  return n.toLocaleString('en-US');
}
