import { z } from "zod";
import { displayText, strictBody } from "../../http/schema-helpers.js";
import { roles, type Role } from "../../shared/roles.js";

export { roles, type Role };

export const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9@_.-]{1,64}$/, "Username may use letters, digits, @ _ . - and at most 64 characters");

export const passwordSchema = z
  .string()
  .min(8, "Password must have at least 8 characters")
  .max(256, "Password may have at most 256 characters");

const roleSchema = z.enum(roles, { message: "Role must be admin, supervisor or agent" });
const displayNameSchema = displayText("Display name", { max: 120, min: 0 });
const capacitySchema = z
  .number({ error: "Capacity is a whole number from 0 to 100" })
  .int("Capacity is a whole number from 0 to 100")
  .min(0, "Capacity is a whole number from 0 to 100")
  .max(100, "Capacity is a whole number from 0 to 100");

export const createUserBody = z
  .object({
    username: usernameSchema,
    password: passwordSchema,
    role: roleSchema,
    displayName: displayNameSchema.optional(),
  })
  .strict();

/** Only the fields sent change; `displayName: null` (or "") clears the display name. */
export const patchUserBody = strictBody({
  role: roleSchema.optional(),
  displayName: displayNameSchema.nullable().optional(),
  disabled: z.boolean({ error: "disabled must be true or false" }).optional(),
  capacity: capacitySchema.optional(),
});
export type PatchUserInput = z.infer<typeof patchUserBody>;

export const setPasswordBody = strictBody({ password: passwordSchema });

export const changeOwnPasswordBody = strictBody({
  // not held to today's rules: a password set before them still has to work here
  currentPassword: z.string().min(1, "Enter your current password").max(1024, "Current password may have at most 1024 characters"),
  newPassword: passwordSchema,
});

export const userView = z.object({
  id: z.string(),
  username: z.string(),
  role: z.enum(roles),
  displayName: z.string().nullable(),
  disabled: z.boolean(),
  available: z.boolean().describe("takes work now: interactions of the user's queues are offered up to capacity"),
  capacity: z.number().describe("the most interactions offered to the user at once (default 5)"),
  createdAt: z.string(),
  lastLoginAt: z.string().nullable(),
});

export const availabilityBody = strictBody({ available: z.boolean({ error: "available must be true or false" }) });
export const availabilityView = z.object({ available: z.boolean(), capacity: z.number() });
export type UserView = z.infer<typeof userView>;
