import { useEffect, useState } from "react";

const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** The time now, renewed every `everyMs`: what relative times are measured from. */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** "3 minutes ago", with the exact time in a tooltip and for machines. */
export function Time({ iso }: { iso: string | null | undefined }) {
  const now = useNow();
  if (!iso) return <span>—</span>;
  const at = new Date(iso);
  const ahead = at.getTime() - now;
  // \`now\` ticks every 30 s, so a moment that looks up to a minute ahead has passed already: "now"
  const seconds = ahead > 0 && ahead < 60_000 ? 0 : Math.round(ahead / 1000);
  const [unit, size] = units.find(([, s]) => Math.abs(seconds) >= s) ?? ["second", 1];
  return (
    <time dateTime={iso} title={at.toLocaleString()}>
      {relative.format(Math.round(seconds / size), unit)}
    </time>
  );
}
