import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Locator, Page } from "playwright-core";

// The callbacks given to evaluate() run in the browser. The tests are compiled for Node, without the
// DOM library, so the little of the DOM they touch is declared here, for this module alone.
interface PageElement {
  classList: { contains(name: string): boolean };
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: { getElementById(id: string): PageElement | null };

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * What axe-core finds serious or critical in the page as it is now, open dialogs and menus included.
 * Injected over the debugging protocol, so the app's CSP stays as it is.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate<AxeViolation[]>("axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)");
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** A form field by its label's text; a required field's label ends with " *", which screen readers skip. */
export function field(scope: Locator, label: string): Locator {
  return scope.getByLabel(new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}( \\*)?$`));
}

/** The field's own state as a screen reader meets it: aria-invalid, and the message it is described by. */
export function fieldState(scope: Locator, label: string) {
  return field(scope, label).evaluate((el: PageElement) => {
    const ids: string[] = (el.getAttribute("aria-describedby") ?? "").split(/\s+/).filter(Boolean);
    const error = ids.map((id) => document.getElementById(id)).find((e) => e?.classList.contains("field-error"));
    return { invalid: el.getAttribute("aria-invalid") === "true", error: error?.textContent ?? null };
  });
}

/** At phone width the page itself must not scroll sideways (a wide table scrolls inside its own frame). */
export async function fitsNarrow(page: Page): Promise<boolean> {
  await page.setViewportSize({ width: 390, height: 844 });
  return page.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth");
}

/** Records the page's layout shifts (Chromium's Layout Instability API) from the next page load on. */
export async function recordLayoutShifts(page: Page): Promise<void> {
  await page.addInitScript({
    content: `window.mailroomLayoutShifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.mailroomLayoutShifts.push(entry.value);
    }).observe({ type: "layout-shift", buffered: true });`,
  });
}

/** How much the page's layout shifted since it loaded, without the user doing anything (CLS; "good" is under 0.1). */
export async function layoutShift(page: Page): Promise<number> {
  return Number(await page.evaluate("(window.mailroomLayoutShifts || []).reduce((sum, v) => sum + v, 0)"));
}
