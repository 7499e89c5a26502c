import type { ReactNode } from "react";
import { ApiError } from "../api/client";

/** An error as the API said it: its message, and each field's problem when the form does not show them itself. */
export function ErrorNotice({ error, title, showDetails = true }: { error: unknown; title?: string; showDetails?: boolean }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "Something went wrong.";
  const details = showDetails && error instanceof ApiError ? error.details : [];
  return (
    <div className="notice notice-error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {message}
      {details.length > 0 ? (
        <ul>
          {details.map((d) => (
            <li key={d.path + d.message}>
              {d.path ? <code>{d.path}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Notice({ kind = "info", children }: { kind?: "info" | "success" | "warning"; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "info" ? undefined : "status"}>
      {children}
    </div>
  );
}

/** What a list or pane shows when it has nothing, and what to do about it. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state">
      <p className="empty-title">{title}</p>
      {children ? <div className="empty-body">{children}</div> : null}
    </div>
  );
}

/** Where data will appear: keeps its room while loading, so nothing jumps when it arrives. */
export function Loading({ label = "Loading…", minHeight = "6rem" }: { label?: string; minHeight?: string }) {
  return (
    <div className="loading" style={{ minHeight }} aria-busy="true">
      {label}
    </div>
  );
}

/** Field messages of an API error keyed by path ("auth.clientId"), for forms that show them inline. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const d of error.details) if (!(d.path in out)) out[d.path] = d.message;
  return out;
}
