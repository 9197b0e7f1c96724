/** The figures as a Markdown table, each beside its target and whether it is met. */

export interface Row {
  what: string;
  figure: string;
  target?: string;
  met?: boolean;
}

export function printReport(rows: Row[]): void {
  const cells = rows.map((r) => [
    r.what,
    r.figure,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
  ]);
  const header = ['what', 'figure', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(`\n${line(header)}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const c of cells) console.log(line(c));
  const targets = rows.filter((r) => r.met !== undefined);
  console.log(`\n${targets.filter((r) => r.met).length} of ${targets.length} targets met.`);
}
