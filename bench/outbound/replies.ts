/**
 * What the agents write: deterministic answers of 3-12 sentences (~0.3-1.5 KB) with a greeting and a
 * signature; every other one also as HTML, as a rich-text editor would send it. Mailroom adds the quote
 * of the customer's message itself (composeMessage), so each reply is the answer plus that quote.
 */
import { seededRandom } from "../corpus.js";

const sentences = [
  "Thank you for getting in touch with us about this.",
  "I have looked into your order and can confirm that it left our warehouse this morning.",
  "The refund has been approved and should appear on your statement within five working days.",
  "I am sorry for the trouble this has caused you.",
  "Could you please send us a photo of the damaged item so that we can file a claim with the carrier?",
  "Your delivery address has been updated for all future orders.",
  "I have reset the password link; it is valid for the next 24 hours.",
  "The second charge this month was an error on our side and has been reversed.",
  "You can follow the parcel with the new tracking number below once the carrier has scanned it.",
  "If anything is still unclear, simply reply to this email and it will reach our team.",
  "We have passed your feedback on to the product team.",
  "A replacement is on its way and you do not need to return the original.",
];


const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The body of the reply to the `index`-th customer message: text, and HTML for every other one. */
export function replyBody(index: number, seed: number): { text: string; html?: string } {
  const random = seededRandom(seed * 1_000_003 + index);
  const paragraphs: string[] = [];
  let left = 3 + Math.floor(random() * 10);
  while (left > 0) {
    const n = Math.min(left, 1 + Math.floor(random() * 3));
    paragraphs.push(Array.from({ length: n }, () => sentences[Math.floor(random() * sentences.length)]!).join(" "));
    left -= n;
  }
  const reference = `Your reference: CS-${String(100_000 + index)}`;
  const all = ["Hello,", ...paragraphs, reference, "Kind regards,\nThe Customer Service team"];
  const text = all.join("\n\n");
  if (index % 2 === 1) return { text };
  return { text, html: all.map((p) => `<p>${escapeHtml(p).replace(/\n/g, "<br>")}</p>`).join("\n") };
}
