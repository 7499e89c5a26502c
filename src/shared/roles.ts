/** Who a signed-in user is to Mailroom; every route says which of these may call it. */
export const roles = ["admin", "supervisor", "agent"] as const;
export type Role = (typeof roles)[number];
