// Data output of the tool commands: JSON lines (default, streamable), one JSON array, CSV, or an
// aligned text table. Columns are the union of the rows' keys, in first-seen order.
export const OUTPUT_FORMATS = ['jsonl', 'json', 'csv', 'table'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

type Row = Record<string, unknown>;

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function csvCell(v: unknown): string {
  const text = cell(v);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function columnsOf(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** Writes rows as they come (jsonl) or collects them and writes at `end()` (json, csv, table). */
export interface RowWriter {
  write(row: Row): void;
  end(): void;
}

export function rowWriter(out: NodeJS.WritableStream, format: OutputFormat): RowWriter {
  if (format === 'jsonl') return { write: (row) => void out.write(`${JSON.stringify(row)}\n`), end: () => undefined };
  const rows: Row[] = [];
  return {
    write: (row) => void rows.push(row),
    end: () => {
      if (format === 'json') {
        out.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      const columns = columnsOf(rows);
      if (format === 'csv') {
        out.write(`${[columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n')}\n`);
        return;
      }
      if (rows.length === 0) return;
      const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
      const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join('  ').trimEnd();
      out.write(`${[line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n')}\n`);
    },
  };
}
