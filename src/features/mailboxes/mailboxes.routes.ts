import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { adminOnly, adminOrSupervisor } from "../../http/route-config.js";
import { idParams } from "../../http/schema-helpers.js";
import { actorOf } from "../auth/auth.service.js";
import {
  createMailboxBody,
  listMailboxesQuery,
  mailboxHealthView,
  mailboxView,
  oauthMigrateResultView,
  oauthMigrationBody,
  oauthRevertBody,
  oauthVerificationView,
  oauthVerifyResultView,
  patchMailboxBody,
  testResultView,
} from "./mailboxes.schema.js";
import type { MailboxesService } from "./mailboxes.service.js";

export function mailboxesRoutes(mailboxes: MailboxesService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ["mailboxes"];
    app.get(
      "/api/v1/mailboxes",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "List mailboxes",
          description: "`q` searches name, mailbox (login) and host, ignoring case.",
          querystring: listMailboxesQuery,
          response: { 200: z.object({ items: z.array(mailboxView) }) },
        },
      },
      async (req) => ({ items: await mailboxes.list(req.query) }),
    );
    app.get(
      "/api/v1/mailboxes/health",
      {
        config: { access: adminOrSupervisor },
        schema: {
          tags,
          summary: "Every mailbox's state, last error in the server's words, warnings and client-secret expiry (for supervisors; no connection settings)",
          response: { 200: z.object({ items: z.array(mailboxHealthView) }) },
        },
      },
      async () => ({ items: await mailboxes.health() }),
    );
    app.post(
      "/api/v1/mailboxes",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Create a mailbox (disabled until an enabled application lists it)",
          body: createMailboxBody,
          response: { 201: mailboxView },
        },
      },
      async (req, reply) => reply.status(201).send(await mailboxes.create(actorOf(req), req.body)),
    );
    app.get(
      "/api/v1/mailboxes/:id",
      { config: { access: adminOnly }, schema: { tags, summary: "One mailbox", params: idParams, response: { 200: mailboxView } } },
      async (req) => mailboxes.get(req.params.id),
    );
    app.patch(
      "/api/v1/mailboxes/:id",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Change a mailbox",
          description:
            "Name and client type cannot change. Changing host, port, mailbox or type needs the password in the same request; " +
            "`auth` is replaced as a whole.",
          params: idParams,
          body: patchMailboxBody,
          response: { 200: mailboxView },
        },
      },
      async (req) => mailboxes.update(actorOf(req), req.params.id, req.body),
    );
    app.delete(
      "/api/v1/mailboxes/:id",
      { config: { access: adminOnly }, schema: { tags, summary: "Delete a disabled mailbox", params: idParams } },
      async (req, reply) => {
        await mailboxes.remove(actorOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
    app.delete(
      "/api/v1/mailboxes/:id/warnings",
      {
        config: { access: adminOnly },
        schema: { tags, summary: "Clear the mailbox's warnings once they have been dealt with", params: idParams },
      },
      async (req, reply) => {
        await mailboxes.clearWarnings(actorOf(req), req.params.id);
        return reply.status(204).send();
      },
    );
    app.post(
      "/api/v1/mailboxes/:id/test",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Test the connection: connect, sign in, open the folder; changes no mail",
          params: idParams,
          response: { 200: testResultView },
        },
      },
      async (req) => mailboxes.test(req.params.id),
    );

    // the OAuth migration assistant: what the reference does through a support case
    const migration = mailboxes.oauthMigration;
    app.post(
      "/api/v1/mailboxes/:id/oauth/verify",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Dry run of OAuth 2.0 settings: get a token, then connect, sign in with it and open the folder; changes nothing",
          description:
            "A typed clientSecret or password is used and never stored. A stored one is used only when grant, clientId, directoryId and " +
            "tenantAuthority equal the mailbox's own OAuth settings; otherwise it must be typed (400 password_required). " +
            "Every verification is recorded (GET /api/v1/mailboxes/{id}/oauth/verifications).",
          params: idParams,
          body: oauthMigrationBody,
          response: { 200: oauthVerifyResultView },
        },
      },
      async (req) => migration.verify(actorOf(req), req.params.id, req.body),
    );
    app.post(
      "/api/v1/mailboxes/:id/oauth/migrate",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Move a password mailbox to OAuth 2.0, keeping its sync state and its password (the way back)",
          description:
            "Needs a mailbox marked as a test mailbox to have passed a verification with the same clientId, directoryId and tenantAuthority " +
            "in the last 24 hours (409 test_mailbox_required; a test mailbox itself needs none). Runs the verification on this mailbox " +
            "and switches only when it passes (else 422 verification_failed, the steps in details).",
          params: idParams,
          body: oauthMigrationBody,
          response: { 200: oauthMigrateResultView },
        },
      },
      async (req) => migration.migrate(actorOf(req), req.params.id, req.body),
    );
    app.post(
      "/api/v1/mailboxes/:id/oauth/revert",
      {
        config: { access: adminOnly },
        schema: {
          tags,
          summary: "Move a mailbox the assistant migrated back to its password",
          description:
            "Without a password, the kept one is used only while type, host, port, security and login are as they were at the migration " +
            "(else 400 password_required). 409 not_migrated for a mailbox the assistant did not move, unless a password is typed.",
          params: idParams,
          body: oauthRevertBody,
          response: { 200: mailboxView },
        },
      },
      async (req) => migration.revert(actorOf(req), req.params.id, req.body),
    );
    app.get(
      "/api/v1/mailboxes/:id/oauth/verifications",
      {
        config: { access: adminOrSupervisor },
        schema: {
          tags,
          summary: "The mailbox's last 20 OAuth verifications, newest first",
          params: idParams,
          response: { 200: z.object({ items: z.array(oauthVerificationView) }) },
        },
      },
      async (req) => ({ items: await migration.verifications(req.params.id) }),
    );
  };
}
