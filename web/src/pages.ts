import type { ComponentType } from "react";
import type { Role } from "./api/types";
import { AccountPage } from "./pages/account/account-page";
import { ApplicationsPage } from "./pages/applications/applications-page";
import { MailboxesPage } from "./pages/mailboxes/mailboxes-page";
import { RoutingPage } from "./pages/routing/routing-page";
import { SupervisorPage } from "./pages/supervisor/supervisor-page";
import { UsersPage } from "./pages/users/users-page";
import { WorkspacePage } from "./pages/workspace/workspace-page";

export interface PageDef {
  /** the page owns this path and every path under it (/mailboxes/123) */
  path: string;
  label: string;
  roles: readonly Role[];
  component: ComponentType;
}

const everyone: readonly Role[] = ["admin", "supervisor", "agent"];

/** The app's pages in navigation order; each says who may open it (the API checks the same on every call). */
export const pages: readonly PageDef[] = [
  { path: "/workspace", label: "Workspace", roles: everyone, component: WorkspacePage },
  { path: "/supervisor", label: "Supervisor", roles: ["admin", "supervisor"], component: SupervisorPage },
  { path: "/mailboxes", label: "Mailboxes", roles: ["admin"], component: MailboxesPage },
  { path: "/applications", label: "Applications", roles: ["admin"], component: ApplicationsPage },
  { path: "/routing", label: "Routing", roles: ["admin", "supervisor"], component: RoutingPage },
  { path: "/users", label: "Users", roles: ["admin"], component: UsersPage },
  { path: "/account", label: "Account", roles: everyone, component: AccountPage },
];

/** Where a role lands after sign-in. */
export function homePath(role: Role): string {
  return role === "admin" ? "/mailboxes" : role === "supervisor" ? "/supervisor" : "/workspace";
}

export function pageFor(path: string): PageDef | undefined {
  return pages.find((p) => path === p.path || path.startsWith(p.path + "/"));
}
