import type { AddressObject, EmailAddress } from "mailparser";
import { cleanLine } from "./clean-text.js";
import type { Address } from "./types.js";

export const noAddress: Address = { address: "", name: "" };

/**
 * An address as Mailroom stores it: no controls or whitespace, the domain in lower case (the local part
 * is the receiving server's to interpret, so its case is kept).
 */
export function normalizeAddress(address: string): string {
  const compact = cleanLine(address, 998).replace(/\s+/g, "").replace(/^<+|>+$/g, "");
  const at = compact.lastIndexOf("@");
  if (at === -1) return compact;
  return `${compact.slice(0, at)}@${compact.slice(at + 1).toLowerCase()}`;
}

function flatten(entries: EmailAddress[], into: Address[], depth: number): void {
  for (const entry of entries) {
    // groups are flattened; a group inside a group is not valid RFC 5322 but costs nothing to accept
    if (entry.group) {
      if (depth < 8) flatten(entry.group, into, depth + 1);
      continue;
    }
    const address = normalizeAddress(entry.address ?? "");
    const name = cleanLine(entry.name ?? "", 256);
    if (address || name) into.push({ address, name });
  }
}

/** Every mailbox of an address header (or of repeated headers), groups flattened, in order. */
export function addressList(header: AddressObject | AddressObject[] | undefined): Address[] {
  if (!header) return [];
  const list: Address[] = [];
  for (const object of Array.isArray(header) ? header : [header]) flatten(object.value, list, 0);
  return list;
}

/** The first mailbox of From, or the empty address when there is none. */
export function firstAddress(header: AddressObject | AddressObject[] | undefined): Address {
  return addressList(header)[0] ?? { ...noAddress };
}
