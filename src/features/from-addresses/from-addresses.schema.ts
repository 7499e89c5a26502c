import { z } from "zod";
import { strictBody } from "../../http/schema-helpers.js";
import { isEmailAddress } from "../../shared/email-address.js";

const addressMessage = "Enter an email address such as support@example.com";

export const createFolderBody = strictBody({
  name: z
    .string({ error: "Enter a folder name" })
    .trim()
    .min(1, "Enter a folder name")
    .max(100, "Folder name may have at most 100 characters"),
});

export const createValueBody = strictBody({
  name: z.string({ error: addressMessage }).trim().refine(isEmailAddress, addressMessage),
  displayName: z
    .string({ error: "Display name must be text" })
    .trim()
    .max(120, "Display name may have at most 120 characters")
    .default(""),
});

export const folderParams = z.object({ folderId: z.string() });
export const valueParams = z.object({ folderId: z.string(), valueId: z.string() });

export const folderView = z.object({ id: z.string(), name: z.string() });
export type FolderView = z.infer<typeof folderView>;

export const valueView = z.object({ id: z.string(), folderId: z.string(), name: z.string(), displayName: z.string() });
export type ValueView = z.infer<typeof valueView>;

export const fromAddressView = z.object({ address: z.string(), displayName: z.string() });
