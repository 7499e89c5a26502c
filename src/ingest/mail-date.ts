/**
 * The Date header when it is a date. V8's Date parser is lenient to the point of reading "1" as
 * 2001, so a value must at least carry a time of day and a plausible year.
 */
export function parseMailDate(value: string | undefined): Date | null {
  if (!value || value.length > 200 || !/\d{1,2}:\d{2}/.test(value)) return null;
  const ms = Date.parse(value.replace(/\s+/g, " ").trim());
  if (Number.isNaN(ms)) return null;
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  return year >= 1970 && year <= 9999 ? date : null;
}
