import { z } from "zod";
import { displayText, strictBody } from "../../http/schema-helpers.js";
import { isEmailAddress } from "../../shared/email-address.js";

const addressMessage = "Enter an email address such as support@example.com";

export const createFolderBody = strictBody({
  name: displayText("Folder name", { max: 100, required: "Enter a folder name" }),
});

export const createValueBody = strictBody({
  name: z.string({ error: addressMessage }).trim().refine(isEmailAddress, addressMessage),
  // the name part of a From header agents send with
  displayName: displayText("Display name", { max: 120, min: 0 }).default(""),
});

export const folderParams = z.object({ folderId: z.string() });
export const valueParams = z.object({ folderId: z.string(), valueId: z.string() });

export const folderView = z.object({ id: z.string(), name: z.string() });
export type FolderView = z.infer<typeof folderView>;

export const valueView = z.object({ id: z.string(), folderId: z.string(), name: z.string(), displayName: z.string() });
export type ValueView = z.infer<typeof valueView>;

export const fromAddressView = z.object({ address: z.string(), displayName: z.string() });
