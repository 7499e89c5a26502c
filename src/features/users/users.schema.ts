import { z } from "zod";
import { roles, type Role } from "../../shared/roles.js";

export { roles, type Role };

export const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9@_.-]{1,64}$/, "Username may use letters, digits, @ _ . - and at most 64 characters");

export const passwordSchema = z
  .string()
  .min(8, "Password must have at least 8 characters")
  .max(256, "Password may have at most 256 characters");

export const createUserBody = z
  .object({
    username: usernameSchema,
    password: passwordSchema,
    role: z.enum(roles, { message: "Role must be admin, supervisor or agent" }),
    displayName: z.string().max(120, "Display name may have at most 120 characters").optional(),
  })
  .strict();

export const userView = z.object({
  id: z.string(),
  username: z.string(),
  role: z.enum(roles),
  displayName: z.string().nullable(),
  createdAt: z.string(),
});
export type UserView = z.infer<typeof userView>;
