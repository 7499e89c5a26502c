import { sql, type Kysely } from "kysely";
import type { Dialect } from "../dialect.js";

export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const blob = dialect === "postgres" ? sql`bytea` : sql`blob`;

  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("username", "text", (c) => c.notNull().unique())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull().check(sql`role in ('admin','supervisor','agent')`))
    .addColumn("display_name", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("sessions")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("from_addresses", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("queues")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("attribute_folders")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("attribute_values")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("folder_id", "text", (c) => c.notNull().references("attribute_folders.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addUniqueConstraint("attribute_values_folder_name", ["folder_id", "name"])
    .execute();

  await db.schema
    .createTable("mailboxes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("client_type", "text", (c) => c.notNull().check(sql`client_type in ('inbound','outbound')`))
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("login", "text", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("port", "integer", (c) => c.notNull())
    .addColumn("security", "text", (c) => c.notNull())
    .addColumn("max_size_mb", "integer")
    .addColumn("from_address", "text")
    .addColumn("from_address_folder_id", "text", (c) => c.references("attribute_folders.id").onDelete("set null"))
    .addColumn("auth_method", "text", (c) => c.notNull())
    .addColumn("oauth_grant", "text")
    .addColumn("oauth_client_id", "text")
    .addColumn("oauth_directory_id", "text")
    .addColumn("oauth_tenant_authority", "text")
    .addColumn("oauth_secret_expires_at", "text")
    .addColumn("password_sealed", "text")
    .addColumn("client_secret_sealed", "text")
    .addColumn("test_mailbox", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("options", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addCheckConstraint("mailboxes_max_size", sql`max_size_mb is null or (max_size_mb between 5 and 20)`)
    .execute();
  // The reference allows one outbound mailbox: the schema enforces it, not just the service.
  await db.schema
    .createIndex("mailboxes_one_outbound")
    .on("mailboxes")
    .column("client_type")
    .unique()
    .where(sql.ref("client_type"), "=", "outbound")
    .execute();

  await db.schema
    .createTable("mailbox_status")
    .addColumn("mailbox_id", "text", (c) => c.primaryKey().references("mailboxes.id").onDelete("cascade"))
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("code", "text")
    .addColumn("message", "text")
    .addColumn("last_sync_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("applications")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("queue_id", "text", (c) => c.notNull().references("queues.id"))
    .addColumn("auto_ack_enabled", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("auto_ack_subject", "text")
    .addColumn("auto_ack_text", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("application_mailboxes")
    .addColumn("application_id", "text", (c) => c.notNull().references("applications.id").onDelete("cascade"))
    // an inbound mailbox feeds one application, so its queue is never ambiguous
    .addColumn("mailbox_id", "text", (c) => c.notNull().unique().references("mailboxes.id"))
    .execute();

  await db.schema
    .createTable("audit_log")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("actor_id", "text")
    .addColumn("actor_name", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target_type", "text", (c) => c.notNull())
    .addColumn("target_id", "text")
    .addColumn("changes", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("blobs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("data", blob, (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("mail_sync_state")
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id").onDelete("cascade"))
    .addColumn("folder", "text", (c) => c.notNull())
    .addColumn("uidvalidity", "text", (c) => c.notNull())
    .addColumn("last_uid", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("mail_sync_state_pk", ["mailbox_id", "folder"])
    .execute();

  await db.schema
    .createTable("interactions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id"))
    .addColumn("queue_id", "text", (c) => c.references("queues.id"))
    .addColumn("agent_id", "text", (c) => c.references("users.id"))
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("message_id", "text")
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("from_address", "text", (c) => c.notNull())
    .addColumn("from_name", "text", (c) => c.notNull())
    .addColumn("to_json", "text", (c) => c.notNull())
    .addColumn("cc_json", "text", (c) => c.notNull())
    .addColumn("reply_to_json", "text", (c) => c.notNull())
    .addColumn("received_at", "text", (c) => c.notNull())
    .addColumn("thread_id", "text", (c) => c.notNull())
    .addColumn("size_bytes", "integer", (c) => c.notNull())
    .addColumn("flag_auto_reply", "integer", (c) => c.notNull())
    .addColumn("flag_bounce", "integer", (c) => c.notNull())
    .addColumn("flag_loop", "integer", (c) => c.notNull())
    .addColumn("wrapped", "text")
    .addColumn("dedup_key", "text", (c) => c.notNull())
    .addColumn("raw_blob_id", "text", (c) => c.notNull().references("blobs.id"))
    .addColumn("text", "text", (c) => c.notNull())
    .addColumn("html", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    // Message-ID plus content hash: the same message seen twice is one interaction
    .addUniqueConstraint("interactions_dedup", ["mailbox_id", "dedup_key"])
    .execute();
  await db.schema.createIndex("interactions_mailbox").on("interactions").columns(["mailbox_id", "id"]).execute();
  await db.schema.createIndex("interactions_queue").on("interactions").columns(["queue_id", "id"]).execute();
  await db.schema.createIndex("interactions_thread").on("interactions").columns(["thread_id", "id"]).execute();
  await db.schema.createIndex("interactions_state").on("interactions").columns(["state", "id"]).execute();

  await db.schema
    .createTable("mail_sources")
    .addColumn("mailbox_id", "text", (c) => c.notNull().references("mailboxes.id"))
    .addColumn("source_key", "text", (c) => c.notNull())
    .addColumn("interaction_id", "text", (c) => c.notNull().references("interactions.id"))
    .addColumn("acked", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "text", (c) => c.notNull())
    // invariant 1: a source message is stored at most once
    .addPrimaryKeyConstraint("mail_sources_pk", ["mailbox_id", "source_key"])
    .execute();
  await db.schema.createIndex("mail_sources_unacked").on("mail_sources").columns(["mailbox_id", "acked"]).execute();

  await db.schema
    .createTable("attachments")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("interaction_id", "text", (c) => c.notNull().references("interactions.id").onDelete("cascade"))
    .addColumn("position", "integer", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("content_type", "text", (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    .addColumn("inline", "integer", (c) => c.notNull())
    .addColumn("content_id", "text")
    .addColumn("blob_id", "text", (c) => c.notNull().references("blobs.id"))
    .execute();
  await db.schema.createIndex("attachments_interaction").on("attachments").columns(["interaction_id", "position"]).execute();

  await db.schema
    .createTable("thread_refs")
    .addColumn("message_id", "text", (c) => c.notNull())
    .addColumn("thread_id", "text", (c) => c.notNull())
    .addColumn("interaction_id", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("thread_refs_message").on("thread_refs").column("message_id").execute();
}
