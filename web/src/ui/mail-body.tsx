import { useEffect, useMemo, useState } from "react";
import { Loading } from "./notices";

/** http(s) only: a remote image may be shown, nothing else may be fetched on the mail's say-so. */
function isWebUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === "https:" || protocol === "http:";
  } catch {
    return false;
  }
}

/**
 * The document the frame shows. The server has sanitized the HTML already (scripts, handlers, forms,
 * remote content removed; remote image addresses moved to data-remote-src); this is the second wall,
 * for the day the sanitizer misses something: a frame sandboxed without allow-scripts and without
 * allow-same-origin (no script runs, and the mail has no access to Mailroom's origin, cookies or API),
 * and a CSP that lets it load nothing but inline styles and data: images, and remote images only
 * after "Show images".
 */
export function mailDocument(html: string, showImages: boolean, inlineImages: ReadonlyMap<string, string> = new Map()): { doc: string; remoteImages: number } {
  // DOMParser builds an inert document: nothing in it loads or runs
  const parsed = new DOMParser().parseFromString(html, "text/html");
  for (const img of parsed.querySelectorAll<HTMLImageElement>("img[src]")) {
    const inline = inlineImages.get(img.getAttribute("src") ?? "");
    if (inline) img.setAttribute("src", inline);
  }
  const remote = [...parsed.querySelectorAll<HTMLImageElement>("img[data-remote-src]")];
  for (const img of remote) {
    const src = img.getAttribute("data-remote-src") ?? "";
    if (showImages && isWebUrl(src)) img.setAttribute("src", src);
  }
  const imgSrc = showImages ? "data: https: http:" : "data:";
  const doc =
    "<!doctype html><html><head><meta charset=\"utf-8\">" +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src ${imgSrc}">` +
    '<meta name="referrer" content="no-referrer"><base target="_blank">' +
    "<style>body{font:14px/1.5 system-ui,sans-serif;margin:12px;color:#1d232a;overflow-wrap:anywhere}img{max-width:100%;height:auto}</style>" +
    `</head><body>${parsed.body.innerHTML}</body></html>`;
  return { doc, remoteImages: remote.length };
}

/** The API points a mail's cid: images at the interaction's attachment downloads. */
const attachmentPath = /^\/api\/v1\/interactions\/[\w-]+\/attachments\/[\w-]+$/;
const inlineImageLimit = 5 * 1024 * 1024;
const inlineImageWaitMs = 15_000;
const noImages: ReadonlyMap<string, string> = new Map();

/** The data: URL of one inline image, or null when it is not an image or too big to inline. */
async function inlineImage(path: string): Promise<string | null> {
  // bounded: the body is shown once its images are in, so one that never answers may not hold it up
  const res = await fetch(path, { credentials: "same-origin", signal: AbortSignal.timeout(inlineImageWaitMs) });
  const blob = await res.blob();
  if (!res.ok || !/^image\/(png|jpeg|gif|webp|bmp)$/.test(blob.type) || blob.size > inlineImageLimit) return null;
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === "string" ? reader.result : null);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(blob);
  });
}

/** The attachment downloads a mail's HTML points its cid: images at. */
function inlineImagePaths(html: string | null): string[] {
  if (!html) return [];
  const srcs = [...new DOMParser().parseFromString(html, "text/html").querySelectorAll("img[src]")].map((img) => img.getAttribute("src") ?? "");
  return [...new Set(srcs.filter((src) => attachmentPath.test(src)))];
}

/**
 * The mail's inline (cid:) images as data: URLs: the frame may load nothing from Mailroom (it has no
 * origin, and its CSP allows data: images only), so Mailroom's page fetches them with its session.
 * `ready` stays false until every one has loaded or failed: the frame's document is written once, with
 * them, not written again when they arrive (which would reset what the agent scrolled or selected).
 */
function useInlineImages(html: string | null): { byPath: ReadonlyMap<string, string>; ready: boolean } {
  const paths = useMemo(() => inlineImagePaths(html), [html]);
  const [images, setImages] = useState<{ html: string | null; byPath: ReadonlyMap<string, string> }>({ html: null, byPath: noImages });
  useEffect(() => {
    if (paths.length === 0) return;
    let live = true;
    void Promise.all(paths.map(async (path) => [path, await inlineImage(path).catch(() => null)] as const)).then((found) => {
      if (!live) return;
      setImages({ html, byPath: new Map(found.filter((f): f is readonly [string, string] => f[1] !== null)) });
    });
    return () => {
      live = false;
    };
  }, [html, paths]);
  if (paths.length === 0) return { byPath: noImages, ready: true };
  return images.html === html ? { byPath: images.byPath, ready: true } : { byPath: noImages, ready: false };
}

/** A mail's body: its sanitized HTML in a sandboxed frame, or its text. */
export function MailBody({ html, text }: { html: string | null; text: string }) {
  const [showImages, setShowImages] = useState(false);
  const inlineImages = useInlineImages(html);
  const rendered = useMemo(
    () => (html && inlineImages.ready ? mailDocument(html, showImages, inlineImages.byPath) : null),
    [html, showImages, inlineImages.ready, inlineImages.byPath],
  );
  if (html && !inlineImages.ready) return <Loading label="Loading the message’s images…" minHeight="28rem" />;
  if (!rendered) return <pre className="mail-text">{text || "(This message has no text.)"}</pre>;
  return (
    <div className="mail-body">
      {rendered.remoteImages > 0 && !showImages ? (
        <div className="mail-images-bar">
          <span>
            {rendered.remoteImages === 1 ? "1 remote image is" : `${rendered.remoteImages} remote images are`} hidden: loading them tells the sender you read
            the message.
          </span>
          <button type="button" onClick={() => setShowImages(true)}>
            Show images
          </button>
        </div>
      ) : null}
      <iframe
        className="mail-frame"
        title="Message body"
        // no allow-scripts, no allow-same-origin: see mailDocument; links open in a new tab, outside the sandbox
        sandbox="allow-popups allow-popups-to-escape-sandbox"
        referrerPolicy="no-referrer"
        srcDoc={rendered.doc}
      />
    </div>
  );
}
