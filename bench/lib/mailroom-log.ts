/** What a Mailroom process printed, boiled down for a report. */

export interface MailroomLogSummary {
  /** warnings and errors Mailroom logged, counted by message (and code) */
  counts: Record<string, number>;
  /** the first few lines of each kind, as printed */
  samples: string[];
}

/** What Mailroom printed: log lines at warn level and above (MAILROOM_LOG_LEVEL=warn) counted by message and code, other lines by their text. */
export function summarizeLog(output: string): MailroomLogSummary {
  const counts: Record<string, number> = {};
  const samples: string[] = [];
  const perKind = new Map<string, number>();
  for (const line of output.split("\n")) {
    if (!line.trim()) continue;
    let key: string;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; code?: string };
      if ((entry.level ?? 0) < 40) continue;
      key = `${entry.msg ?? "(no msg)"}${entry.code ? ` [${entry.code}]` : ""}`;
    } catch {
      // Node's own warnings (e.g. MaxListenersExceededWarning), without the PID
      key = line.replace(/^\(node:\d+\) /, "").slice(0, 160);
    }
    counts[key] = (counts[key] ?? 0) + 1;
    const n = perKind.get(key) ?? 0;
    perKind.set(key, n + 1);
    if (n < 2 && samples.length < 12) samples.push(line.slice(0, 600));
  }
  return { counts, samples };
}
