/**
 * A deterministic corpus of customer-service mail for benchmarks: the same seed always gives the same
 * bytes, so runs on different days and machines measure the same work. Shape (measured by
 * `npx tsx bench/corpus.ts`): median ~8 KB, mean ~85 KB, ~12% with 1–3 attachments of 10 KB–1 MB.
 */

export interface CorpusOptions {
  count: number;
  seed: number;
}

export interface CorpusMessage {
  raw: Buffer;
}

type Random = () => number;

/** mulberry32: small, fast and good enough to shape a corpus; not for anything secret. */
function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const between = (random: Random, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

/** Box–Muller; the body sizes of real mail are roughly log-normal. */
function logNormal(random: Random, median: number, sigma: number): number {
  const u = Math.max(random(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

const firstNames = ["Anna", "Lars", "Maria", "James", "Sofia", "Ahmed", "Chen", "Olga", "Pierre", "Emma", "Noah", "Yuki"];
const lastNames = ["Berg", "Smith", "Garcia", "Müller", "Nilsson", "Kowalski", "Dubois", "Tanaka", "Ivanova", "Brown"];
const domains = ["example.com", "example.org", "mail.example.net", "customer.example", "corp.example"];
const topics = [
  "Order", "Invoice", "Delivery", "Refund request", "Account access", "Warranty claim", "Subscription",
  "Billing question", "Damaged item", "Change of address", "Password reset", "Complaint",
];
const nonAsciiSubjects = [
  "Rückerstattung für Bestellung", "Problème de livraison", "Fråga om faktura", "注文について",
  "Вопрос по заказу", "Reklamation – defekte Ware", "Ärende gällande leverans", "お問い合わせ",
];
const sentences = [
  "I am writing about my recent order and would like to know when it will be shipped.",
  "The package arrived yesterday but one of the items was damaged in transit.",
  "Could you please confirm that the refund has been processed to my card?",
  "I have tried to reset my password several times without receiving the email.",
  "Attached you will find the invoice and a photo of the product as requested.",
  "Thank you for your quick reply, however the issue is still not resolved.",
  "Please update the delivery address on my account to the one below.",
  "My subscription was charged twice this month and I would like one payment returned.",
  "The tracking number you sent does not seem to work on the carrier's website.",
  "I would appreciate it if someone could call me back during office hours.",
  "We are a small business and rely on these deliveries arriving on time.",
  "Our reference number is mentioned in the subject line for your convenience.",
];

function encodeWord(text: string, random: Random): string {
  if (random() < 0.5) return `=?UTF-8?B?${Buffer.from(text, "utf8").toString("base64")}?=`;
  const q = [...Buffer.from(text, "utf8")]
    .map((b) => (b === 0x20 ? "_" : b < 0x80 && /[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, "0")}`))
    .join("");
  return `=?UTF-8?Q?${q}?=`;
}

function paragraphText(random: Random, targetChars: number): string {
  const paragraphs: string[] = [];
  let length = 0;
  while (length < targetChars) {
    const count = between(random, 2, 5);
    const paragraph = Array.from({ length: count }, () => pick(random, sentences)).join(" ");
    paragraphs.push(paragraph);
    length += paragraph.length + 2;
  }
  return paragraphs.join("\n\n");
}

/** Wraps at 76 characters the way a mail client would, so lines stay under the 998-byte limit. */
function wrapLines(text: string): string {
  return text
    .split("\n")
    .map((line) => line.replace(/(.{1,76})(?:\s+|$)/g, "$1\r\n").replace(/\r\n$/, ""))
    .join("\r\n");
}

function toHtml(text: string): string {
  const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const body = escaped
    .split("\n\n")
    .map((p) => (p.startsWith("&gt;") ? `<blockquote style="margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex">${p.replace(/\n/g, "<br>\n")}</blockquote>` : `<p style="font-family:Arial,sans-serif;font-size:14px;color:#222">${p.replace(/\n/g, "<br>\n")}</p>`))
    .join("\n");
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><style>p{margin:0 0 1em}</style></head>\n<body>\n<div dir="ltr">\n${body}\n</div>\n</body></html>`;
}

function quotedReply(random: Random, from: string, date: Date): string {
  const previous = paragraphText(random, between(random, 300, 3000));
  const quoted = previous
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
  return `\n\nOn ${date.toUTCString()}, ${from} wrote:\n${quoted}`;
}

function attachmentBytes(random: Random, size: number, kind: "pdf" | "png"): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) {
    const v = Math.floor(random() * 4294967296);
    bytes[i] = v & 0xff;
    if (i + 1 < size) bytes[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < size) bytes[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < size) bytes[i + 3] = (v >>> 24) & 0xff;
  }
  const magic = kind === "pdf" ? Buffer.from("%PDF-1.4\n") : Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  magic.copy(bytes, 0);
  return bytes;
}

function base64Lines(bytes: Buffer): string {
  return (bytes.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
}

function generateMessage(random: Random, seed: number, index: number, baseTime: number): Buffer {
  const first = pick(random, firstNames);
  const last = pick(random, lastNames);
  const fromAddress = `${first}.${last}`.toLowerCase().replace(/ü/g, "u") + `@${pick(random, domains)}`;
  const nonAsciiName = /[^\x20-\x7e]/.test(last);
  const fromName = nonAsciiName ? encodeWord(`${first} ${last}`, random) : `"${first} ${last}"`;
  const date = new Date(baseTime + index * 37_000);
  const messageId = `<${seed.toString(36)}.${index}.${Math.floor(random() * 1e9).toString(36)}@${pick(random, domains)}>`;
  const reference = `#${between(random, 100000, 999999)}`;
  const subjectText = random() < 0.15 ? `${pick(random, nonAsciiSubjects)} ${reference}` : `${pick(random, topics)} ${reference}`;
  const isReply = random() < 0.3;
  const subject = /[^\x20-\x7e]/.test(subjectText) ? encodeWord(isReply ? `Re: ${subjectText}` : subjectText, random) : (isReply ? `Re: ${subjectText}` : subjectText);

  let text = `Hello,\n\n${paragraphText(random, Math.min(60_000, logNormal(random, 2900, 0.9)))}\n\nBest regards,\n${first} ${last}`;
  if (isReply) text += quotedReply(random, "Customer Service <support@company.example>", new Date(date.getTime() - 86_400_000));
  const withHtml = random() < 0.6;
  const attachmentCount = random() < 0.12 ? between(random, 1, 3) : 0;

  const headers = [
    `Return-Path: <${fromAddress}>`,
    `Received: from mx${between(random, 1, 9)}.${pick(random, domains)} (mx.example [192.0.2.${between(random, 1, 254)}])\r\n\tby mail.company.example with ESMTPS id ${Math.floor(random() * 1e12).toString(36)}\r\n\tfor <support@company.example>; ${date.toUTCString()}`,
    `Received: from [10.0.0.${between(random, 1, 254)}] by mx.example with ESMTPSA; ${date.toUTCString()}`,
    `Date: ${date.toUTCString().replace("GMT", "+0000")}`,
    `From: ${fromName} <${fromAddress}>`,
    "To: Customer Service <support@company.example>",
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    "MIME-Version: 1.0",
  ];
  if (isReply) {
    const parent = `<${Math.floor(random() * 1e9).toString(36)}@company.example>`;
    headers.push(`In-Reply-To: ${parent}`, `References: ${parent}`);
  }
  headers.push(`X-Mailer: ${pick(random, ["Mailer 16.0", "Webmail 2.3", "Mobile Mail 17.1"])}`);

  const textPart = ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", wrapLines(text)].join("\r\n");
  const htmlPart = ["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", wrapLines(toHtml(text))].join("\r\n");
  const altBoundary = `alt-${index}-${Math.floor(random() * 1e9).toString(36)}`;
  const bodyPart = withHtml
    ? [`Content-Type: multipart/alternative; boundary="${altBoundary}"`, "", `--${altBoundary}`, textPart, `--${altBoundary}`, htmlPart, `--${altBoundary}--`].join("\r\n")
    : textPart;

  let message: string;
  if (attachmentCount === 0) {
    message = `${headers.join("\r\n")}\r\n${bodyPart}\r\n`;
  } else {
    const mixedBoundary = `mix-${index}-${Math.floor(random() * 1e9).toString(36)}`;
    const parts = [bodyPart];
    for (let a = 0; a < attachmentCount; a++) {
      const kind = random() < 0.6 ? "pdf" : "png";
      // log-uniform between 10 KB and 1 MB
      const size = Math.round(10_240 * Math.pow(100, random()));
      const name = kind === "pdf" ? `document-${a + 1}.pdf` : `photo-${a + 1}.png`;
      parts.push(
        [
          `Content-Type: ${kind === "pdf" ? "application/pdf" : "image/png"}; name="${name}"`,
          `Content-Disposition: attachment; filename="${name}"`,
          "Content-Transfer-Encoding: base64",
          "",
          base64Lines(attachmentBytes(random, size, kind)),
        ].join("\r\n"),
      );
    }
    message = `${headers.join("\r\n")}\r\nContent-Type: multipart/mixed; boundary="${mixedBoundary}"\r\n\r\n${parts.map((p) => `--${mixedBoundary}\r\n${p}`).join("\r\n")}\r\n--${mixedBoundary}--\r\n`;
  }
  return Buffer.from(message, "utf8");
}

/** Yields `count` messages; the same `{count, seed}` always yields the same bytes. */
export function* generateCorpus(options: CorpusOptions): Iterable<CorpusMessage> {
  const random = seededRandom(options.seed);
  const baseTime = Date.UTC(2026, 0, 5, 8, 0, 0);
  for (let index = 0; index < options.count; index++) {
    yield { raw: generateMessage(random, options.seed, index, baseTime) };
  }
}

function describeCorpus(count: number, seed: number): Record<string, number> {
  const sizes: number[] = [];
  let withAttachments = 0;
  for (const { raw } of generateCorpus({ count, seed })) {
    sizes.push(raw.length);
    if (raw.includes("Content-Disposition: attachment")) withAttachments++;
  }
  sizes.sort((a, b) => a - b);
  const total = sizes.reduce((a, b) => a + b, 0);
  return {
    count,
    seed,
    medianBytes: sizes[Math.floor(count / 2)] ?? 0,
    meanBytes: Math.round(total / count),
    p95Bytes: sizes[Math.floor(count * 0.95)] ?? 0,
    maxBytes: sizes[count - 1] ?? 0,
    withAttachmentsShare: Number((withAttachments / count).toFixed(3)),
  };
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  process.stdout.write(`${JSON.stringify(describeCorpus(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 42)), null, 2)}\n`);
}
