import { describe, expect, it } from "vitest";
import { imapError } from "./imap/imap-errors.js";
import { fixedCredential, type MailSourceSettings } from "./mail-source.js";
import { Pop3CommandError, Pop3ConnectionError } from "./pop3/pop3-client.js";
import { pop3Error } from "./pop3/pop3-errors.js";

const settings: MailSourceSettings = {
  mailboxId: "m1",
  host: "mail.acme.test",
  port: 993,
  security: "tls",
  login: "support@acme.test",
  credentials: fixedCredential({ method: "password", password: "secret" }),
  folder: "INBOX",
  acknowledge: { mode: "seen" },
  initialImport: "all",
  connectTimeoutMs: 10_000,
  allowInvalidCertificates: false,
};

const nodeError = (code: string, message = code) => Object.assign(new Error(message), { code });

describe("IMAP errors in words", () => {
  it("names the login and quotes the server on an authentication failure", () => {
    const err = imapError(
      Object.assign(new Error("Command failed"), {
        authenticationFailed: true,
        serverResponseCode: "AUTHENTICATIONFAILED",
        responseText: "Authentication failed.",
      }),
      settings,
    );
    expect(err.code).toBe("auth_failed");
    expect(err.serverText).toBe("[AUTHENTICATIONFAILED] Authentication failed.");
    expect(err.message).toBe("The server refused the login for support@acme.test: [AUTHENTICATIONFAILED] Authentication failed.");
    expect(err.message).not.toContain("secret");
  });

  it("maps the network layer", () => {
    expect(imapError(nodeError("ECONNREFUSED"), settings).code).toBe("connection_refused");
    expect(imapError(nodeError("ENOTFOUND"), settings).code).toBe("dns_error");
    expect(imapError(nodeError("EAI_AGAIN"), settings).message).toContain("mail.acme.test could not be resolved");
    expect(imapError(nodeError("CONNECT_TIMEOUT"), settings).code).toBe("timeout");
    expect(imapError(nodeError("GREETING_TIMEOUT"), { ...settings, security: "none" }).message).toContain("TLS-only port");
    expect(imapError(nodeError("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate"), settings).code).toBe("tls_error");
    const openSsl = "802C6318797F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n";
    const plainPort = imapError(nodeError("ERR_SSL_WRONG_VERSION_NUMBER", openSsl), settings);
    expect(plainPort.code).toBe("tls_error");
    expect(plainPort.message).toBe(
      "The TLS handshake with mail.acme.test:993 failed: the server does not speak TLS on this port (wrong version number). Check the port and the security setting.",
    );
    expect(imapError(nodeError("ECONNRESET"), settings).code).toBe("closed");
  });

  it("maps missing folders, throttling and closed connections", () => {
    expect(imapError(Object.assign(new Error("x"), { mailboxMissing: true }), settings, "Support").message).toBe(
      'The folder "Support" does not exist in the mailbox support@acme.test.',
    );
    expect(imapError(nodeError("ETHROTTLE"), settings).code).toBe("throttled");
    expect(imapError(nodeError("NoConnection"), settings).code).toBe("closed");
    expect(imapError(new Error("something odd"), settings).code).toBe("protocol_error");
  });
});

describe("POP3 errors in words", () => {
  it("maps response codes", () => {
    const auth = pop3Error(new Pop3CommandError("PASS", "[AUTH] Authentication failed.", "AUTH"), settings);
    expect(auth.code).toBe("auth_failed");
    expect(auth.message).toBe("The server refused the login for support@acme.test: [AUTH] Authentication failed.");
    expect(pop3Error(new Pop3CommandError("PASS", "[IN-USE] Mailbox is locked", "IN-USE"), settings).code).toBe("throttled");
    expect(pop3Error(new Pop3CommandError("PASS", "[SYS/TEMP] Try later", "SYS/TEMP"), settings).code).toBe("protocol_error");
    expect(pop3Error(new Pop3CommandError("PASS", "Bad password", undefined), settings).code).toBe("auth_failed");
    expect(pop3Error(new Pop3CommandError("STLS", "Unknown command", undefined), settings).code).toBe("tls_error");
    expect(pop3Error(new Pop3CommandError("UIDL", "Unknown command", undefined), settings).message).toContain("UIDL");
  });

  it("maps the connection", () => {
    expect(pop3Error(new Pop3ConnectionError("ECLOSED", "closed"), settings).code).toBe("closed");
    expect(pop3Error(new Pop3ConnectionError("ETIMEOUT", "no answer"), settings).code).toBe("timeout");
    expect(pop3Error(nodeError("ECONNREFUSED"), settings).code).toBe("connection_refused");
  });
});
