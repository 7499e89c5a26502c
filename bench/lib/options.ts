/** What every benchmark's command line reads, each failure ending with that benchmark's usage text. */
export function optionReaders(usage: string) {
  const fail = (message: string): never => {
    throw new Error(`${message}\n${usage}`);
  };
  const number = (text: string | undefined, fallback: number, what: string, valid: (n: number) => boolean, must: string): number => {
    if (text === undefined || text === "") return fallback;
    const n = Number(text);
    return valid(n) ? n : fail(`${what} must be ${must}`);
  };
  return {
    /** a number above 0; `whole` also asks for an integer */
    positive: (text: string | undefined, fallback: number, what: string, whole = false) =>
      number(text, fallback, what, (n) => (whole ? Number.isInteger(n) : Number.isFinite(n)) && n > 0, whole ? "a positive whole number" : "a positive number"),
    wholeNumber: (text: string | undefined, fallback: number, what: string) => number(text, fallback, what, (n) => Number.isInteger(n) && n >= 0, "a whole number"),
    /** A comma list of names from `allowed`, in the order of `allowed`; "all" picks every one. */
    namesFrom: <T extends string>(text: string, allowed: readonly T[], what: string): T[] => {
      const chosen = text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (chosen.includes("all")) return [...allowed];
      for (const name of chosen) if (!(allowed as readonly string[]).includes(name)) fail(`unknown ${what} ${name}: use ${allowed.join(", ")}`);
      if (chosen.length === 0) fail(`name at least one ${what}`);
      return allowed.filter((name) => chosen.includes(name));
    },
    /** --help prints the usage and ends the process; BENCH_QUICK=1 (or the flag) asks for a smoke run */
    helpAndQuick: (help: boolean | undefined, quick: boolean | undefined, env: Record<string, string | undefined>): boolean => {
      if (help) {
        process.stderr.write(`${usage}\n`);
        process.exit(0);
      }
      return quick ?? ["1", "true", "yes"].includes(env.BENCH_QUICK ?? "");
    },
  };
}

/**
 * The parseArgs flags every benchmark of Mailroom takes besides its own: a smoke run, node flags for
 * the Mailroom processes, where the JSON also goes, and the usage text.
 */
export const commonFlags = {
  quick: { type: "boolean" },
  "mailroom-node-args": { type: "string" },
  out: { type: "string" },
  help: { type: "boolean" },
} as const;

/** parseArgs flags that each take one value, by name. */
export function stringFlags<Name extends string>(...names: Name[]): Record<Name, { type: "string" }> {
  return Object.fromEntries(names.map((name) => [name, { type: "string" }])) as Record<Name, { type: "string" }>;
}

/** The flags of a benchmark with named scenarios run on corpora (each a comma list, or the flag repeated). */
export const scenarioFlags = {
  scenario: { type: "string", multiple: true },
  corpus: { type: "string", multiple: true },
} as const;

/** What commonFlags' node flags and output file were given as. */
export function commonValues(values: { "mailroom-node-args"?: string | undefined; out?: string | undefined }): { mailroomNodeArgs: string[]; out: string | undefined } {
  return { mailroomNodeArgs: (values["mailroom-node-args"] ?? "").split(/\s+/).filter(Boolean), out: values.out };
}
