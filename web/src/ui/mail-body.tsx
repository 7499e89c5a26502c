import { useEffect, useMemo, useState } from "react";

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
const noImages: ReadonlyMap<string, string> = new Map();

/** The data: URL of one inline image, or null when it is not an image or too big to inline. */
async function inlineImage(path: string): Promise<string | null> {
  const res = await fetch(path, { credentials: "same-origin" });
  const blob = await res.blob();
  if (!res.ok || !/^image\/(png|jpeg|gif|webp|bmp)$/.test(blob.type) || blob.size > inlineImageLimit) return null;
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === "string" ? reader.result : null);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(blob);
  });
}

/**
 * The mail's inline (cid:) images as data: URLs: the frame may load nothing from Mailroom (it has no
 * origin, and its CSP allows data: images only), so Mailroom's page fetches them with its session.
 */
function useInlineImages(html: string | null): ReadonlyMap<string, string> {
  const [images, setImages] = useState<{ html: string | null; byPath: ReadonlyMap<string, string> }>({ html: null, byPath: noImages });
  useEffect(() => {
    if (!html) return;
    const paths = [...new DOMParser().parseFromString(html, "text/html").querySelectorAll("img[src]")]
      .map((img) => img.getAttribute("src") ?? "")
      .filter((src) => attachmentPath.test(src));
    if (paths.length === 0) return;
    let live = true;
    void Promise.all([...new Set(paths)].map(async (path) => [path, await inlineImage(path).catch(() => null)] as const)).then((found) => {
      if (!live) return;
      setImages({ html, byPath: new Map(found.filter((f): f is readonly [string, string] => f[1] !== null)) });
    });
    return () => {
      live = false;
    };
  }, [html]);
  return images.html === html ? images.byPath : noImages;
}

/** A mail's body: its sanitized HTML in a sandboxed frame, or its text. */
export function MailBody({ html, text }: { html: string | null; text: string }) {
  const [showImages, setShowImages] = useState(false);
  const inlineImages = useInlineImages(html);
  const rendered = useMemo(() => (html ? mailDocument(html, showImages, inlineImages) : null), [html, showImages, inlineImages]);
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
