import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./clock.js";

/**
 * Everything a benchmark starts (Dovecot, Mailroom processes, child processes, temp dirs), stopped in
 * reverse order at the end, on failure too, each by the PID or handle it was started with.
 */
export class Cleanup {
  readonly #steps: { name: string; run: () => Promise<void> }[] = [];

  add(name: string, run: () => Promise<void>): () => Promise<void> {
    const step = { name, run };
    this.#steps.push(step);
    // the caller may finish a step early; it then leaves the list
    return async () => {
      const i = this.#steps.indexOf(step);
      if (i < 0) return;
      this.#steps.splice(i, 1);
      await run();
    };
  }

  async runAll(): Promise<string[]> {
    const failures: string[] = [];
    while (this.#steps.length) {
      const step = this.#steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        failures.push(`${step.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}

export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < until) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // ended meanwhile
    }
    while (isAlive(pid)) await sleep(20);
  }
}

function statusField(pid: number | "self", field: string): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** Resident set size in kB, from /proc/PID/status VmRSS. */
export const rssKb = (pid: number | "self"): number => statusField(pid, "VmRSS");
/** VmRSS of the process and all its descendants (Mailroom's parse workers are child processes), in kB. */
export function treeRssKb(pid: number): number {
  let total = rssKb(pid);
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    for (const child of children ? children.split(" ") : []) total += treeRssKb(Number(child));
  }
  return total;
}
/** Peak resident set size in kB (VmHWM). */
export const peakRssKb = (pid: number | "self"): number => statusField(pid, "VmHWM");

/** CPU seconds (user + system) the process has used, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

/** The soft limit of open files of this process. */
export function openFilesLimit(): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync("/proc/self/limits", "utf8"));
  return !match || match[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** Raises another process's open-files limit (root), for a process this benchmark started. */
export function raiseOpenFiles(pid: number, limit: number): void {
  execFileSync("prlimit", [`--pid=${pid}`, `--nofile=${limit}:${limit}`], { stdio: "pipe" });
}

/**
 * Starts a Node script under tsx as a child process with stdin/stdout as pipes; when this process's
 * open-files limit is below `openFiles`, the child runs under `ulimit -n` (exec keeps its PID).
 */
export function spawnNode(script: string, args: string[], opts: { nodeArgs?: string[]; openFiles?: number } = {}): ChildProcess {
  const argv = [...(opts.nodeArgs ?? []), "--import", "tsx", script, ...args];
  const needs = opts.openFiles ?? 0;
  if (needs <= openFilesLimit()) return spawn(process.execPath, argv, { stdio: ["pipe", "pipe", "inherit"] });
  const quoted = [process.execPath, ...argv].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return spawn("bash", ["-c", `ulimit -n ${needs} && exec ${quoted}`], { stdio: ["pipe", "pipe", "inherit"] });
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and iowait) since boot. */
export function machineBusySeconds(): number {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = fields.reduce((a, b, i) => (i === 3 || i === 4 || i > 7 ? a : a + b), 0);
  return busy / 100;
}

/**
 * CPU seconds used so far by the processes whose command line contains one of `markers`, with what
 * their reaped children used (a Dovecot master counts its finished sessions).
 */
export function cpuSecondsOfMatching(markers: string[]): number {
  let total = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (!markers.some((m) => cmdline.includes(m))) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

/**
 * Starts counting the CPU the rest of the machine takes: busy time of all cores minus what this
 * process, `pids` and the processes matching `markers` use. The returned function reads the seconds
 * so far. On a shared host this is what explains a run that stands out. Approximate: Dovecot's
 * long-lived helpers (auth, log, stats) count as others.
 */
export function othersCpu(pids: number[], markers: string[]): () => number {
  const ours = () => {
    const self = process.cpuUsage();
    return (self.user + self.system) / 1e6 + pids.reduce((a, p) => a + cpuSeconds(p), 0) + cpuSecondsOfMatching(markers);
  };
  const busy0 = machineBusySeconds();
  const ours0 = ours();
  return () => Math.round(Math.max(0, machineBusySeconds() - busy0 - (ours() - ours0)) * 10) / 10;
}

const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * What the command lines of the processes a benchmark starts from this checkout hold: Mailroom,
 * compiled or from source, its parse workers, and the benchmarks' child processes (started by
 * absolute path). For othersCpu.
 */
export const checkoutMarkers = ["dist", "src", "bench"].map((dir) => `${path.join(checkout, dir)}/`);
