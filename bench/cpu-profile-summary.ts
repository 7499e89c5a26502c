/**
 * Where a process spent its CPU: the self time of a .cpuprofile (from `node --cpu-prof`, e.g. through
 * `npm run bench:ingest -- "--mailroom-node-args=--cpu-prof --cpu-prof-dir=.bench/prof"`), summed by
 * function and by package or source file. Usage: npx tsx bench/cpu-profile-summary.ts FILE [top]
 */
import fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** node_modules/<package> or src/… or a Node-internal bucket. */
function bucketOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const local = /\/(src|bench|test)\/(.*)$/.exec(url);
  if (local) return `${local[1]}/${local[2]}`;
  if (url.startsWith("node:")) return url;
  return url.replace(/^file:\/\//, "");
}

const [file, topText] = process.argv.slice(2);
if (!file) throw new Error("usage: npx tsx bench/cpu-profile-summary.ts FILE [top]");
const top = Number(topText ?? 25);
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

const byFunction = new Map<string, number>();
const byBucket = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame;
  const bucket = bucketOf(frame.url, frame.functionName);
  const name = `${frame.functionName || "(anonymous)"} ${bucket}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + us);
}
const totalUs = profile.endTime - profile.startTime;
const idleUs = [...selfUs].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, us]) => a + us, 0);
const rows = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: Math.round((us / totalUs) * 1000) / 10 }));
process.stdout.write(
  `${JSON.stringify({ file, wallMs: Math.round(totalUs / 1000), busyMs: Math.round((totalUs - idleUs) / 1000), byBucket: rows(byBucket), byFunction: rows(byFunction) }, null, 1)}\n`,
);
