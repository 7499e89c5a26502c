import type { Kysely } from "kysely";
import { isForeignKeyViolation, uniqueViolation } from "../../db/constraint-errors.js";
import type { Database } from "../../db/schema.js";
import { AppError } from "../../errors.js";
import type { Clock } from "../../shared/clock.js";
import { newId } from "../../shared/ids.js";
import type { Actor, AuditService } from "../audit/audit.service.js";
import type { FromAddress } from "../auth/auth.service.js";
import type { FolderView, ValueView } from "./from-addresses.schema.js";
import { FromAddressesStore, type ValueRow } from "./from-addresses.store.js";

function toValueView(v: ValueRow): ValueView {
  return { id: v.id, folderId: v.folder_id, name: v.name, displayName: v.display_name };
}

/** What the outbound mailbox says about agents' From addresses. */
export interface OutboundSender {
  fromAddress: string | null;
  fromAddressFolderId: string | null;
}

/**
 * The business attributes of the reference: folders whose values are the From addresses agents may
 * pick. The outbound mailbox names the folder that counts.
 */
export class FromAddressesService {
  readonly store: FromAddressesStore;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {
    this.store = new FromAddressesStore(db);
  }

  async listFolders(): Promise<FolderView[]> {
    return (await this.store.folders()).map((f) => ({ id: f.id, name: f.name }));
  }

  async folderExists(id: string, db: Kysely<Database> = this.db): Promise<boolean> {
    return (await this.store.folderById(db, id)) !== undefined;
  }

  async createFolder(actor: Actor, input: { name: string }): Promise<FolderView> {
    const row = { id: newId(), name: input.name, created_at: this.clock.now().toISOString() };
    try {
      await this.db.transaction().execute(async (trx) => {
        await this.store.insertFolder(trx, row);
        await this.audit.record(trx, actor, "business_attribute.create", { type: "business_attribute", id: row.id }, { name: row.name });
      });
    } catch (err) {
      if (uniqueViolation(err) !== null) {
        throw new AppError("name_taken", `A folder named "${input.name}" already exists.`, [{ path: "name", message: `A folder named "${input.name}" already exists; choose another name.` }]);
      }
      throw err;
    }
    return { id: row.id, name: row.name };
  }

  async listValues(folderId: string): Promise<ValueView[]> {
    await this.requireFolder(folderId);
    return (await this.store.values(folderId)).map(toValueView);
  }

  async addValue(actor: Actor, folderId: string, input: { name: string; displayName: string }): Promise<ValueView> {
    await this.requireFolder(folderId);
    const row: ValueRow = {
      id: newId(),
      folder_id: folderId,
      name: input.name,
      display_name: input.displayName,
      created_at: this.clock.now().toISOString(),
    };
    try {
      await this.db.transaction().execute(async (trx) => {
        await this.store.insertValue(trx, row);
        await this.audit.record(trx, actor, "business_attribute_value.create", { type: "business_attribute_value", id: row.id }, {
          folderId,
          name: row.name,
          displayName: row.display_name,
        });
      });
    } catch (err) {
      if (uniqueViolation(err) !== null) {
        throw new AppError("name_taken", `${input.name} is already in this folder.`, [{ path: "name", message: "is already in this folder" }]);
      }
      // the folder went away between the check and the insert
      if (isForeignKeyViolation(err)) throw AppError.notFound("The business attribute folder");
      throw err;
    }
    return toValueView(row);
  }

  async deleteValue(actor: Actor, folderId: string, valueId: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const value = await this.store.valueById(trx, folderId, valueId);
      if (!value) throw AppError.notFound("The From address");
      await this.store.deleteValue(trx, valueId);
      await this.audit.record(trx, actor, "business_attribute_value.delete", { type: "business_attribute_value", id: valueId }, {
        folderId,
        name: value.name,
      });
    });
  }

  /** Every From address of every folder, lower-cased (loop detection). */
  async allAddresses(): Promise<string[]> {
    return (await this.store.allValueNames()).map((n) => n.toLowerCase());
  }

  /**
   * The addresses an agent may send from: the outbound mailbox's own From address first, then the
   * values of its folder; an address listed twice appears once.
   */
  async forAgents(outbound: OutboundSender | null): Promise<FromAddress[]> {
    if (!outbound) return [];
    const values = outbound.fromAddressFolderId ? await this.store.values(outbound.fromAddressFolderId) : [];
    const result: FromAddress[] = [];
    const seen = new Set<string>();
    const add = (address: string, displayName: string) => {
      if (seen.has(address.toLowerCase())) return;
      seen.add(address.toLowerCase());
      result.push({ address, displayName });
    };
    const own = outbound.fromAddress;
    if (own) add(own, values.find((v) => v.name.toLowerCase() === own.toLowerCase())?.display_name ?? "");
    for (const v of values) add(v.name, v.display_name);
    return result;
  }

  private async requireFolder(folderId: string): Promise<void> {
    if (!(await this.folderExists(folderId))) throw AppError.notFound("The business attribute folder");
  }
}
