import type { Role } from "../../api/types";

/** A user as GET /api/v1/users lists it (admins only). */
export interface User {
  id: string;
  username: string;
  role: Role;
  displayName: string | null;
  disabled: boolean;
  available: boolean;
  capacity: number;
  createdAt: string;
  lastLoginAt: string | null;
}

export const roleChoices: { value: Role; label: string }[] = [
  { value: "agent", label: "Agent" },
  { value: "supervisor", label: "Supervisor" },
  { value: "admin", label: "Administrator" },
];

export function roleLabel(role: Role): string {
  return roleChoices.find((c) => c.value === role)?.label ?? role;
}

/** How a user is named on the pages: the display name when there is one, with the username. */
export function userLabel(user: Pick<User, "username" | "displayName">): string {
  return user.displayName ? `${user.displayName} (${user.username})` : user.username;
}
