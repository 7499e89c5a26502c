/**
 * Deterministic corpora of customer-service mail for benchmarks: the same name, count and seed always
 * give the same bytes, so runs on different days and machines measure the same work. Two shapes, as
 * measured by `npx tsx bench/corpus.ts`:
 * - `mixed`: median ~8.5 KB, mean ~80 KB, ~12% with 1–3 attachments of 10 KB–1 MB, 60% with HTML;
 *   large messages are where mailparser beats postal-mime.
 * - `small-text`: ~70% plain text of 1–6 KB, ~25% multipart/alternative of 3–30 KB, ~5% with one
 *   attachment of at most 200 KB; the everyday mail of a help desk, where postal-mime is faster.
 */

export const corpusNames = ["mixed", "small-text"] as const;
export type CorpusName = (typeof corpusNames)[number];

/** The seed each named corpus is measured with. */
export const corpusSeeds: Record<CorpusName, number> = { mixed: 1, "small-text": 2 };

export interface CorpusOptions {
  count: number;
  seed: number;
  /** `mixed` when not given */
  name?: CorpusName;
}

export interface CorpusMessage {
  raw: Buffer;
}

type Random = () => number;

/** mulberry32: small, fast and good enough to shape a corpus; not for anything secret. */
export function seededRandom(seed: number): Random {
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

function paragraphText(random: Random, targetChars: number, pool: readonly string[] = sentences): string {
  const paragraphs: string[] = [];
  let length = 0;
  while (length < targetChars) {
    const count = between(random, 2, 5);
    const paragraph = Array.from({ length: count }, () => pick(random, pool)).join(" ");
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

/** One message of the `mixed` corpus. Its draws must stay in this order: the corpus is compared across runs. */
function mixedMessage(random: Random, seed: number, index: number, baseTime: number): Buffer {
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

const localSentences = [
  "Ich warte seit zwei Wochen auf die Rückerstattung für meine Bestellung.",
  "Die Lieferung war unvollständig, es fehlt ein Artikel aus der Rechnung.",
  "Je n'ai toujours pas reçu le colis annoncé pour la semaine dernière.",
  "Pourriez-vous vérifier l'adresse de livraison enregistrée sur mon compte ?",
  "Jag har fått två fakturor för samma beställning och vill få en återbetald.",
  "Paketet kom fram i går men förpackningen var skadad.",
  "¿Podrían confirmarme si el reembolso ya está en camino?",
  "Mi pedido llegó incompleto y necesito una solución pronto.",
];

/** Quoted-printable of UTF-8 text (RFC 2045): soft breaks keep lines under 76 characters. */
function quotedPrintable(text: string): string {
  return text
    .split("\n")
    .map((line) => {
      let out = "";
      let column = 0;
      for (const byte of Buffer.from(line, "utf8")) {
        const literal = byte === 0x20 || (byte >= 33 && byte <= 126 && byte !== 61);
        const token = literal ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
        if (column + token.length > 75) {
          out += "=\r\n";
          column = 0;
        }
        out += token;
        column += token.length;
      }
      return out.replace(/ $/, "=20");
    })
    .join("\r\n");
}

/** A size drawn log-uniformly between min and max bytes: small messages are many, large ones few. */
const logUniform = (random: Random, min: number, max: number): number => Math.round(min * Math.pow(max / min, random()));

/** Cuts text to at most `chars` characters at a word boundary. */
function cut(text: string, chars: number): string {
  if (text.length <= chars) return text;
  const end = text.lastIndexOf(" ", chars);
  return text.slice(0, end > chars / 2 ? end : chars);
}

type SmallTextKind = "plain" | "html" | "attachment";

/**
 * One message of the `small-text` corpus: a whole-message size is drawn per kind and the body is cut to
 * fit it, so the kinds keep their size ranges (an attachment is 5–200 KB before base64). A third of the text parts are quoted-printable and 15% of
 * the messages are written in a language other than English, as a help desk's everyday mail is.
 */
function smallTextMessage(random: Random, seed: number, index: number, baseTime: number): Buffer {
  const roll = random();
  const kind: SmallTextKind = roll < 0.7 ? "plain" : roll < 0.95 ? "html" : "attachment";
  const first = pick(random, firstNames);
  const last = pick(random, lastNames);
  const domain = pick(random, domains);
  const fromAddress = `${first}.${last}`.toLowerCase().replace(/ü/g, "u") + `@${domain}`;
  const fromName = /[^\x20-\x7e]/.test(last) ? encodeWord(`${first} ${last}`, random) : `"${first} ${last}"`;
  const date = new Date(baseTime + index * 23_000);
  const messageId = `<st${seed.toString(36)}.${index}.${Math.floor(random() * 1e9).toString(36)}@${domain}>`;
  const local = random() < 0.15;
  const reference = `#${between(random, 100000, 999999)}`;
  const isReply = random() < 0.35;
  const subjectText = `${isReply ? "Re: " : ""}${local ? pick(random, nonAsciiSubjects) : pick(random, topics)} ${reference}`;
  const subject = /[^\x20-\x7e]/.test(subjectText) ? encodeWord(subjectText, random) : subjectText;

  const headers = [
    `Return-Path: <${fromAddress}>`,
    `Received: from mx${between(random, 1, 9)}.${domain} (mx.example [192.0.2.${between(random, 1, 254)}])\r\n\tby mail.company.example with ESMTPS id ${Math.floor(random() * 1e12).toString(36)}\r\n\tfor <support@company.example>; ${date.toUTCString()}`,
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
  const head = `${headers.join("\r\n")}\r\n`;

  // the whole message's size (an attachment message's without its attachment); all draws come first,
  // so the body can then be built again, shorter, until it fits
  const targetBytes = kind === "html" ? logUniform(random, 3 * 1024, 30 * 1024) : logUniform(random, 1024, 6 * 1024);
  const pool = local ? localSentences : sentences;
  const estimate = Math.max(120, Math.floor((targetBytes - head.length) / (kind === "html" ? 2.4 : 1.05)));
  const prose = paragraphText(random, estimate + 400, pool);
  const quoted = isReply ? quotedReply(random, "Customer Service <support@company.example>", new Date(date.getTime() - 86_400_000)) : "";
  const qp = random() < 0.33;
  const altBoundary = `alt-${index}-${Math.floor(random() * 1e9).toString(36)}`;
  const attachmentKind = random() < 0.6 ? "pdf" : "png";
  const attachmentSize = logUniform(random, 5 * 1024, 200 * 1024);
  const mixBoundary = `mix-${index}-${Math.floor(random() * 1e9).toString(36)}`;

  const signature = `\n\nBest regards,\n${first} ${last}`;
  const part = (type: string, content: string) =>
    qp
      ? [`Content-Type: ${type}; charset=utf-8`, "Content-Transfer-Encoding: quoted-printable", "", quotedPrintable(content)].join("\r\n")
      : [`Content-Type: ${type}; charset=utf-8`, "Content-Transfer-Encoding: 8bit", "", wrapLines(content)].join("\r\n");
  const body = (textChars: number): string => {
    const quote = cut(quoted, Math.floor(textChars * 0.4));
    const own = Math.max(40, textChars - quote.length - signature.length - 8);
    const text = `Hello,\n\n${cut(prose, own)}${signature}${quote}`;
    if (kind !== "html") return part("text/plain", text);
    return [`Content-Type: multipart/alternative; boundary="${altBoundary}"`, "", `--${altBoundary}`, part("text/plain", text), `--${altBoundary}`, part("text/html", toHtml(text)), `--${altBoundary}--`].join("\r\n");
  };
  let textChars = estimate;
  let bodyPart = body(textChars);
  for (let tries = 0; tries < 4 && head.length + Buffer.byteLength(bodyPart) > targetBytes && textChars > 120; tries++) {
    const size = head.length + Buffer.byteLength(bodyPart);
    textChars = Math.max(120, Math.floor(textChars * (targetBytes / size)) - 16);
    bodyPart = body(textChars);
  }
  if (kind !== "attachment") return Buffer.from(`${head}${bodyPart}\r\n`, "utf8");

  const name = attachmentKind === "pdf" ? "document.pdf" : "photo.png";
  const attachment = [
    `Content-Type: ${attachmentKind === "pdf" ? "application/pdf" : "image/png"}; name="${name}"`,
    `Content-Disposition: attachment; filename="${name}"`,
    "Content-Transfer-Encoding: base64",
    "",
    base64Lines(attachmentBytes(random, attachmentSize, attachmentKind)),
  ].join("\r\n");
  return Buffer.from(`${head}Content-Type: multipart/mixed; boundary="${mixBoundary}"\r\n\r\n--${mixBoundary}\r\n${bodyPart}\r\n--${mixBoundary}\r\n${attachment}\r\n--${mixBoundary}--\r\n`, "utf8");
}

const generators: Record<CorpusName, (random: Random, seed: number, index: number, baseTime: number) => Buffer> = {
  mixed: mixedMessage,
  "small-text": smallTextMessage,
};

/** Yields `count` messages; the same `{count, seed, name}` always yields the same bytes. */
export function* generateCorpus(options: CorpusOptions): Iterable<CorpusMessage> {
  const random = seededRandom(options.seed);
  const generate = generators[options.name ?? "mixed"];
  const baseTime = Date.UTC(2026, 0, 5, 8, 0, 0);
  for (let index = 0; index < options.count; index++) {
    yield { raw: generate(random, options.seed, index, baseTime) };
  }
}

export interface CorpusShape {
  name: CorpusName;
  count: number;
  seed: number;
  medianBytes: number;
  meanBytes: number;
  p95Bytes: number;
  maxBytes: number;
  totalMb: number;
  withAttachmentsShare: number;
  /** by top-level structure: plain text, multipart/alternative, multipart/mixed (attachments) */
  kinds: Record<SmallTextKind, { share: number; minBytes: number; medianBytes: number; maxBytes: number }>;
}

const median = (sorted: number[]): number => sorted[Math.floor(sorted.length / 2)] ?? 0;

/** Sizes and mix of a list of messages from one of the corpora. */
export function describeCorpus(name: CorpusName, seed: number, raws: Iterable<Buffer>): CorpusShape {
  const sizes: number[] = [];
  const byKind: Record<SmallTextKind, number[]> = { plain: [], html: [], attachment: [] };
  for (const raw of raws) {
    sizes.push(raw.length);
    const kind: SmallTextKind = raw.includes("Content-Disposition: attachment") ? "attachment" : raw.includes("multipart/alternative") ? "html" : "plain";
    byKind[kind].push(raw.length);
  }
  const count = sizes.length;
  sizes.sort((a, b) => a - b);
  const total = sizes.reduce((a, b) => a + b, 0);
  const kinds = Object.fromEntries(
    Object.entries(byKind).map(([kind, list]) => {
      list.sort((a, b) => a - b);
      return [kind, { share: Number((list.length / count).toFixed(3)), minBytes: list[0] ?? 0, medianBytes: median(list), maxBytes: list[list.length - 1] ?? 0 }];
    }),
  ) as CorpusShape["kinds"];
  return {
    name,
    count,
    seed,
    medianBytes: median(sizes),
    meanBytes: Math.round(total / count),
    p95Bytes: sizes[Math.floor(count * 0.95)] ?? 0,
    maxBytes: sizes[count - 1] ?? 0,
    totalMb: Math.round(total / 1024 / 1024),
    withAttachmentsShare: kinds.attachment.share,
    kinds,
  };
}

// npx tsx bench/corpus.ts [count] [mixed,small-text]: the shape of each named corpus at its own seed
if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  const count = Number(process.argv[2] ?? 10_000);
  const names = (process.argv[3] ?? corpusNames.join(",")).split(",") as CorpusName[];
  const shapes = names.map((name) => {
    if (!corpusNames.includes(name)) throw new Error(`unknown corpus ${name}: use ${corpusNames.join(" or ")}`);
    const seed = corpusSeeds[name];
    return describeCorpus(name, seed, [...generateCorpus({ count, seed, name })].map((m) => m.raw));
  });
  process.stdout.write(`${JSON.stringify(Object.fromEntries(shapes.map((s) => [s.name, s])), null, 2)}\n`);
}
