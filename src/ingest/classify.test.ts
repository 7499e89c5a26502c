import { describe, expect, it } from "vitest";
import { classify } from "./classify.js";
import { readHeaderBlock } from "./header-block.js";

function flags(headers: string, subject = "Hello", fromAddress = "customer@example.com", own: string[] = ["support@company.example"]) {
  const header = readHeaderBlock(Buffer.from(`${headers}\r\n`, "utf8"));
  return classify({ header, subject, fromAddress, ownAddresses: new Set(own) });
}

describe("auto-reply", () => {
  it.each([
    ["Auto-Submitted: auto-replied"],
    ["Auto-Submitted: auto-generated; owner-email=x@y"],
    ["Precedence: bulk"],
    ["Precedence: junk"],
    ["Precedence: list"],
    ["X-Autoreply: yes"],
    ["X-Autorespond: Out of office"],
    ["X-MS-Exchange-Inbox-Rules-Loop: someone@contoso.example"],
    ["X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"],
  ])("is recognised by %j", (headers) => {
    expect(flags(`From: x@example.com\r\n${headers}`).autoReply).toBe(true);
  });

  it.each(["Auto-Submitted: no", "Precedence: first-class", "X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: OOF", "Thread-Topic: order"])(
    "is not claimed from %j alone",
    (headers) => {
      expect(flags(`From: x@example.com\r\n${headers}`).autoReply).toBe(false);
    },
  );

  it.each([
    ["List-Id: Users <users.lists.example.org>"],
    ["List-Unsubscribe: <mailto:users-leave@lists.example.org>, <https://lists.example.org/unsubscribe>"],
    ["List-Unsubscribe-Post: List-Unsubscribe=One-Click"],
    ["List-Help: <mailto:users-request@lists.example.org?subject=help>"],
    ["List-Subscribe: <mailto:users-join@lists.example.org>"],
    ["List-Post: <mailto:users@lists.example.org>"],
    ["List-Post: NO"],
    ["List-Owner: <mailto:users-owner@lists.example.org>"],
    ["List-Archive: <https://lists.example.org/archives/users>"],
    ["LIST-ID: <users.lists.example.org>"],
    ["list-unsubscribe: <mailto:leave@news.example>"],
    ["List-Id : <users.lists.example.org>"],
  ])("is recognised by the list header %j (RFC 3834 §2: no automatic reply to a list)", (headers) => {
    expect(flags(`From: x@example.com\r\n${headers}`).autoReply).toBe(true);
  });

  it.each([
    ["X-List-Id: <users.lists.example.org>"],
    ["X-Mailing-List: users@lists.example.org"],
    ["Listing-Id: 4711"],
    ["Lists: users"],
    ["X-Note: forwarded with List-Id: <users.lists.example.org>"],
    ["Subject: List-Unsubscribe: how do I get off your list?"],
    ["Thread-Topic: order\r\n List-Id: <folded.into.the.value>"],
    ["X: y\r\n\r\nList-Id: <in.the.body>"],
  ])("is not claimed from a List- that is not a header name's prefix: %j", (headers) => {
    expect(flags(`From: x@example.com\r\n${headers}`).autoReply).toBe(false);
  });

  it.each(["Automatic reply: Order #1", "Out of Office: Order #1", "Out of Office AutoReply: hi", "Autosvar: Beställning", "Automatische Antwort: Bestellung", "Réponse automatique : commande", "AUTO-REPLY: x"])(
    "is recognised by the subject %j",
    (subject) => {
      expect(flags("From: x@example.com", subject).autoReply).toBe(true);
    },
  );

  it.each(["Out of office hours support?", "Re: automatic reply settings", "Question about replies"])("is not claimed from the subject %j", (subject) => {
    expect(flags("From: x@example.com", subject).autoReply).toBe(false);
  });

  it.each(["no-reply@shop.example", "noreply@shop.example", "do-not-reply@bank.example", "donotreply@bank.example", "MAILER-DAEMON@mx.example", "postmaster@mx.example", "noreply+orders@shop.example"])(
    "is recognised by the automated sender %s",
    (address) => {
      expect(flags("From: x", "Your order", address).autoReply).toBe(true);
    },
  );

  it("is not claimed for a person whose name merely contains the words", () => {
    expect(flags("From: x", "Hi", "noreen.replyford@example.com").autoReply).toBe(false);
  });
});

describe("bounce", () => {
  it("is recognised by an RFC 3464 delivery-status report", () => {
    expect(flags('Content-Type: multipart/report; report-type="delivery-status";\r\n boundary="x"').bounce).toBe(true);
    expect(flags("Content-Type: multipart/report; report-type=disposition-notification; boundary=x").bounce).toBe(false);
  });

  it("is recognised by Exim's X-Failed-Recipients", () => {
    expect(flags("X-Failed-Recipients: gone@example.com").bounce).toBe(true);
  });

  it.each([
    ["MAILER-DAEMON@mx.example", "Undelivered Mail Returned to Sender"],
    ["mailer-daemon@googlemail.com", "Delivery Status Notification (Failure)"],
    ["Mailer-Daemon@mx.example", "Mail delivery failed: returning message to sender"],
    ["postmaster@contoso.example", "Undeliverable: Your order"],
    ["MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example", "Undeliverable: Your order"],
    ["MAILER-DAEMON@mx.example", "failure notice"],
    ["postmaster@mx.example", "Returned mail: see transcript for details"],
  ])("is recognised from %s with the subject %j", (from, subject) => {
    expect(flags("X: y", subject, from).bounce).toBe(true);
  });

  it("is not claimed from the subject when a person sends it", () => {
    expect(flags("X: y", "Undeliverable: my parcel never arrived", "customer@example.com").bounce).toBe(false);
  });
});

describe("loop", () => {
  it("is recognised when the sender is one of Mailroom's own addresses, whatever the case", () => {
    expect(flags("X: y", "Hi", "Support@Company.Example").loop).toBe(true);
    expect(flags("X: y", "Hi", "support@company.example", ["SUPPORT@company.example"]).loop).toBe(true);
    expect(flags("X: y", "Hi", "customer@example.com").loop).toBe(false);
    expect(flags("X: y", "Hi", "", [""]).loop).toBe(false);
  });
});
